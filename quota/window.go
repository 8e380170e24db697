package quota

// live summarizes the live sends of one scope key at an instant d: the sends
// with At <= d < At+window whose agent is in the scope.
type live struct {
	// n is the number of live sends.
	n int
	// oldest is t[0], the time of the oldest live send; valid when n > 0.
	oldest int64
	// kth is t[n-k], the time of the k-th newest live send; valid when
	// k > 0 and n >= k.
	kth int64
}

// scan finds the live sends at d of the scope key selected by scope and agent,
// in O(log len(sends)) for ScopeContact and O(live sends) for
// ScopeAgentContact. It needs sends ascending by At; it ignores sends later
// than d and never panics, whatever the input. It does not allocate.
func scan(sends []Send, windowMs int64, scope Scope, agent string, d int64, k int) live {
	if windowMs <= 0 {
		return live{}
	}
	hi := firstAfter(sends, d)               // sends[:hi] have At <= d
	lo := firstAfter(sends[:hi], d-windowMs) // sends[lo:hi] have At+window > d
	if scope != ScopeAgentContact {
		l := live{n: hi - lo}
		if l.n > 0 {
			l.oldest = sends[lo].At
		}
		if k > 0 && l.n >= k {
			l.kth = sends[hi-k].At
		}
		return l
	}
	var l live
	for i := hi - 1; i >= lo; i-- {
		if sends[i].Agent != agent {
			continue
		}
		l.n++
		if l.n == k {
			l.kth = sends[i].At
		}
		l.oldest = sends[i].At
	}
	return l
}

// firstAfter returns the index of the first send with At > t, or len(sends):
// with sends ascending by At, sends[:i] are those with At <= t.
func firstAfter(sends []Send, t int64) int {
	lo, hi := 0, len(sends)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if sends[m].At <= t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}
