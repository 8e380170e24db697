package events

import (
	"math"
	"strconv"

	"github.com/sendgate/sendgate/quota"
)

// verdictKeys are the members of a verdict's data that DecodeVerdict reads;
// the v* constants index them.
var verdictKeys = []string{"attempt_id", "bot_id", "contact_id", "agent_id", "verdict", "reason", "error",
	"scope", "limit", "used", "remaining", "window_seconds", "retry_at", "retry_after_seconds",
	"decided_at", "settings_version", "rule", "calendar", "time_zone", "rules"}

// verdictPaths are the paths of verdictKeys in errors.
var verdictPaths = func() (p [vCount]string) {
	for i, k := range verdictKeys {
		p[i] = "data." + k
	}
	return p
}()

const (
	vAttemptID = iota
	vBotID
	vContactID
	vAgentID
	vVerdict
	vReason
	vError
	vScope
	vLimit
	vUsed
	vRemaining
	vWindowSeconds
	vRetryAt
	vRetryAfterSeconds
	vDecidedAt
	vSettingsVersion
	vRule
	vCalendar
	vTimeZone
	vRules // read apart, by readVerdictRules
	vCount
)

// verdictReader checks the members of a verdict that DecodeVerdict read.
type verdictReader struct {
	s    *scanner
	data *[vCount]field
}

// member returns data member k and its path.
func (r verdictReader) member(k int) (*field, string) { return &r.data[k], verdictPaths[k] }

// str checks a required string member and returns its decoded text.
func (r verdictReader) str(f *field, path string) (string, error) {
	switch f.kind {
	case kString:
		return string(appendField(nil, f)), nil
	case kAbsent:
		return "", &Error{Field: path, Msg: "required"}
	}
	return "", &Error{Field: path, Msg: "must be a string"}
}

// id reads a required (or, with opt, optional) id member: a string of
// 1..MaxIDBytes bytes.
func (r verdictReader) id(k int, opt bool) (string, error) {
	f, path := r.member(k)
	if opt && f.kind == kAbsent {
		return "", nil
	}
	if f.kind == kString && (f.n == 0 || f.n > MaxIDBytes) {
		return "", &Error{Field: path, Msg: "must be 1.." + strconv.Itoa(MaxIDBytes) + " bytes, got " + strconv.Itoa(f.n)}
	}
	return r.str(f, path)
}

// time reads a required time member written as AppendTime writes it.
func (r verdictReader) time(f *field, path string) (int64, error) {
	if f.kind != kString {
		_, err := r.str(f, path)
		return 0, err
	}
	s := string(r.s.decoded(f))
	ms, ok := parseMillis(s)
	if !ok {
		return 0, &Error{Field: path, Msg: "must be an RFC 3339 UTC time with milliseconds, got " + strconv.Quote(s)}
	}
	return ms, nil
}

// int reads a required integer member in [lo, hi].
func (r verdictReader) int(k int, lo, hi int64) (int64, error) {
	f, path := r.member(k)
	return r.intf(f, path, lo, hi)
}

// intf reads a required integer f, at path, in [lo, hi].
func (r verdictReader) intf(f *field, path string, lo, hi int64) (int64, error) {
	switch f.kind {
	case kNumber:
	case kAbsent:
		return 0, &Error{Field: path, Msg: "required"}
	default:
		return 0, &Error{Field: path, Msg: "must be an integer"}
	}
	v, c := intValue(f.raw)
	if c == numFrac {
		return 0, &Error{Field: path, Msg: "must be an integer, got " + string(f.raw)}
	}
	if c != numInt || v < lo || v > hi {
		return 0, &Error{Field: path, Msg: "must be " + strconv.FormatInt(lo, 10) + ".." + strconv.FormatInt(hi, 10) + ", got " + string(f.raw)}
	}
	return v, nil
}

// absent fails if any of the members ks is present.
func (r verdictReader) absent(why string, ks ...int) error {
	for _, k := range ks {
		if f, path := r.member(k); f.kind != kAbsent {
			return &Error{Field: path, Msg: "must be absent " + why}
		}
	}
	return nil
}

