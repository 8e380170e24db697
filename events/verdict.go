package events

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/sendgate/sendgate/quota"
)

// members is a decoded JSON object: exact key matching, last duplicate wins.
type members struct {
	m    map[string]json.RawMessage
	path string // prefix of member paths, "" or "data."
}

func (o members) has(k string) bool { _, ok := o.m[k]; return ok }

func (o members) err(k, msg string) error { return &Error{Field: o.path + k, Msg: msg} }

// str reads a required (or, with opt, optional) string member.
func (o members) str(k string, opt bool) (string, bool, error) {
	raw, ok := o.m[k]
	if !ok {
		if opt {
			return "", false, nil
		}
		return "", false, o.err(k, "required")
	}
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false, o.err(k, "must be a string")
	}
	return s, true, nil
}

// id reads an id member: a string of 1..MaxIDBytes bytes.
func (o members) id(k string, opt bool) (string, error) {
	s, ok, err := o.str(k, opt)
	if err != nil || !ok {
		return "", err
	}
	if len(s) == 0 || len(s) > MaxIDBytes {
		return "", o.err(k, "must be 1.."+strconv.Itoa(MaxIDBytes)+" bytes, got "+strconv.Itoa(len(s)))
	}
	return s, nil
}

// time reads a required time member written as AppendTime writes it.
func (o members) time(k string) (int64, error) {
	s, _, err := o.str(k, false)
	if err != nil {
		return 0, err
	}
	ms, ok := parseMillis(s)
	if !ok {
		return 0, o.err(k, "must be an RFC 3339 UTC time with milliseconds, got "+strconv.Quote(s))
	}
	return ms, nil
}

// int reads a required integer member in [lo, hi].
func (o members) int(k string, lo, hi int64) (int64, error) {
	raw, ok := o.m[k]
	if !ok {
		return 0, o.err(k, "required")
	}
	raw = bytes.TrimSpace(raw)
	s := scanner{b: raw}
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) || !s.num() || s.i != len(raw) {
		return 0, o.err(k, "must be an integer")
	}
	v, c := intValue(raw)
	if c == numFrac {
		return 0, o.err(k, "must be an integer, got "+string(raw))
	}
	if c != numInt || v < lo || v > hi {
		return 0, o.err(k, "must be "+strconv.FormatInt(lo, 10)+".."+strconv.FormatInt(hi, 10)+", got "+string(raw))
	}
	return v, nil
}

// absent fails if any of keys is present.
func (o members) absent(why string, keys ...string) error {
	for _, k := range keys {
		if o.has(k) {
			return o.err(k, "must be absent "+why)
		}
	}
	return nil
}

