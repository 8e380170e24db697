// Desk console: plain JavaScript modules, no build step, no dependencies.
// The page talks only to the console server (/api/...), which publishes to
// Kafka and reads the processor's query API. Formatting is in format.js,
// the rules editor in rules.js.
//
// This module is the page's one piece of state (below) and what reads and
// changes it, in sections by concept (the API, toasts, settings, contacts,
// sending, the verdict log, live updates); it is about 700 lines because
// the sections share that state, and splitting them into modules would
// pass it around everywhere.

import { $, el } from './dom.js';
import { clock, formatWait, formatWindow, nextSendTime } from './format.js';
import {
  clearRuleErrors, describeRules, fillRules, initRules, readRules, showRuleError, showShadowReports, syncRuleInputs,
} from './rules.js';

const state = {
  config: null,
  role: localStorage.getItem('desk.role') || 'agent',
  agent: localStorage.getItem('desk.agent') || '',
  category: localStorage.getItem('desk.category') || '', // template category, '' for none
  settings: null,   // the processor's settings body
  dirty: false,     // the settings form has unsaved edits
  selected: null,   // contact id
  contacts: new Map(), // contact id -> {info, q: quota view, seq, error}
  pending: false,   // a send is in flight
  seen: new Set(),  // attempt ids already in the verdict log
  shadow: new Map(), // shadow rule name -> {count, lastMs, contact}: what it would have blocked
};

// ---- times that change -------------------------------------------------

// countdown returns a span that counts down to untilMs, every second.
function countdown(untilMs) {
  const s = el('span', { class: 'countdown', 'data-until': String(untilMs) });
  s.textContent = formatWait(untilMs - Date.now());
  return s;
}

// timeAt returns the time of the next possible send, as nextSendTime
// writes it.
function timeAt(ms) {
  return el('time', { datetime: new Date(ms).toISOString(), 'data-at': String(ms), text: nextSendTime(ms) });
}

function tick() {
  const now = Date.now();
  for (const s of document.querySelectorAll('[data-until]')) {
    const left = Number(s.dataset.until) - now;
    s.textContent = left > 0 ? formatWait(left) : 'now';
  }
  for (const [id, c] of state.contacts) {
    if (c.q && c.q.limited && c.q.retryAtMs <= now && !c.expired) {
      c.expired = true; // a slot freed: ask the processor once
      refreshContact(id);
    }
  }
}

// ---- the API -----------------------------------------------------------

async function api(method, path, body) {
  const opts = { method, headers: { 'X-Desk-Role': state.role } };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, opts);
  } catch (e) {
    throw new Error(`the console server does not answer (${e.message})`);
  }
  let data = null;
  try { data = await resp.json(); } catch (_) { /* no JSON body */ }
  if (!resp.ok) {
    const err = new Error((data && data.error) || `${resp.status} ${resp.statusText}`);
    err.status = resp.status;
    err.data = data;
    throw err;
  }
  return data;
}

const role = () => state.config.roles.find((r) => r.id === state.role) || state.config.roles[0];
const person = (list, id) => list.find((p) => p.id === id);
const contactName = (id) => (person(state.config.contacts, id) || { name: id }).name;
const agentName = (id) => (person(state.config.agents, id) || { name: id || '—' }).name;
const categoryName = (c) => (c ? c[0].toUpperCase() + c.slice(1) : 'No category');

// ---- toasts ------------------------------------------------------------

const ICON_OK = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20Zm-1.2 14.6-4.3-4.3 1.4-1.4 2.9 2.9 6-6 1.4 1.4-7.4 7.4Z"/></svg>';
const ICON_ERR = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20Zm1 15h-2v-2h2v2Zm0-4h-2V7h2v6Z"/></svg>';

