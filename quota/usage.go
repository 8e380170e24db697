package quota

// Usage answers the quota query API: the state of the scope key of agent at
// instant at (Unix ms), evaluated over the sends with At <= at and recording
// nothing. sends and the scope key are as for Decide.
//
// Used is n, the number of sends live at at (At <= at < At+WindowMs).
// Outcome and Reason are what an attempt at at would get: Allowed/WithinLimit
// when n < Max, Blocked/LimitReached otherwise, Allowed/LimitDisabled when the
// limit is disabled. When the limit is enabled, Limit is Max and Remaining is
// max(Max-n, 0); when Remaining is 0, RetryAt = t[n-Max] + WindowMs (the
// instant an attempt would pass) and RetryAfterSeconds is (RetryAt-at)/1000
// rounded up. When the limit is disabled, Limit, Remaining, RetryAt and
// RetryAfterSeconds are 0.
//
// Usage answers from the history it is given, so at an instant in the past it
// misses the sends live then that have since been removed: released by
// Release (they no longer count), dropped by Expire (exact only for at no
// earlier than the instant the history was last expired at), or dropped by
// the per-agent cap (see MaxPerAgent). At or after those instants it is exact.
// It does not allocate.
//
// For a bot with rules or exempt categories whose limit is enabled, it is the
// decision of an attempt of category at at that would be allowed, counting
// nothing (rules.go).
func Usage(sends []Send, s Settings, agent, category string, at int64) Decision {
	if !s.Enabled {
		l := scan(sends, s.WindowMs, s.Scope, agent, at, 0)
		return Decision{Outcome: Allowed, Reason: LimitDisabled, Used: l.n, Scope: s.Scope, WindowMs: s.WindowMs}
	}
	if s.HasRules() {
		return evaluate(sends, &s, agent, category, at, false)
	}
	limit := s.limit()
	l := scan(sends, s.WindowMs, s.Scope, agent, at, limit)
	d := Decision{Enabled: true, Limit: limit, Used: l.n, Scope: s.Scope, WindowMs: s.WindowMs}
	if l.n < limit {
		d.Outcome, d.Reason = Allowed, WithinLimit
		d.Remaining = limit - l.n
		return d
	}
	d.Outcome, d.Reason = Blocked, LimitReached
	d.setRetry(l.kth+s.WindowMs, at) // t[n-Max] + window
	return d
}
