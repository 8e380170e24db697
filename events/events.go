package events

import (
	"strconv"

	"github.com/sendgate/sendgate/quota"
)

// CloudEvents attributes fixed by the contract.
const (
	// SpecVersion is the only accepted CloudEvents specversion.
	SpecVersion = "1.0"
	// TypeRequested is the type of an attempt (attempts topic).
	TypeRequested = "desk.active_message.requested"
	// TypeFailed is the type of a send-failed event (attempts topic).
	TypeFailed = "desk.active_message.failed"
	// TypeSettingsChanged is the type of a settings event (settings topic).
	TypeSettingsChanged = "desk.settings.changed"
	// TypeDecided is the type of a verdict event (verdicts topic).
	TypeDecided = "desk.active_message.decided"
	// MaxIDBytes is the longest id and *_id value, in bytes of UTF-8.
	MaxIDBytes = 256
)

// Source is the CloudEvents source of the events sendgate writes.
const Source = "sendgate"

// Error is a validation error naming the field and the rule, e.g.
// "data.active_messages.max_per_contact: must be 1..1000, got 0". Field is a
// JSON path like "data.bot_id" or "id"; an error about the whole value (not
// JSON, not an object, trailing data) has Field "value".
type Error struct {
	// Field is the dotted JSON path of the offending member.
	Field string
	// Msg states the rule that was broken.
	Msg string
}

// Error returns "field: msg".
func (e *Error) Error() string { return e.Field + ": " + e.Msg }

// Inbound is a decoded record value of the attempts topic.
type Inbound struct {
	// Failed is set for a valid desk.active_message.failed event.
	Failed bool
	// ID is the CloudEvents id: the attempt id (idempotency key) of an
	// attempt, the event id of a failed event. Empty when no id could be
	// read.
	ID string
	// BotID, ContactID and AgentID are the data members; AgentID is empty
	// for a failed event.
	BotID, ContactID, AgentID string
	// AttemptID is, for a failed event only, the attempt whose slot is
	// released.
	AttemptID string
	// Category is, for a valid attempt only, data.category (the template
	// category, 1..quota.MaxCategoryLen bytes); "" when absent. It is not
	// echoed in the verdict.
	Category string
}

// SettingsChanged is a decoded desk.settings.changed event.
type SettingsChanged struct {
	// ID is the CloudEvents id.
	ID string
	// BotID is data.bot_id.
	BotID string
	// ChangedBy is data.changed_by, empty when absent.
	ChangedBy string
	// Settings are the settings carried: Version is data.version, the
	// rest comes from data.active_messages with defaults applied (window
	// 86400 s, scope contact; Max 0 when the limit is disabled and no
	// max_per_contact is given), and Rules and Exempt from its rules and
	// exempt_categories (nil when absent or empty).
	Settings quota.Settings
}

// Outcome is the verdict of a decided attempt.
type Outcome uint8

// Outcomes, with their wire names.
const (
	// Allowed: the send may go out ("allowed").
	Allowed Outcome = iota + 1
	// Blocked: the limit is reached ("blocked").
	Blocked
	// Rejected: the attempt event was invalid ("rejected").
	Rejected
)

// outcomeNames are the wire names of the outcomes.
var outcomeNames = [...]string{Allowed: "allowed", Blocked: "blocked", Rejected: "rejected"}

