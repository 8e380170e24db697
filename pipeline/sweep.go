package pipeline

import "math"

// sweeper schedules the expiry sweep of one owned partition's state
// (state.Batch.Sweep): how many entries each batch's sweep examines, from
// where, and when the sweep may rest.
//
// While it runs, the sweep keeps pace with the writes: it owes two entries
// per record processed (each record writes at most two new entries) and
// examines what it owes once that is at least the configured step.
//
// It rests when it knows that nothing can be expired: a completed pass
// (from the partition's first entry to its last) saw the earliest expiry
// of every entry it kept, and every entry written since the pass began was
// written by a batch that reported its earliest expiry. The least of those,
// restUntil, is a bound no entry of the partition expires before; until the
// decision time reaches it, a sweep would examine entries only to keep them
// all. Entries written while it rests lower the bound when they expire
// earlier. When the decision time reaches it, a new pass starts from the
// first entry, at the usual pace (nothing is owed for the rest).
//
// Decisions never depend on the sweep (an expired entry counts as gone
// whether or not it was deleted), so resting changes only when expired
// entries are deleted, never what is decided; and an entry is deleted by
// the first pass after its expiry, as without the rest.
//
// The bound is known only for writes this sweeper saw: a partition that
// starts (after a restore, a catch-up or a standby's following) has a new
// sweeper, which rests only after its first pass.
type sweeper struct {
	// cursor is where the next sweep starts (nil: a new pass).
	cursor []byte
	// debt is how many entries the running sweep owes.
	debt int
	// passMin is the earliest expiry among the entries the current pass
	// kept and the entries written since it began (math.MaxInt64: none).
	passMin int64
	// restUntil is 0 before a first pass completed; then no entry of the
	// partition expires before it.
	restUntil int64
}

func newSweeper() sweeper { return sweeper{passMin: math.MaxInt64} }

// plan returns how many entries the sweep of a batch of n records at
// decision time now examines (0: none), examining at least step at once.
func (s *sweeper) plan(n int, now int64, step int) int {
	if s.resting(now) {
		return 0
	}
	if owed := s.debt + 2*n; owed >= step {
		return owed
	}
	return 0
}

func (s *sweeper) resting(now int64) bool { return s.restUntil > 0 && now < s.restUntil }

// done records what a committed batch of n records at decision time now
// did: its sweep of examined entries (plan's answer), which kept entries
// expiring at earliest or later and returned cursor next; and its writes,
// expiring at written or later (math.MaxInt64: it wrote nothing that
// expires).
func (s *sweeper) done(n int, now int64, examined int, next []byte, earliest, written int64) {
	switch {
	case s.resting(now):
		s.restUntil = min(s.restUntil, written)
	case examined == 0:
		s.debt += 2 * n
		s.passMin = min(s.passMin, written)
	default:
		s.debt = 0
		s.cursor = next
		s.passMin = min(s.passMin, earliest, written)
		if next == nil { // the pass is complete
			s.restUntil, s.passMin = s.passMin, math.MaxInt64
		}
	}
}