// DecodeVerdict parses and validates a desk.active_message.decided event as
// AppendVerdict writes it and schemas/verdict.schema.json describes it,
// including the presence rules (limit and remaining only when the limit is
// enabled and the reason is not exempt, retry_at and retry_after_seconds
// exactly when remaining is 0, calendar and time_zone in place of
// window_seconds only with rule, rule and rules together and only on
// within_limit and limit_reached, the rule members absent from a rejected
// verdict). Beyond the schema it checks what JSON Schema cannot express: id
// is attempt_id + "/verdict", time equals decided_at, remaining is
// max(limit-used, 0), retry_after_seconds is retry_at - decided_at rounded up
// to whole seconds; with rules: the first is "default", names are unique, rule
// names an enforced entry whose limit, used and remaining are the top-level
// ones, and retry_at is the latest retry_at of the enforced entries with
// nothing remaining (see verdictReader.rules). Unknown members are ignored.
// Times must have the exact form AppendTime writes, so that
// AppendVerdict(DecodeVerdict(b)) == b for b written by AppendVerdict.
//
// It is meant for tests, tools and the console, not the hot path, and reads
// with the scanner of DecodeInbound (a syntax error, including invalid UTF-8
// or a lone surrogate escape, is an error for "value"). Errors are *Error.
func DecodeVerdict(b []byte) (Verdict, error) {
	var v Verdict
	s := scanner{b: b}
	var env envelope
	var data [vCount]field
	var rules verdictRules
	if s.peek() != '{' {
		return v, s.notObject()
	}
	ok := s.event(&env, func() (kind, bool) {
		data = [vCount]field{}
		rules = verdictRules{}
		return s.object(verdictKeys, func(i int) bool {
			switch i {
			case -1:
				return s.skip(2)
			case vRules:
				return s.readVerdictRules(&rules)
			}
			return s.value(&data[i])
		})
	})
	if !ok {
		return v, s.err
	}
	data[vRules].kind = rules.kind
	r := verdictReader{s: &s, data: &data}

	if _, err := r.str(&env.id, "id"); err != nil {
		return v, err
	}
	for _, c := range [...]struct {
		f          *field
		path, want string
	}{
		{&env.spec, "specversion", SpecVersion}, {&env.typ, "type", TypeDecided}, {&env.source, "source", Source},
	} {
		if _, err := r.str(c.f, c.path); err != nil {
			return v, err
		}
		if !s.eq(c.f, c.want) {
			return v, &Error{Field: c.path, Msg: "must be " + strconv.Quote(c.want) + ", got " + strconv.Quote(string(s.decoded(c.f)))}
		}
	}
	tm, err := r.time(&env.time, "time")
	if err != nil {
		return v, err
	}
	switch env.data {
	case kObject:
	case kAbsent:
		return v, &Error{Field: "data", Msg: "required"}
	default:
		return v, &Error{Field: "data", Msg: "must be an object"}
	}

	if v.AttemptID, err = r.id(vAttemptID, false); err != nil {
		return v, err
	}
	if string(s.decoded(&env.id)) != v.AttemptID+"/verdict" {
		return v, &Error{Field: "id", Msg: "must be data.attempt_id + \"/verdict\""}
	}
	verdict, err := r.str(r.member(vVerdict))
	if err != nil {
		return v, err
	}
	if v.Outcome, ok = parseOutcome(verdict); !ok {
		return v, &Error{Field: "data.verdict", Msg: `must be "allowed", "blocked" or "rejected", got ` + strconv.Quote(verdict)}
	}
	reason, err := r.str(r.member(vReason))
	if err != nil {
		return v, err
	}
	v.Reason, _ = parseReason(reason)
	switch {
	case v.Outcome == Allowed && (v.Reason == WithinLimit || v.Reason == LimitDisabled || v.Reason == Exempt),
		v.Outcome == Blocked && v.Reason == LimitReached,
		v.Outcome == Rejected && v.Reason == InvalidRequest:
	default:
		return v, &Error{Field: "data.reason", Msg: "invalid for verdict " + strconv.Quote(verdict) + ": " + strconv.Quote(reason)}
	}
	if v.DecidedAt, err = r.time(r.member(vDecidedAt)); err != nil {
		return v, err
	}
	if tm != v.DecidedAt {
		return v, &Error{Field: "time", Msg: "must equal data.decided_at"}
	}
	opt := v.Outcome == Rejected
	if v.BotID, err = r.id(vBotID, opt); err != nil {
		return v, err
	}
	if v.ContactID, err = r.id(vContactID, opt); err != nil {
		return v, err
	}
	if v.AgentID, err = r.id(vAgentID, opt); err != nil {
		return v, err
	}
	if v.Outcome == Rejected {
		if v.Error, err = r.str(r.member(vError)); err != nil {
			return v, err
		}
		if err := r.absent("when rejected", vRule, vScope, vLimit, vUsed, vRemaining, vWindowSeconds,
			vCalendar, vTimeZone, vRetryAt, vRetryAfterSeconds, vRules, vSettingsVersion); err != nil {
			return Verdict{}, err
		}
		return v, nil
	}
	if err := r.absent("unless rejected", vError); err != nil {
		return Verdict{}, err
	}
	scope, err := r.str(r.member(vScope))
	if err != nil {
		return v, err
	}
	if v.Scope, ok = quota.ParseScope(scope); !ok {
		return v, &Error{Field: "data.scope", Msg: `must be "contact" or "agent_contact", got ` + strconv.Quote(scope)}
	}
	// An allowed send counts itself; a blocked one found the limit reached;
	// an exempt one is not counted.
	minUsed := int64(1)
	if v.Reason == Exempt {
		minUsed = 0
	}
	used, err := r.int(vUsed, minUsed, math.MaxInt)
	if err != nil {
		return v, err
	}
	v.Used = int(used)
	if err := r.window(&v); err != nil {
		return Verdict{}, err
	}
	if v.SettingsVersion, err = r.int(vSettingsVersion, 0, 1<<63-1); err != nil {
		return v, err
	}
	switch v.Reason {
	case LimitDisabled:
		if err := r.absent("while the limit is disabled", vLimit, vRemaining, vRetryAt, vRetryAfterSeconds, vRule, vRules); err != nil {
			return Verdict{}, err
		}
		return v, nil
	case Exempt:
		if err := r.absent("when exempt", vLimit, vRemaining, vRetryAt, vRetryAfterSeconds, vRule, vRules); err != nil {
			return Verdict{}, err
		}
		v.Enabled = true
		return v, nil
	}
	v.Enabled = true
	limit, err := r.int(vLimit, quota.MinMax, quota.MaxMax)
	if err != nil {
		return v, err
	}
	rem, err := r.int(vRemaining, 0, quota.MaxMax)
	if err != nil {
		return v, err
	}
	v.Limit, v.Remaining = int(limit), int(rem)
	if v.Remaining != max(v.Limit-v.Used, 0) {
		return v, &Error{Field: "data.remaining", Msg: "must be max(limit - used, 0)"}
	}
	if v.Outcome == Blocked && v.Remaining != 0 {
		return v, &Error{Field: "data.remaining", Msg: "must be 0 when blocked"}
	}
	if v.Remaining != 0 {
		if err := r.absent("unless remaining is 0", vRetryAt, vRetryAfterSeconds); err != nil {
			return Verdict{}, err
		}
	} else {
		if v.RetryAt, err = r.time(r.member(vRetryAt)); err != nil {
			return v, err
		}
		maxRetry := int64(quota.MaxWindowSeconds)
		if v.Calendar != quota.Rolling {
			maxRetry = maxCalendarRetrySeconds
		}
		if v.RetryAfterSeconds, err = r.int(vRetryAfterSeconds, 1, maxRetry); err != nil {
			return v, err
		}
		if d := v.RetryAt - v.DecidedAt; d <= 0 || (d+999)/1000 != v.RetryAfterSeconds {
			return v, &Error{Field: "data.retry_after_seconds", Msg: "must be retry_at - decided_at in seconds, rounded up"}
		}
	}
	if err := r.rules(&v, &rules); err != nil {
		return Verdict{}, err
	}
	return v, nil
}
