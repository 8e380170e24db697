package quota

import "time"

// periodStart returns the first instant (Unix ms) of the calendar period of c
// in zone that holds instant t, and periodEnd the first instant of the next
// period, which is when the sends of the period stop counting.
//
// A local day starts at its first instant, which is 00:00 except on a day
// whose midnight falls in a daylight saving time gap (the day then starts at
// the transition). A week starts on Monday, a month on the first.
func periodStart(c Calendar, zone *time.Location, t int64) int64 {
	y, m, d := firstDay(c, zone, t)
	return dayStart(zone, y, m, d)
}

// periodEnd: see periodStart.
func periodEnd(c Calendar, zone *time.Location, t int64) int64 {
	y, m, d := firstDay(c, zone, t)
	switch c {
	case Week:
		d += 7
	case Month:
		m++
	default:
		d++
	}
	return dayStart(zone, y, m, d)
}

// firstDay returns the local date of the first day of t's period.
func firstDay(c Calendar, zone *time.Location, t int64) (int, time.Month, int) {
	lt := time.UnixMilli(t).In(zone)
	y, m, d := lt.Date()
	switch c {
	case Week:
		d -= (int(lt.Weekday()) + 6) % 7 // back to Monday
	case Month:
		d = 1
	}
	return y, m, d
}

// dayStart returns the first instant (Unix ms) of local day y-m-d in zone; d
// and m may be out of range, and are normalized as by time.Date.
func dayStart(zone *time.Location, y int, m time.Month, d int) int64 {
	y, m, d = time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Date() // normalize
	s := time.Date(y, m, d, 0, 0, 0, 0, zone)
	if begin, end := s.ZoneBounds(); begin.Before(s.Add(-3*time.Hour)) && (end.IsZero() || end.After(s.Add(3*time.Hour))) {
		return s.UnixMilli() // no transition near midnight: the usual case
	}
	// time.Date does not say which offset it uses when local midnight does
	// not exist (a gap) or exists twice (a fold). Settle it: in a gap, the
	// day starts at the transition; in a fold, at the first midnight.
	if sy, sm, sd := s.Date(); sy != y || sm != m || sd != d {
		// s is in the previous day: midnight was skipped, and the day
		// starts where the zone in effect at s ends.
		_, end := s.ZoneBounds()
		if !end.IsZero() {
			s = end
		}
	}
	if begin, _ := s.ZoneBounds(); !begin.IsZero() {
		// If the instant just before this zone began is the same local
		// day, the day started in the zone before: at its midnight.
		before := begin.Add(-time.Millisecond)
		if by, bm, bd := before.Date(); by == y && bm == m && bd == d {
			_, off := before.Zone()
			first := time.Date(y, m, d, 0, 0, 0, 0, time.FixedZone("", off))
			if first.Before(begin) {
				s = first
			}
		}
	}
	return s.UnixMilli()
}
