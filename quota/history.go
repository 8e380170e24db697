package quota

// MaxPerAgent is the most sends Record keeps per agent in one contact's
// history; beyond it the agent's oldest send is dropped. It equals MaxMax, and
// that is what keeps decisions exact while bounding the history.
//
// Why nothing a decision needs is dropped: Decide only ever needs the newest
// Max <= MaxMax live sends of a scope key (the attempt is blocked iff n >= Max,
// and RetryAt uses t[n-Max], the Max-th newest, or the oldest when n = Max-1).
// Record drops a send only when MaxPerAgent newer sends of the same agent are
// kept. So the newest MaxMax sends of every agent, and therefore also the
// newest MaxMax sends of the whole contact, are always in the history, and
// every verdict, Remaining and RetryAt is exact under both scopes, for every
// decision at or after the newest recorded send. Only Used saturates: past
// MaxMax it may count fewer sends than were really made.
//
// Two uses can look behind a dropped send and so are not exact in that case:
// Usage at an instant before some of the newer sends, and a Release of one of
// the newer sends of the same agent (the released slot is not refilled by the
// forgotten older send). Both need one agent to have had more than
// MaxPerAgent sends in one contact's history. While the limit is enabled and
// the caller expires the history before recording, the history holds only
// live sends, at most Max <= MaxMax per scope key, so this happens only after
// sends piled up while the limit was disabled.
const MaxPerAgent = MaxMax

// MaxSends bounds a contact's whole history (all agents together): beyond it
// the oldest send is dropped, whatever its agent. It keeps a history's
// stored value well under Kafka's 1 MB record limit (ids are up to 256
// bytes). The newest MaxMax sends of the contact are always kept, so
// decisions under scope contact stay exact; under scope agent_contact they
// stay exact unless more than MaxSends sends of other agents were made to
// the same contact within one window, after the agent's own.
const MaxSends = 2 * MaxMax

// Record adds an allowed send to a contact's history and returns the new
// history. sends must be ascending by At; so is the result. A send with At at
// or after the last one is appended; an earlier one is inserted after every
// send with the same or an earlier At (stable). If s.Agent then has more than
// MaxPerAgent sends, its oldest ones are dropped until it has MaxPerAgent.
//
// Record may reuse the backing array of sends, as append does: use the
// returned slice. It allocates only when the array must grow. It does not
// check attempt ids: recording an attempt twice counts it twice (idempotency
// is the caller's).
func Record(sends []Send, s Send) []Send {
	i := len(sends)
	if i > 0 && sends[i-1].At > s.At {
		i = firstAfter(sends, s.At)
	}
	sends = append(sends, Send{})
	copy(sends[i+1:], sends[i:])
	sends[i] = s
	if len(sends) > MaxPerAgent {
		sends = capAgent(sends, s.Agent)
	}
	if n := len(sends) - MaxSends; n > 0 {
		sends = append(sends[:0], sends[n:]...)
	}
	return sends
}

// capAgent drops the oldest sends of agent until it has at most MaxPerAgent,
// keeping the order of the others, in place.
func capAgent(sends []Send, agent string) []Send {
	excess := -MaxPerAgent
	for i := range sends {
		if sends[i].Agent == agent {
			excess++
		}
	}
	if excess <= 0 {
		return sends
	}
	w := 0
	for _, x := range sends {
		if excess > 0 && x.Agent == agent {
			excess--
			continue
		}
		sends[w] = x
		w++
	}
	clear(sends[w:]) // let the dropped strings be collected
	return sends[:w]
}

// Release removes the send of attempt from a contact's history: the attempt's
// send failed, so its slot is free again. It returns the new history and
// whether the attempt was found; when it was not (an unknown or blocked
// attempt, or one already released or dropped by Expire or the per-agent cap)
// the history is returned unchanged. The order
// of the remaining sends is kept.
//
// Release may reuse the backing array of sends: use the returned slice. It
// does not allocate.
func Release(sends []Send, attempt string) ([]Send, bool) {
	// Failures are usually reported soon after the send: search from the
	// newest.
	for i := len(sends) - 1; i >= 0; i-- {
		if sends[i].Attempt == attempt {
			copy(sends[i:], sends[i+1:])
			sends[len(sends)-1] = Send{}
			return sends[:len(sends)-1], true
		}
	}
	return sends, false
}

// Expire drops the sends that have left the window at now, those with
// At+windowMs <= now, and returns the rest. sends must be ascending by At.
// No decision at now or later under the same window counts a dropped send;
// after the window grows, sends dropped earlier stay forgotten (the contract
// allows this).
//
// Expire may reuse the backing array of sends (it moves the kept sends to its
// start): use the returned slice. It does not allocate.
func Expire(sends []Send, windowMs, now int64) []Send {
	i := firstAfter(sends, now-windowMs) // sends[:i] have At+window <= now
	if i == 0 {
		return sends
	}
	n := copy(sends, sends[i:])
	clear(sends[n:]) // let the dropped strings be collected
	return sends[:n]
}

// Expires reports whether Expire(sends, windowMs, now) would drop a send,
// without changing sends: whether its oldest send has left the window.
func Expires(sends []Send, windowMs, now int64) bool {
	return len(sends) > 0 && sends[0].At+windowMs <= now
}

// ExpiresAt returns the instant (Unix ms) at which every send of the history
// will have left a window of windowMs: the last At plus windowMs, or 0 when
// sends is empty. sends must be ascending by At. From that instant the history
// can be deleted, unless the window grows first.
func ExpiresAt(sends []Send, windowMs int64) int64 {
	if len(sends) == 0 {
		return 0
	}
	return sends[len(sends)-1].At + windowMs
}
