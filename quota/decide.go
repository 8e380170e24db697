package quota

// Decide is the rule: the verdict for an attempt by agent at decision time now
// (Unix ms), given the counted sends of its contact and the settings in force.
//
// sends are the contact's counted sends, all agents, ascending by At (the
// history kept with Record, Release and Expire); sends with At > now are
// ignored. The scope key's sends are all of them under ScopeContact and those
// with Agent == agent under ScopeAgentContact. A send is live at now when
// At <= now < At+s.WindowMs; n is the number of live sends of the scope key,
// and t[0..n-1] their times, ascending.
//
//   - Limit disabled: Allowed/LimitDisabled with Used = n+1 and Enabled,
//     Limit, Remaining, RetryAt and RetryAfterSeconds zero. The send still
//     counts: the caller records it.
//   - Enabled and n < Max: Allowed/WithinLimit, Used = n+1,
//     Remaining = Max-Used. When that makes Remaining 0, RetryAt is the instant
//     the next send becomes possible: t'[n+1-Max] + WindowMs, where t' is t
//     with now appended.
//   - Enabled and n >= Max (also when Max was lowered below n):
//     Blocked/LimitReached, Used = n, Remaining = 0 and
//     RetryAt = t[n-Max] + WindowMs, the instant this attempt would pass.
//
// RetryAt is set exactly when the limit is enabled and Remaining is 0; it is
// then later than now, and RetryAfterSeconds is (RetryAt-now)/1000 rounded
// up. An attempt by the same scope key at RetryAt-1 would be blocked and one at
// RetryAt allowed, if nothing else changes.
//
// Decide records nothing and does not allocate. It costs O(log len(sends))
// under ScopeContact and O(live sends) under ScopeAgentContact. Settings
// should satisfy Validate; an enabled Max outside MinMax..MaxMax is clamped
// into it.
//
// A bot with rules or exempt categories (Settings.HasRules) whose limit is
// enabled is decided by every rule that applies to the attempt's category
// instead, as described in rules.go; category ("" for none) matters only
// then.
func Decide(sends []Send, s Settings, agent, category string, now int64) Decision {
	if !s.Enabled {
		l := scan(sends, s.WindowMs, s.Scope, agent, now, 0)
		return Decision{Outcome: Allowed, Reason: LimitDisabled, Used: l.n + 1, Scope: s.Scope, WindowMs: s.WindowMs}
	}
	if s.HasRules() {
		return evaluate(sends, &s, agent, category, now, true)
	}
	limit := s.limit()
	l := scan(sends, s.WindowMs, s.Scope, agent, now, limit)
	d := Decision{Enabled: true, Limit: limit, Scope: s.Scope, WindowMs: s.WindowMs}
	if l.n >= limit {
		d.Outcome, d.Reason = Blocked, LimitReached
		d.Used = l.n
		d.setRetry(l.kth+s.WindowMs, now) // t[n-Max] + window
		return d
	}
	d.Outcome, d.Reason = Allowed, WithinLimit
	d.Used = l.n + 1
	d.Remaining = limit - d.Used
	if d.Remaining == 0 {
		// n = Max-1, so t'[n+1-Max] = t'[0]: the oldest live send, or this
		// one when there is none.
		first := now
		if l.n > 0 {
			first = l.oldest
		}
		d.setRetry(first+s.WindowMs, now)
	}
	return d
}