// toast shows a message; success toasts go away after a few seconds,
// error toasts stay until closed (at most three toasts are kept, in the
// bottom-right corner: over the verdict log, not the settings card).
function toast(kind, title, ...detail) {
  const box = $('#toasts');
  const msg = el('div', { class: 'msg' }, el('strong', {}, ...[].concat(title)), ...detail);
  const close = el('button', { class: 'close', type: 'button', 'aria-label': 'Dismiss', text: '×' });
  const t = el('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status', 'data-testid': `toast-${kind}` });
  t.innerHTML = kind === 'error' ? ICON_ERR : ICON_OK;
  t.append(msg, close);
  close.addEventListener('click', () => t.remove());
  box.prepend(t);
  while (box.children.length > 3) box.lastElementChild.remove();
  if (kind !== 'error') setTimeout(() => t.remove(), 6000);
  return t;
}

// ---- settings: the limit and its default rule ----------------------------

function applyRole() {
  const r = role();
  $('#role').value = r.id;
  // Nothing is editable before the settings in force are known.
  $('#settings-fields').disabled = !r.can_edit_settings || !state.settings;
  $('#readonly-note').hidden = r.can_edit_settings;
  $('#settings-card').classList.toggle('readonly', !r.can_edit_settings);
  // What shadow rules would have blocked is for the admin only.
  document.body.classList.toggle('admin', r.can_edit_settings);
}

function fillSettings(s) {
  state.settings = s;
  state.dirty = false;
  const am = s.active_messages;
  $('#limit-enabled').checked = am.limit_enabled;
  if (am.max_per_contact) $('#max').value = am.max_per_contact;
  else if ($('#max').value === '') $('#max').defaultValue = '3'; // a suggestion, for when the limit is enabled
  const hours = am.window_seconds % 3600 === 0;
  $('#window-unit').value = hours ? '3600' : '1';
  $('#window').value = hours ? am.window_seconds / 3600 : am.window_seconds;
  for (const r of document.querySelectorAll('input[name=scope]')) r.checked = r.value === am.scope;
  fillRules(am.rules, am.exempt_categories);
  renderShadow();
  syncSettingsInputs();
  settingsLoaded();
  settingsStatus(s.version === 0
    ? 'Not configured yet (version 0): the limit is off.'
    : `Version ${s.version} in force.`);
}

// settingsLoaded ends the loading state of the settings card.
function settingsLoaded() {
  const card = $('#settings-card');
  card.classList.remove('loading');
  card.setAttribute('aria-busy', 'false');
  applyRole();
}

function syncSettingsInputs() {
  const on = $('#limit-enabled').checked;
  for (const sel of ['#max', '#window', '#window-unit']) $(sel).disabled = !on;
  for (const r of document.querySelectorAll('input[name=scope]')) r.disabled = !on;
  syncRuleInputs(on);
}

function settingsStatus(text, isError) {
  const s = $('#settings-status');
  s.textContent = text;
  s.classList.toggle('error-text', !!isError);
  s.style.color = isError ? 'var(--error)' : '';
}

async function loadSettings() {
  try {
    fillSettings(await api('GET', '/api/settings'));
  } catch (e) {
    $('#settings-card').setAttribute('aria-busy', 'false');
    settingsStatus(`Cannot load the settings: ${e.message}`, true);
  }
}

function readForm() {
  const enabled = $('#limit-enabled').checked;
  const max = Number($('#max').value);
  const windowSeconds = Math.round(Number($('#window').value) * Number($('#window-unit').value));
  const scope = (document.querySelector('input[name=scope]:checked') || { value: 'contact' }).value;
  const maxOK = Number.isInteger(max) && max >= 1 && max <= 1000;
  const errors = [];
  if (enabled && !maxOK) errors.push('the maximum per customer must be a whole number from 1 to 1000');
  if (!(windowSeconds >= 60 && windowSeconds <= 2592000)) errors.push('the window must be 1 minute to 30 days (60 to 2,592,000 seconds)');
  $('#max').setAttribute('aria-invalid', String(enabled && !maxOK));
  const { rules, exempt_categories, errors: ruleErrors } = readRules();
  return {
    errors,
    ruleErrors,
    body: {
      base_version: state.settings ? state.settings.version : undefined,
      limit_enabled: enabled,
      max_per_contact: maxOK ? max : 0,
      window_seconds: windowSeconds,
      scope,
      rules,
      exempt_categories,
    },
  };
}

