package quota

import (
	"fmt"
	"time"
)

// Send is one counted send of a contact: an attempt that got an allowed
// verdict and has not been reported failed.
type Send struct {
	// At is the decision time, Unix ms.
	At int64
	// Agent is the agent that sent it.
	Agent string
	// Attempt is the attempt id (the idempotency key).
	Attempt string
	// Category is the attempt's template category; "" for none.
	Category string
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
	// Exempt: the limit is enabled and the attempt's category is exempt
	// (Allowed); the send is not counted, so the caller does not record it.
	Exempt
)

// String returns the wire name of the reason: "within_limit",
// "limit_disabled", "limit_reached" or "exempt".
func (r Reason) String() string {
	switch r {
	case WithinLimit:
		return "within_limit"
	case LimitDisabled:
		return "limit_disabled"
	case LimitReached:
		return "limit_reached"
	case Exempt:
		return "exempt"
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

	// Scope is the scope of the rule the decision describes: the binding
	// rule of a bot with rules, the default rule otherwise.
	Scope Scope
	// WindowMs is that rule's rolling window, 0 for a calendar rule.
	WindowMs int64
	// Calendar and Zone are that rule's period and time zone when it is a
	// calendar rule (Calendar is Rolling otherwise).
	Calendar Calendar
	Zone     *time.Location

	// Rule is the name of the binding rule, and Rules the state of every
	// rule that applies to the attempt, the default rule first: both set
	// only for a bot with rules or exempt categories whose limit is enabled
	// (Settings.HasRules), and not on an Exempt decision.
	Rule  string
	Rules []RuleUsage
}

// RuleUsage is the state of one rule in a Decision, after the decision.
type RuleUsage struct {
	// Name is the rule's name (DefaultRule for the default one).
	Name string
	// Shadow says the rule is reported only and never blocks.
	Shadow bool
	// Limit is the rule's Max; Used its counted sends for the scope key
	// after the decision, and Remaining Limit-Used, never below 0.
	Limit, Used, Remaining int
	// RetryAt is when the rule has a free slot again: set exactly when
	// Remaining is 0.
	RetryAt int64
	// WouldBlock is set on a shadow rule that was at its limit before the
	// decision: enforced, it would have blocked the attempt.
	WouldBlock bool
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