// String returns the wire name: "allowed", "blocked" or "rejected".
func (o Outcome) String() string {
	if o >= Allowed && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// Reason explains an Outcome.
type Reason uint8

// Reasons, with their wire names.
const (
	// WithinLimit: allowed, the limit is enabled ("within_limit").
	WithinLimit Reason = iota + 1
	// LimitDisabled: allowed, the limit is disabled ("limit_disabled").
	LimitDisabled
	// LimitReached: blocked ("limit_reached").
	LimitReached
	// InvalidRequest: rejected ("invalid_request").
	InvalidRequest
	// Exempt: allowed, the limit is enabled and the attempt's category is
	// exempt; it is not counted ("exempt").
	Exempt
)

// reasonNames are the wire names of the reasons.
var reasonNames = [...]string{WithinLimit: "within_limit", LimitDisabled: "limit_disabled",
	LimitReached: "limit_reached", InvalidRequest: "invalid_request", Exempt: "exempt"}

// String returns the wire name: "within_limit", "limit_disabled",
// "limit_reached", "invalid_request" or "exempt".
func (r Reason) String() string {
	if r >= WithinLimit && int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

func parseOutcome(s string) (Outcome, bool) {
	o, ok := parseName(outcomeNames[:], s)
	return Outcome(o), ok
}

func parseReason(s string) (Reason, bool) {
	r, ok := parseName(reasonNames[:], s)
	return Reason(r), ok
}

// parseName returns the index of the non-empty wire name s in names.
func parseName(names []string, s string) (uint8, bool) {
	for i, n := range names {
		if n != "" && n == s {
			return uint8(i), true
		}
	}
	return 0, false
}

// Verdict is the data of a desk.active_message.decided event.
//
// Which members appear on the wire depends on the fields: see AppendVerdict.
type Verdict struct {
	// AttemptID is the attempt's CloudEvents id.
	AttemptID string
	// BotID, ContactID and AgentID echo the attempt; for a rejected
	// attempt, those that could be read (empty ones are omitted).
	BotID, ContactID, AgentID string
	// Outcome is the verdict.
	Outcome Outcome
	// Reason explains it.
	Reason Reason
	// Scope is the scope in force; omitted when Outcome is Rejected.
	Scope quota.Scope
	// Enabled says whether the limit was enforced: limit and remaining
	// are written only when it is (and the reason is neither Exempt nor
	// InvalidRequest).
	Enabled bool
	// Limit is X; Used the counted sends in the window for the scope after
	// this decision; Remaining is Limit-Used, never below 0. For a bot with
	// rules they describe the binding rule; on an Exempt verdict Used is the
	// default rule's count and Limit and Remaining are 0.
	Limit, Used, Remaining int
	// WindowSeconds is the window length of the rule described (the default
	// one, or the binding rule); 0 when that rule is a calendar one. Omitted
	// when rejected or 0.
	WindowSeconds int64
	// Calendar and TimeZone are, when the binding rule is a calendar rule,
	// its period and IANA zone name ("UTC" for none), written as calendar
	// and time_zone in place of window_seconds; Rolling and "" otherwise.
	Calendar quota.Calendar
	TimeZone string
	// Rule is the binding rule's name, for a bot with rules or exempt
	// categories whose limit is enabled (not on an Exempt verdict); "" for
	// every other verdict, which then has no rule and no rules member.
	Rule string
	// Rules[:NumRules] are the rules that applied to the attempt, the
	// default one first, in settings order, after this decision (written as
	// rules when NumRules > 0, which is exactly when Rule is set). A fixed
	// array rather than a slice keeps Verdict comparable with ==; entries
	// past NumRules are zero. See RuleUsages.
	Rules    [quota.MaxRules]quota.RuleUsage
	NumRules int
	// RetryAt is the instant (Unix ms) a slot frees; 0 means absent.
	// retry_at and retry_after_seconds are written iff RetryAt != 0.
	RetryAt int64
	// RetryAfterSeconds is RetryAt minus DecidedAt in seconds, rounded up.
	RetryAfterSeconds int64
	// DecidedAt is the decision time, Unix ms.
	DecidedAt int64
	// SettingsVersion is the version of the settings applied (0: none);
	// omitted when rejected.
	SettingsVersion int64
	// Error is, for a rejected attempt only, the human-readable cause.
	Error string
}

// RuleUsages returns v.Rules[:v.NumRules] (NumRules clamped into
// 0..quota.MaxRules), aliasing v.
func (v *Verdict) RuleUsages() []quota.RuleUsage {
	return v.Rules[:min(max(v.NumRules, 0), len(v.Rules))]
}

// FromDecision fills a verdict from the attempt, the rule's decision, the
// settings it was taken under and the decision time (Unix ms).
//
// Scope and window (WindowSeconds, or Calendar and TimeZone) are the
// decision's (d.Scope, d.WindowMs, d.Calendar, d.Zone): the binding rule's
// for a bot with rules, the default rule's otherwise, as quota.Decide and
// quota.Usage set them. Rule and Rules come from d.Rule and d.Rules;
// SettingsVersion from s.
func FromDecision(in Inbound, d quota.Decision, s quota.Settings, decidedAt int64) Verdict {
	v := Verdict{
		AttemptID:         in.ID,
		BotID:             in.BotID,
		ContactID:         in.ContactID,
		AgentID:           in.AgentID,
		Scope:             d.Scope,
		Enabled:           d.Enabled,
		Limit:             d.Limit,
		Used:              d.Used,
		Remaining:         d.Remaining,
		WindowSeconds:     d.WindowMs / 1000,
		RetryAt:           d.RetryAt,
		RetryAfterSeconds: d.RetryAfterSeconds,
		DecidedAt:         decidedAt,
		SettingsVersion:   s.Version,
	}
	if d.Calendar != quota.Rolling {
		v.WindowSeconds = 0
		v.Calendar = d.Calendar
		v.TimeZone = "UTC"
		if d.Zone != nil {
			v.TimeZone = d.Zone.String()
		}
	}
	if d.Enabled && d.Reason != quota.Exempt {
		v.Rule = d.Rule
		v.NumRules = copy(v.Rules[:], d.Rules)
	}
	switch d.Outcome {
	case quota.Allowed:
		v.Outcome = Allowed
	case quota.Blocked:
		v.Outcome = Blocked
	}
	switch d.Reason {
	case quota.WithinLimit:
		v.Reason = WithinLimit
	case quota.LimitDisabled:
		v.Reason = LimitDisabled
	case quota.LimitReached:
		v.Reason = LimitReached
	case quota.Exempt:
		v.Reason = Exempt
	}
	if !d.Enabled || v.Reason == Exempt {
		// Not on the wire; zeroed so that equal verdicts store equally.
		v.Limit, v.Remaining, v.RetryAt, v.RetryAfterSeconds = 0, 0, 0, 0
	}
	return v
}

// RejectedVerdict returns the rejected / invalid_request verdict of an attempt
// that DecodeInbound could read the id of but not validate: in and err are
// what it returned, decidedAt the decision time (Unix ms).
func RejectedVerdict(in Inbound, err error, decidedAt int64) Verdict {
	v := Verdict{
		AttemptID: in.ID,
		BotID:     in.BotID,
		ContactID: in.ContactID,
		AgentID:   in.AgentID,
		Outcome:   Rejected,
		Reason:    InvalidRequest,
		DecidedAt: decidedAt,
	}
	if err != nil {
		v.Error = err.Error()
	} else {
		v.Error = "invalid request"
	}
	return v
}