// showFormError puts an error of the console server's validation on what
// it is about: a rule, the exempt categories or a field of the default
// rule.
function showFormError(e) {
  if (showRuleError(e)) return;
  const input = { max_per_contact: '#max', window_seconds: '#window' }[e.field];
  if (input) $(input).setAttribute('aria-invalid', 'true');
}

async function saveSettings(ev) {
  ev.preventDefault();
  clearRuleErrors();
  const { errors, ruleErrors, body } = readForm();
  if (errors.length) {
    settingsStatus(`Not saved: ${errors.join('; ')}.`, true);
    return;
  }
  if (ruleErrors.length) {
    showRuleError(ruleErrors[0]);
    settingsStatus(`Not saved: rule ${ruleErrors[0].rule + 2}: ${ruleErrors[0].rule_error}.`, true);
    return;
  }
  $('#save').disabled = true;
  settingsStatus('Saving…');
  try {
    const r = await api('PUT', '/api/settings', body);
    if (r.applied) {
      fillSettings(r.settings);
      settingsStatus(`Saved: version ${r.version} is in force.`);
    } else {
      state.dirty = false;
      settingsStatus(`Published version ${r.version}; the processor has not applied it yet.`);
      setTimeout(loadSettings, 1000);
    }
    toast('success', 'Settings saved', el('div', { text: describeLimit(body) }));
    refreshAll();
  } catch (e) {
    settingsStatus(`Not saved: ${e.message}`, true);
    if (e.status === 400 && e.data) showFormError(e.data);
    toast('error', 'The settings were not saved', el('div', { text: e.message }));
    if (e.status === 409) loadSettings();
  } finally {
    $('#save').disabled = false;
  }
}

function describeLimit(b) {
  if (!b.limit_enabled) return 'The limit is off: active messages are counted but never blocked.';
  const who = b.scope === 'agent_contact' ? 'per agent and customer' : 'per customer';
  return `At most ${b.max_per_contact} active messages ${who} in any ${formatWindow(b.window_seconds)}.` +
    describeRules(b.rules, b.exempt_categories);
}

// ---- settings: what the shadow rules would have blocked -----------------

// noteShadow counts, for the admin, the verdicts in which a shadow rule
// would have blocked the attempt (would_block), as this page saw them.
function noteShadow(v) {
  let changed = false;
  for (const r of v.rules || []) {
    if (r.mode !== 'shadow' || !r.would_block) continue;
    const s = state.shadow.get(r.name) || { count: 0, lastMs: 0, contact: '' };
    s.count++;
    if (v.decided_at_ms >= s.lastMs) { s.lastMs = v.decided_at_ms; s.contact = v.contact_id; }
    state.shadow.set(r.name, s);
    changed = true;
  }
  if (changed) renderShadow();
}

function renderShadow() {
  const reports = new Map();
  for (const [name, s] of state.shadow) {
    const n = s.count === 1 ? '1 send' : `${s.count} sends`;
    reports.set(name, `Shadow mode: would have blocked ${n} seen by this page, the last at ${clock(s.lastMs)} (${contactName(s.contact)}).`);
  }
  showShadowReports(reports);
}

// ---- contacts ----------------------------------------------------------

// A contact's quota view is what its row, the selection and the tooltips
// show: {enabled, used, limit, windowSeconds, limited, retryAtMs, exempt,
// rule, ruleLabel, rulePeriod}. The rule fields are set for bots with rules
// only (the binding rule), exempt for an exempt template category.
function quotaFromAPI(q) {
  const retryAtMs = q.retry_at ? Date.parse(q.retry_at) : 0;
  return {
    enabled: q.limit_enabled, used: q.used, limit: q.limit, windowSeconds: q.window_seconds,
    limited: !!(q.limit_enabled && q.remaining === 0 && retryAtMs), retryAtMs, exempt: !!q.exempt,
    rule: q.rule || '', ruleLabel: q.rule_label || '', rulePeriod: q.rule_period || '',
  };
}

