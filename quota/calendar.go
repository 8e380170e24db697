package quota

import "time"

// period returns the calendar period of c in zone that holds instant t (Unix
// ms): its first instant, and the first instant of the next period, which is
// when the rule's sends stop counting.
//
// A local day starts at its first instant, which is 00:00 except on a day
// whose midnight falls in a daylight saving time gap (the day then starts at
// the transition). A week starts on Monday, a month on the first.
func period(c Calendar, zone *time.Location, t int64) (start, next int64) {
	y, m, d := time.UnixMilli(t).In(zone).Date()
	switch c {
	case Week:
		wd := time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Weekday()
		d -= (int(wd) + 6) % 7 // back to Monday
		return dayStart(zone, y, m, d), dayStart(zone, y, m, d+7)
	case Month:
		return dayStart(zone, y, m, 1), dayStart(zone, y, m+1, 1)
	}
	return dayStart(zone, y, m, d), dayStart(zone, y, m, d+1)
}

// dayStart returns the first instant (Unix ms) of local day y-m-d in zone; d
// and m may be out of range, and are normalized as by time.Date.
func dayStart(zone *time.Location, y int, m time.Month, d int) int64 {
	y, m, d = time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Date() // normalize
	s := time.Date(y, m, d, 0, 0, 0, 0, zone)
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
