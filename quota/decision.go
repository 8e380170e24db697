package quota

import "fmt"

// Send is one counted send of a contact: an attempt that got an allowed
// verdict and has not been reported failed.
type Send struct {
	// At is the decision time, Unix ms.
	At int64
	// Agent is the agent that sent it.
	Agent string
	// Attempt is the attempt id (the idempotency key).
	Attempt string
}

// Outcome is the verdict of a decision. The zero value is not a valid
// Outcome.
type Outcome uint8

const (
	// Allowed means the send may go out; the caller records it.
	Allowed Outcome = iota + 1
	// Blocked means the limit is reached; nothing is recorded.
	Blocked
)

// String returns the wire name of the outcome: "allowed" or "blocked".
func (o Outcome) String() string {
	switch o {
	case Allowed:
		return "allowed"
	case Blocked:
		return "blocked"
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// Reason explains an Outcome. The zero value is not a valid Reason.
type Reason uint8

const (
	// WithinLimit: the limit is enabled and the send fits in it (Allowed).
	WithinLimit Reason = iota + 1
	// LimitDisabled: the limit is disabled; every attempt is Allowed and
	// still counted.
	LimitDisabled
	// LimitReached: the limit is enabled and already used up (Blocked).
	LimitReached
)

// String returns the wire name of the reason: "within_limit",
// "limit_disabled" or "limit_reached".
func (r Reason) String() string {
	switch r {
	case WithinLimit:
		return "within_limit"
	case LimitDisabled:
		return "limit_disabled"
	case LimitReached:
		return "limit_reached"
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Decision is the rule's answer for one attempt (Decide), or the state of a
// scope key at an instant (Usage). Its fields map one to one onto the
// verdict's wire fields verdict, reason, limit, used, remaining, retry_at and
// retry_after_seconds.
type Decision struct {
	// Outcome is the verdict: Allowed or Blocked.
	Outcome Outcome
	// Reason explains Outcome: WithinLimit or LimitDisabled when Allowed,
	// LimitReached when Blocked.
	Reason Reason
	// Enabled says whether the limit was enforced; Limit and Remaining are
	// meaningful only when it is (both are 0 otherwise).
	Enabled bool
	// Limit is X.
	Limit int
	// Used is the number of counted sends in the window for the scope key
	// after this decision (including this send when allowed).
	Used int
	// Remaining is Limit-Used, never below 0.
	Remaining int
	// RetryAt is the instant (Unix ms) a slot frees; it is set (non-zero)
	// exactly when the limit is enabled and Remaining is 0.
	RetryAt int64
	// RetryAfterSeconds is RetryAt minus the decision time in seconds,
	// rounded up; set exactly when RetryAt is.
	RetryAfterSeconds int64
}

// setRetry sets RetryAt and RetryAfterSeconds for a decision taken at now.
func (d *Decision) setRetry(retryAt, now int64) {
	d.RetryAt = retryAt
	d.RetryAfterSeconds = ceilSeconds(retryAt - now)
}

// ceilSeconds converts a duration in ms to seconds, rounding up (toward
// positive infinity): 1 ms -> 1 s, 1000 ms -> 1 s, 1001 ms -> 2 s.
func ceilSeconds(ms int64) int64 {
	s := ms / 1000 // truncates toward zero: already the ceiling when ms < 0
	if ms%1000 > 0 {
		s++
	}
	return s
}