function quotaFromVerdict(v) {
  return {
    enabled: v.limit_enabled, used: v.used, limit: v.limit, windowSeconds: v.window_seconds,
    limited: !!(v.limit_enabled && v.remaining === 0 && v.retry_at_ms > Date.now()), retryAtMs: v.retry_at_ms || 0,
    exempt: v.reason === 'exempt', rule: v.rule || '', ruleLabel: v.rule_label || '', rulePeriod: v.rule_period || '',
  };
}

async function refreshContact(id) {
  const c = state.contacts.get(id);
  const seq = ++c.seq; // only the latest request's answer is shown
  const qs = new URLSearchParams({ contact_id: id });
  if (state.agent) qs.set('agent_id', state.agent);
  if (state.category) qs.set('category', state.category);
  try {
    const q = await api('GET', `/api/quota?${qs}`);
    if (seq !== c.seq) return;
    c.q = quotaFromAPI(q);
    c.error = '';
    c.expired = false;
  } catch (e) {
    if (seq !== c.seq) return;
    c.error = e.message;
  }
  renderContact(id);
}

function refreshAll() {
  for (const id of state.contacts.keys()) refreshContact(id);
}

// applyVerdict shows a verdict's outcome on its contact at once, then
// asks the processor for the contact's quota to be sure. The verdict of a
// bot with rules depends on the attempt's template category, which verdicts
// do not echo: only those of this page's own sends (own) are shown at once.
function applyVerdict(v, own) {
  if (v.verdict === 'rejected' || v.bot_id !== state.config.bot_id) return;
  const c = state.contacts.get(v.contact_id);
  if (!c) return;
  const byCategory = v.rule || v.reason === 'exempt';
  if ((v.scope === 'agent_contact' && v.agent_id !== state.agent) || (byCategory && !own)) {
    refreshContact(v.contact_id);
    return;
  }
  c.seq++; // an answer to an earlier request is older than this verdict
  c.q = quotaFromVerdict(v);
  c.expired = false;
  renderContact(v.contact_id);
  refreshContact(v.contact_id);
}

// limitReached is what the agent reads while a contact is at its limit:
// for a bot with rules, the binding rule and when it frees ("Weekly limit
// (5 per 7 days) reached. Next send possible Mon 09:00"); otherwise the
// time left.
function limitReached(q) {
  if (q.ruleLabel) return [`${q.ruleLabel} reached. Next send possible `, timeAt(q.retryAtMs)];
  return ['You can send a new active message to this contact in ', countdown(q.retryAtMs)];
}

// showLimit fills a tooltip with limitReached, unless it shows that already
// (a countdown ticks by itself), so that an open tooltip stays as it is.
function showLimit(tip, q) {
  const key = q.ruleLabel ? `${q.ruleLabel} ${nextSendTime(q.retryAtMs)}` : String(q.retryAtMs);
  if (tip.dataset.key === key) return;
  tip.dataset.key = key;
  tip.replaceChildren(...limitReached(q));
}

// syncWarn puts the warning icon with its tooltip into box while the
// contact is at its limit, and removes it otherwise. An icon already there
// is kept (only its countdown target changes), so that an open tooltip
// stays open when the contact's quota is refreshed.
function syncWarn(box, c, tipID) {
  let w = box.querySelector('.warn');
  if (!c.q || !c.q.limited) {
    if (w) w.remove();
    return;
  }
  if (!w) {
    w = $('#warn-icon').content.firstElementChild.cloneNode(true);
    w.querySelector('.tooltip').id = tipID;
    w.setAttribute('aria-label', 'Active message limit reached');
    box.append(w);
  }
  showLimit(w.querySelector('.tooltip'), c.q);
}

