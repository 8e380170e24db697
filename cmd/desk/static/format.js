// Desk console: how waits, windows and times are written. Pure functions
// of their arguments (and of the browser's time zone), so that a test can
// import this module and call them.

// formatWait renders a wait in ms the way Desk does: "23h 59m", "4m 10s",
// "35s". Like a clock it drops what is below the last unit shown (a wait
// of 23:59:59.4 shows as 23h 59m), but never shows less than 1s while a
// send is still blocked.
export function formatWait(ms) {
  const s = Math.max(1, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${sec}s`;
  return `${sec}s`;
}

export function formatWindow(seconds) {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

// clock writes an instant of the verdict log: the time, with the date when
// it is not today.
export function clock(ms) {
  const d = new Date(ms);
  const sameDay = d.toDateString() === new Date().toDateString();
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return sameDay ? time : `${d.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${time}`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n) => String(n).padStart(2, '0');

// nextSendTime writes when a send becomes possible, in the browser's time
// zone: "at 14:31" today, "Mon 09:00" within the next six days, "Mon 12 Jan
// 09:00" further away. It rounds up to the minute, so that a send at the
// time shown is possible.
export function nextSendTime(ms, nowMs = Date.now()) {
  const d = new Date(Math.ceil(ms / 60000) * 60000);
  const now = new Date(nowMs);
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  const day = (t) => new Date(t.getFullYear(), t.getMonth(), t.getDate());
  const days = Math.round((day(d) - day(now)) / 86400000); // DST days are 23 or 25 h
  if (days === 0) return `at ${hm}`;
  if (days > 0 && days < 7) return `${DAYS[d.getDay()]} ${hm}`;
  return `${DAYS[d.getDay()]} ${d.getDate()} ${MONTHS[d.getMonth()]} ${hm}`;
}

// windowParts splits a rolling window into a value and the largest unit
// of the form's (seconds, hours, days) that divides it.
export function windowParts(seconds) {
  for (const unit of [86400, 3600]) if (seconds >= unit && seconds % unit === 0) return [seconds / unit, unit];
  return [seconds, 1];
}