// DecodeVerdict parses and validates a desk.active_message.decided event as
// AppendVerdict writes it and schemas/verdict.schema.json describes it,
// including the presence rules (limit and remaining only when the limit is
// enabled, retry_at and retry_after_seconds exactly when remaining is 0, the
// rule members absent from a rejected verdict). Beyond the schema it checks
// what JSON Schema cannot express: id is attempt_id + "/verdict", time equals
// decided_at, remaining is max(limit-used, 0), retry_after_seconds is
// retry_at - decided_at rounded up to whole seconds. Unknown members are ignored.
// Times must have the exact form AppendTime writes, so that
// AppendVerdict(DecodeVerdict(b)) == b for b written by AppendVerdict.
//
// It is meant for tests, tools and the console, not the hot path: it uses
// encoding/json. Errors are *Error.
func DecodeVerdict(b []byte) (Verdict, error) {
	var v Verdict
	if !utf8.Valid(b) {
		return v, &Error{Field: "value", Msg: "invalid UTF-8"}
	}
	top := members{}
	if err := json.Unmarshal(b, &top.m); err != nil || top.m == nil {
		return v, &Error{Field: "value", Msg: "must be a JSON object"}
	}
	id, _, err := top.str("id", false)
	if err != nil {
		return v, err
	}
	for _, c := range [...]struct{ k, want string }{
		{"specversion", SpecVersion}, {"type", TypeDecided}, {"source", Source},
	} {
		s, _, err := top.str(c.k, false)
		if err != nil {
			return v, err
		}
		if s != c.want {
			return v, top.err(c.k, "must be "+strconv.Quote(c.want)+", got "+strconv.Quote(s))
		}
	}
	tm, err := top.time("time")
	if err != nil {
		return v, err
	}
	data := members{path: "data."}
	if raw, ok := top.m["data"]; !ok {
		return v, top.err("data", "required")
	} else if json.Unmarshal(raw, &data.m) != nil || data.m == nil {
		return v, top.err("data", "must be an object")
	}

	if v.AttemptID, err = data.id("attempt_id", false); err != nil {
		return v, err
	}
	if id != v.AttemptID+"/verdict" {
		return v, top.err("id", "must be data.attempt_id + \"/verdict\"")
	}
	verdict, _, err := data.str("verdict", false)
	if err != nil {
		return v, err
	}
	var ok bool
	if v.Outcome, ok = parseOutcome(verdict); !ok {
		return v, data.err("verdict", `must be "allowed", "blocked" or "rejected", got `+strconv.Quote(verdict))
	}
	reason, _, err := data.str("reason", false)
	if err != nil {
		return v, err
	}
	v.Reason, _ = parseReason(reason)
	switch {
	case v.Outcome == Allowed && (v.Reason == WithinLimit || v.Reason == LimitDisabled),
		v.Outcome == Blocked && v.Reason == LimitReached,
		v.Outcome == Rejected && v.Reason == InvalidRequest:
	default:
		return v, data.err("reason", "invalid for verdict "+strconv.Quote(verdict)+": "+strconv.Quote(reason))
	}
	if v.DecidedAt, err = data.time("decided_at"); err != nil {
		return v, err
	}
	if tm != v.DecidedAt {
		return v, top.err("time", "must equal data.decided_at")
	}
	opt := v.Outcome == Rejected
	if v.BotID, err = data.id("bot_id", opt); err != nil {
		return v, err
	}
	if v.ContactID, err = data.id("contact_id", opt); err != nil {
		return v, err
	}
	if v.AgentID, err = data.id("agent_id", opt); err != nil {
		return v, err
	}
	if v.Outcome == Rejected {
		if v.Error, _, err = data.str("error", false); err != nil {
			return v, err
		}
		if err := data.absent("when rejected", "scope", "limit", "used", "remaining", "window_seconds",
			"retry_at", "retry_after_seconds", "settings_version"); err != nil {
			return Verdict{}, err
		}
		return v, nil
	}
	if err := data.absent("unless rejected", "error"); err != nil {
		return Verdict{}, err
	}
	scope, _, err := data.str("scope", false)
	if err != nil {
		return v, err
	}
	if v.Scope, ok = quota.ParseScope(scope); !ok {
		return v, data.err("scope", `must be "contact" or "agent_contact", got `+strconv.Quote(scope))
	}
	// An allowed send counts itself; a blocked one found the limit reached.
	used, err := data.int("used", 1, math.MaxInt)
	if err != nil {
		return v, err
	}
	v.Used = int(used)
	if v.WindowSeconds, err = data.int("window_seconds", quota.MinWindowSeconds, quota.MaxWindowSeconds); err != nil {
		return v, err
	}
	if v.SettingsVersion, err = data.int("settings_version", 0, 1<<63-1); err != nil {
		return v, err
	}
	if v.Reason == LimitDisabled {
		if err := data.absent("while the limit is disabled", "limit", "remaining", "retry_at", "retry_after_seconds"); err != nil {
			return Verdict{}, err
		}
		return v, nil
	}
	v.Enabled = true
	limit, err := data.int("limit", quota.MinMax, quota.MaxMax)
	if err != nil {
		return v, err
	}
	rem, err := data.int("remaining", 0, quota.MaxMax)
	if err != nil {
		return v, err
	}
	v.Limit, v.Remaining = int(limit), int(rem)
	if v.Remaining != max(v.Limit-v.Used, 0) {
		return v, data.err("remaining", "must be max(limit - used, 0)")
	}
	if v.Outcome == Blocked && v.Remaining != 0 {
		return v, data.err("remaining", "must be 0 when blocked")
	}
	if v.Remaining != 0 {
		if err := data.absent("unless remaining is 0", "retry_at", "retry_after_seconds"); err != nil {
			return Verdict{}, err
		}
		return v, nil
	}
	if v.RetryAt, err = data.time("retry_at"); err != nil {
		return v, err
	}
	if v.RetryAfterSeconds, err = data.int("retry_after_seconds", 1, quota.MaxWindowSeconds); err != nil {
		return v, err
	}
	if d := v.RetryAt - v.DecidedAt; d <= 0 || (d+999)/1000 != v.RetryAfterSeconds {
		return v, data.err("retry_after_seconds", "must be retry_at - decided_at in seconds, rounded up")
	}
	return v, nil
}