function usageText(c) {
  if (c.error) return 'quota unavailable';
  if (!c.q) return '…';
  if (!c.q.enabled) return `${c.q.used} sent · no limit`;
  if (c.q.exempt) return `${c.q.used} sent · exempt`;
  return `${c.q.used} of ${c.q.limit} used`;
}

function renderContact(id) {
  const c = state.contacts.get(id);
  const li = c.row;
  const limited = !!(c.q && c.q.limited);
  li.classList.toggle('limited', limited);
  li.setAttribute('aria-checked', String(state.selected === id));
  li.tabIndex = state.selected === id || (!state.selected && li === li.parentElement.firstElementChild) ? 0 : -1;
  const usage = li.querySelector('.usage');
  usage.textContent = usageText(c);
  usage.title = c.error || '';
  syncWarn(li.querySelector('.warn-slot'), c, `tip-${c.index}`);
  if (limited) li.setAttribute('aria-describedby', `tip-${c.index}`);
  else li.removeAttribute('aria-describedby');
  if (state.selected === id) renderSelection();
}

function renderSelection() {
  const btn = $('#contact-button');
  const name = $('#contact-button-name');
  const line = $('#quota-line');
  $('#send').disabled = state.pending || !state.selected || !state.agent;
  if (!state.selected) {
    syncWarn(btn, {}, 'contact-button-tip');
    syncSendTip(null, false);
    btn.classList.remove('limited');
    name.textContent = 'choose a contact below';
    line.textContent = '';
    return;
  }
  const c = state.contacts.get(state.selected);
  name.textContent = `${c.info.name} · ${c.info.phone}`;
  const limited = !!(c.q && c.q.limited);
  btn.classList.toggle('limited', limited);
  syncWarn(btn, c, 'contact-button-tip');
  syncSendTip(c, limited);
  if (c.error) {
    line.textContent = `Cannot read this contact's quota: ${c.error}`;
  } else if (!c.q) {
    line.textContent = '';
  } else if (!c.q.enabled) {
    line.textContent = `The limit is off for this bot: ${c.q.used} active message(s) counted in the last ${formatWindow(c.q.windowSeconds)}, none blocked.`;
  } else if (c.q.exempt) {
    line.textContent = `${categoryName(state.category)} templates are exempt: never blocked, not counted.`;
  } else if (c.q.ruleLabel && limited) {
    line.replaceChildren(`${c.q.used} of ${c.q.limit} active messages used ${c.q.rulePeriod}. `, ...limitReached(c.q), '.');
  } else if (c.q.ruleLabel) {
    line.textContent = `${c.q.ruleLabel}: ${c.q.used} of ${c.q.limit} active messages used ${c.q.rulePeriod}, ${c.q.limit - c.q.used} left.`;
  } else if (limited) {
    line.replaceChildren(`${c.q.used} of ${c.q.limit} active messages used in the last ${formatWindow(c.q.windowSeconds)}. Next send possible in `, countdown(c.q.retryAtMs), '.');
  } else {
    line.textContent = `${c.q.used} of ${c.q.limit} active messages used in the last ${formatWindow(c.q.windowSeconds)}; ${c.q.limit - c.q.used} left.`;
  }
}

// syncSendTip gives the send button, while the selected contact is at its
// limit, the tooltip of the warning icon (shown on hover and on keyboard
// focus) as its description.
function syncSendTip(c, limited) {
  const send = $('#send'), tip = $('#send-tip');
  send.closest('.send-wrap').classList.toggle('limited', limited);
  if (!limited) {
    send.removeAttribute('aria-describedby');
    tip.replaceChildren();
    delete tip.dataset.key;
    return;
  }
  send.setAttribute('aria-describedby', 'send-tip');
  showLimit(tip, c.q);
}

