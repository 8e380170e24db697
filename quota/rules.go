package quota

// Several rules: a bot with rules or exempt categories (Settings.HasRules)
// whose limit is enabled is decided by every rule that applies to the
// attempt. The default rule (Max, WindowMs, Scope) applies to every attempt;
// a rule with Categories only to attempts of those categories, and it counts
// only sends of those categories.
//
// Per applicable rule, n is the number of its scope key's sends that count
// at the decision time d: for a rolling rule those with At <= d < At+window,
// for a calendar rule those with At <= d in the same period as d.
//
//   - An attempt whose category is exempt is Allowed/Exempt and not counted.
//   - The attempt is Blocked/LimitReached when an enforced rule has n >= Max;
//     shadow rules never block. Otherwise it is Allowed/WithinLimit and
//     counts for every applicable rule, shadow ones included.
//   - A rule's Used is n, plus this send when allowed; Remaining is
//     Max-Used, never below 0. When Remaining is 0, its RetryAt is when it
//     has a free slot again: for a rolling rule t[m-Max]+window over the m
//     counted times t (this send's included when allowed), for a calendar
//     rule the start of the next period.
//   - The binding rule, on a block, is the blocking rule with the latest
//     RetryAt; otherwise the enforced rule with the fewest remaining sends
//     (with none remaining: the latest RetryAt). Ties go to the earlier rule
//     in settings order, the default one first.
//   - The Decision's Limit, Used, Remaining, Scope and window are the binding
//     rule's. RetryAt is set when the binding rule has nothing remaining: the
//     latest RetryAt among the enforced rules with nothing remaining, the
//     instant at which every one of them has a slot again.
//
// Usage evaluates the same way an attempt that would be allowed, counting
// nothing: Used is n.

// tally is one rule's count at the decision time.
type tally struct {
	n int
	// kth and kth1 are t[n-Max] and t[n-Max+1] (the Max-th and
	// (Max-1)-th newest counted times), when n is large enough.
	kth, kth1 int64
}

// evaluate decides (count) or evaluates (!count) an attempt of agent and
// category at d under a bot with rules whose limit is enabled.
func evaluate(sends []Send, s *Settings, agent, category string, d int64, count bool) Decision {
	def := Rule{Name: DefaultRule, Max: s.limit(), WindowMs: s.WindowMs, Scope: s.Scope}
	hi := firstAfter(sends, d) // sends[:hi] have At <= d
	sends = sends[:hi]
	if s.IsExempt(category) {
		t := measure(sends, &def, agent, d)
		return Decision{Outcome: Allowed, Reason: Exempt, Enabled: true, Used: t.n, Scope: def.Scope, WindowMs: def.WindowMs}
	}

	var tallies [MaxRules]tally
	var rules [MaxRules]*Rule
	k := 0
	blocked := false
	for i := -1; i < len(s.Rules) && k < MaxRules; i++ {
		r := &def
		if i >= 0 {
			r = &s.Rules[i]
		}
		if !r.Applies(category) {
			continue
		}
		rules[k], tallies[k] = r, measure(sends, r, agent, d)
		if !r.Shadow && tallies[k].n >= r.Max {
			blocked = true
		}
		k++
	}
	counted := count && !blocked

	dec := Decision{Enabled: true, Outcome: Allowed, Reason: WithinLimit, Rules: make([]RuleUsage, k)}
	if blocked {
		dec.Outcome, dec.Reason = Blocked, LimitReached
	}
	bind := -1
	var retryAt int64
	for j := range k {
		r, t := rules[j], &tallies[j]
		u := RuleUsage{Name: r.Name, Shadow: r.Shadow, Limit: r.Max, Used: t.n}
		u.WouldBlock = r.Shadow && t.n >= r.Max
		if counted {
			u.Used++
		}
		u.Remaining = max(r.Max-u.Used, 0)
		if u.Remaining == 0 {
			switch {
			case r.Calendar != Rolling:
				u.RetryAt = periodEnd(r.Calendar, r.location(), d)
			case !counted:
				u.RetryAt = t.kth + r.WindowMs // t[n-Max]
			case r.Max == 1:
				u.RetryAt = d + r.WindowMs // this send is t'[n+1-Max]
			default:
				u.RetryAt = t.kth1 + r.WindowMs // t'[n+1-Max] = t[n-(Max-1)]
			}
		}
		dec.Rules[j] = u
		if r.Shadow {
			continue
		}
		if u.Remaining == 0 {
			retryAt = max(retryAt, u.RetryAt)
		}
		if bind < 0 || binds(u, dec.Rules[bind], blocked) {
			bind = j
		}
	}

	r, u := rules[bind], dec.Rules[bind]
	dec.Rule, dec.Limit, dec.Used, dec.Remaining = r.Name, u.Limit, u.Used, u.Remaining
	dec.Scope, dec.WindowMs, dec.Calendar = r.Scope, r.WindowMs, r.Calendar
	if r.Calendar != Rolling {
		dec.Zone = r.location()
	}
	if u.Remaining == 0 {
		dec.setRetry(retryAt, d)
	}
	return dec
}

// binds reports whether enforced rule u binds rather than cur, the binding
// one among the earlier rules in settings order (so ties keep cur).
func binds(u, cur RuleUsage, blocked bool) bool {
	if blocked {
		// Only blocking rules bind: at their limit before the decision,
		// which on a block is Remaining 0.
		if u.Remaining != 0 {
			return false
		}
		return cur.Remaining != 0 || u.RetryAt > cur.RetryAt
	}
	if u.Remaining != cur.Remaining {
		return u.Remaining < cur.Remaining
	}
	return u.Remaining == 0 && u.RetryAt > cur.RetryAt
}

// measure counts the sends of r's scope key that count at d; sends are those
// with At <= d, ascending.
func measure(sends []Send, r *Rule, agent string, d int64) tally {
	var t tally
	var lo int
	if r.Calendar != Rolling {
		start := periodStart(r.Calendar, r.location(), d)
		lo = firstAfter(sends, start-1) // sends[lo:] have At >= start
	} else {
		lo = firstAfter(sends, d-r.WindowMs) // sends[lo:] have At+window > d
	}
	live := sends[lo:]
	if r.Scope != ScopeAgentContact && r.Categories == nil {
		t.n = len(live)
		if t.n >= r.Max {
			t.kth = live[t.n-r.Max].At
		}
		if r.Max > 1 && t.n >= r.Max-1 {
			t.kth1 = live[t.n-r.Max+1].At
		}
		return t
	}
	for i := len(live) - 1; i >= 0; i-- {
		x := &live[i]
		if r.Scope == ScopeAgentContact && x.Agent != agent || !r.Applies(x.Category) {
			continue
		}
		t.n++
		switch t.n {
		case r.Max - 1:
			t.kth1 = x.At
		case r.Max:
			t.kth = x.At
		}
	}
	return t
}