function select(id, focus) {
  state.selected = id;
  localStorage.setItem('desk.contact', id);
  for (const cid of state.contacts.keys()) renderContact(cid);
  renderSelection();
  if (focus) state.contacts.get(id).row.focus();
}

function buildContacts() {
  const ul = $('#contacts');
  state.config.contacts.forEach((info, index) => {
    const initials = info.name.split(/\s+/).map((w) => w[0]).slice(0, 2).join('');
    const li = el('li', { class: 'contact', role: 'radio', 'aria-checked': 'false', 'data-contact-id': info.id, tabindex: '-1' },
      el('span', { class: 'avatar', 'aria-hidden': 'true', text: initials }),
      el('span', { class: 'who' }, el('span', { class: 'name', text: info.name }), el('span', { class: 'wa', text: `WhatsApp ${info.phone}` })),
      el('span', { class: 'usage', text: '…' }),
      el('span', { class: 'warn-slot' }));
    li.querySelector('.avatar').style.background = ['#1968f0', '#8e44ad', '#16a085', '#d35400', '#2c3e50'][index % 5];
    li.addEventListener('click', () => select(info.id));
    li.addEventListener('keydown', (e) => {
      const ids = [...state.contacts.keys()];
      const i = ids.indexOf(info.id);
      if (e.key === ' ' || e.key === 'Enter') { e.preventDefault(); select(info.id); }
      if (e.key === 'ArrowDown' || e.key === 'ArrowRight') { e.preventDefault(); select(ids[(i + 1) % ids.length], true); }
      if (e.key === 'ArrowUp' || e.key === 'ArrowLeft') { e.preventDefault(); select(ids[(i + ids.length - 1) % ids.length], true); }
    });
    ul.append(li);
    state.contacts.set(info.id, { info, index, row: li, q: null, seq: 0, error: '' });
  });
}

// ---- sending -----------------------------------------------------------

async function send() {
  const contact = state.selected, agent = state.agent, category = state.category;
  if (!contact || !agent || state.pending) return;
  state.pending = true;
  const btn = $('#send');
  btn.disabled = true;
  btn.lastChild.textContent = ' Sending…';
  try {
    const v = await api('POST', '/api/send', { agent_id: agent, contact_id: contact, category });
    addLog(v);
    if (category === state.category) applyVerdict(v, true);
    showVerdict(v);
  } catch (e) {
    toast('error', 'The active message was not sent', el('div', { text: e.message }));
  } finally {
    state.pending = false;
    btn.lastChild.textContent = ' Send active message';
    renderSelection();
  }
}

function showVerdict(v) {
  if (v.rule) showRuleVerdict(v);
  else if (v.reason === 'exempt') {
    toast('success', `Active message sent to ${contactName(v.contact_id)}`,
      el('div', { text: 'Its template category is exempt from the limit: not counted.' }));
  } else showLimitVerdict(v);
}

// showLimitVerdict shows the verdict of a bot without rules.
function showLimitVerdict(v) {
  const name = contactName(v.contact_id);
  const win = v.window_seconds ? formatWindow(v.window_seconds) : '';
  if (v.verdict === 'allowed') {
    let detail;
    if (v.reason === 'limit_disabled') detail = el('div', { text: 'The limit is off for this bot.' });
    else if (v.remaining === 0) detail = el('div', {}, `${v.used} of ${v.limit} used in the last ${win}: that was the last one for now. Next send possible in `, countdown(v.retry_at_ms), '.');
    else detail = el('div', { text: `${v.used} of ${v.limit} used in the last ${win}; ${v.remaining} left.` });
    toast('success', `Active message sent to ${name}`, detail);
  } else if (v.verdict === 'blocked') {
    const who = v.scope === 'agent_contact' ? `${agentName(v.agent_id)} already sent` : 'Your team already sent';
    toast('error', ['Active message limit reached for this contact. Try again in ', countdown(v.retry_at_ms), '.'],
      el('div', { class: 'muted', text: `${who} ${v.used} of ${v.limit} active messages to ${name} in the last ${win}. Not sent.` }));
  } else {
    toast('error', 'The send was rejected', el('div', { text: v.error || v.reason }));
  }
}

// showRuleVerdict shows the verdict of a bot with rules, naming the
// binding rule. Shadow rules are not the agent's concern: they never block.
function showRuleVerdict(v) {
  const name = contactName(v.contact_id);
  const q = quotaFromVerdict(v);
  if (v.verdict === 'allowed') {
    const detail = v.remaining === 0
      ? el('div', {}, `${v.rule_label}: ${v.used} of ${v.limit} used ${v.rule_period}, that was the last one for now. Next send possible `, timeAt(v.retry_at_ms), '.')
      : el('div', { text: `${v.rule_label}: ${v.used} of ${v.limit} used ${v.rule_period}, ${v.remaining} left.` });
    toast('success', `Active message sent to ${name}`, detail);
    return;
  }
  const who = v.scope === 'agent_contact' ? `${agentName(v.agent_id)} already sent` : 'Your team already sent';
  toast('error', limitReached(q),
    el('div', { class: 'muted', text: `${who} ${v.used} of ${v.limit} active messages to ${name} ${v.rule_period}. Not sent.` }));
}

// ---- the verdict log ---------------------------------------------------

function addLog(v) {
  if (state.seen.has(v.attempt_id)) return;
  state.seen.add(v.attempt_id);
  const tbody = $('#log tbody');
  const badge = el('span', { class: `badge ${v.verdict}`, text: v.verdict });
  const reason = el('span', { class: 'muted', text: ` ${v.reason.replace('_', ' ')}` });
  let used = '—';
  if (v.reason === 'exempt') used = `${v.used} (exempt)`;
  else if (v.verdict !== 'rejected') used = v.limit_enabled ? `${v.used}/${v.limit}` : `${v.used} (no limit)`;
  let next = '—';
  if (v.verdict === 'rejected') next = v.error || '';
  else if (v.retry_at_ms) next = clock(v.retry_at_ms);
  const tr = el('tr', { 'data-attempt-id': v.attempt_id, 'data-verdict': v.verdict },
    el('td', { text: clock(v.decided_at_ms) }),
    el('td', { text: v.contact_id ? contactName(v.contact_id) : '—', title: v.contact_id || '' }),
    el('td', { text: agentName(v.agent_id), title: v.agent_id || '' }),
    el('td', {}, badge, reason),
    el('td', { text: used }),
    el('td', { class: 'rule-cell', title: v.rule_label || '' }, v.rule || '—', ...shadowBadges(v)),
    el('td', { text: next, title: v.retry_at || '' }),
    el('td', { class: 'attempt', text: v.attempt_id }));
  tbody.prepend(tr);
  while (tbody.children.length > 100) tbody.lastElementChild.remove();
  $('#log-empty').hidden = true;
  noteShadow(v);
}

// shadowBadges marks, for the admin, the shadow rules that would have
// blocked the attempt.
function shadowBadges(v) {
  return (v.rules || []).filter((r) => r.mode === 'shadow' && r.would_block).map((r) =>
    el('span', { class: 'badge shadow admin-only', 'data-testid': 'would-block', title: `${r.used} of ${r.limit} used before this send`, text: `${r.name} would block` }));
}

// ---- live updates and status -------------------------------------------

function connectEvents() {
  const es = new EventSource('/api/events');
  let opened = false;
  es.addEventListener('open', () => {
    if (opened) { loadSettings(); refreshAll(); } // reconnected: resync
    opened = true;
  });
  es.addEventListener('verdict', (e) => {
    const v = JSON.parse(e.data);
    addLog(v);
    if (!v.replay) applyVerdict(v, false);
  });
  es.addEventListener('settings', (e) => {
    const d = JSON.parse(e.data);
    if (!state.dirty && (!state.settings || d.version > state.settings.version)) loadSettings();
    refreshAll();
  });
}

async function pollStatus() {
  const pill = $('#status');
  let cls = 'unreachable', text = 'console server unreachable', title = '';
  try {
    const s = await api('GET', '/api/status');
    cls = s.processor;
    text = { ready: 'processor ready', starting: 'processor starting…', unreachable: 'processor unreachable' }[s.processor] || s.processor;
    title = [s.detail, s.verdicts && `verdicts: ${s.verdicts}`].filter(Boolean).join('\n');
  } catch (e) {
    title = e.message;
  }
  const was = pill.dataset.state;
  pill.className = `status status-${cls}`;
  pill.dataset.state = cls;
  pill.title = title || `processor at ${state.config.processor_url}`;
  $('#status-text').textContent = text;
  if (was && was !== 'ready' && cls === 'ready') { loadSettings(); refreshAll(); }
}

// ---- start -------------------------------------------------------------

async function start() {
  try {
    state.config = await api('GET', '/api/config');
  } catch (e) {
    toast('error', 'Cannot load the console', el('div', { text: e.message }));
    return;
  }
  const cfg = state.config;
  $('#bot-id').textContent = cfg.bot_id;
  if (!cfg.roles.some((r) => r.id === state.role)) state.role = cfg.roles[0].id;
  for (const r of cfg.roles) $('#role').append(el('option', { value: r.id, text: r.label }));
  for (const a of cfg.agents) $('#agent').append(el('option', { value: a.id, text: `${a.name} (${a.id})` }));
  if (!person(cfg.agents, state.agent)) state.agent = cfg.agents[0].id;
  $('#agent').value = state.agent;
  for (const c of ['', ...cfg.categories]) $('#category').append(el('option', { value: c, text: c ? categoryName(c) : 'None' }));
  if (!cfg.categories.includes(state.category)) state.category = '';
  $('#category').value = state.category;
  initRules(cfg.categories, () => { state.dirty = true; });
  buildContacts();
  applyRole();

  $('#role').addEventListener('change', (e) => {
    state.role = e.target.value;
    localStorage.setItem('desk.role', state.role);
    applyRole();
  });
  $('#agent').addEventListener('change', (e) => {
    state.agent = e.target.value;
    localStorage.setItem('desk.agent', state.agent);
    refreshAll();
  });
  // Rules may count only some categories: the quota shown is the one of
  // the category chosen.
  $('#category').addEventListener('change', (e) => {
    state.category = e.target.value;
    localStorage.setItem('desk.category', state.category);
    refreshAll();
  });
  $('#settings-form').addEventListener('submit', saveSettings);
  $('#settings-form').addEventListener('input', () => { state.dirty = true; });
  $('#limit-enabled').addEventListener('change', syncSettingsInputs);
  $('#window-unit').addEventListener('change', (e) => {
    const v = Number($('#window').value);
    if (!Number.isFinite(v)) return;
    const unit = Number(e.target.value);
    const secs = unit === 1 ? v * 3600 : v;
    $('#window').value = unit === 1 ? Math.round(secs) : +(secs / 3600).toFixed(4);
  });
  $('#contact-button').addEventListener('click', () => {
    const c = state.selected ? state.contacts.get(state.selected).row : $('#contacts').firstElementChild;
    if (c) c.focus();
  });
  $('#send').addEventListener('click', send);
  // A tooltip that opens shows the time left as of now, not as of the
  // last tick.
  document.addEventListener('mouseover', (e) => { if (e.target.closest && e.target.closest('.warn')) tick(); });
  document.addEventListener('focusin', tick);

  const saved = localStorage.getItem('desk.contact');
  select(state.contacts.has(saved) ? saved : cfg.contacts[0].id);
  await pollStatus();
  loadSettings();
  refreshAll();
  connectEvents();
  setInterval(tick, 1000);
  setInterval(pollStatus, 5000);
  document.body.dataset.ready = 'true';
}

start();
