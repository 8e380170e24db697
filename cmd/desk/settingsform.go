package main

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sendgate/sendgate/quota"
)

// settingsRequest is the body of PUT /api/settings: what the admin typed,
// in the settings event's terms.
type settingsRequest struct {
	// BaseVersion, when given, is the version the form was loaded at: a
	// save over a newer version is refused (409) rather than overwriting it.
	BaseVersion   *int64 `json:"base_version"`
	LimitEnabled  bool   `json:"limit_enabled"`
	MaxPerContact int    `json:"max_per_contact"`
	WindowSeconds int64  `json:"window_seconds"` // 0: the default, 24 h
	Scope         string `json:"scope"`          // "": contact
	// Rules are the rules besides the default one, in order. A rule
	// without categories applies to every attempt.
	Rules            []ruleWire `json:"rules"`
	ExemptCategories []string   `json:"exempt_categories"`
}

// formError is why the settings form cannot be saved, for the page to show
// next to what is wrong.
type formError struct {
	// Msg is the whole message, as the status line shows it.
	Msg string `json:"error"`
	// Rule is the index of the rule at fault, or nil.
	Rule *int `json:"rule,omitempty"`
	// RuleError is the message without the rule's index, for the rule's
	// own line.
	RuleError string `json:"rule_error,omitempty"`
	// Field is the field at fault, when known: "max_per_contact",
	// "window_seconds", "scope", "exempt_categories", or a rule's "name",
	// "max", "window_seconds", "calendar", "time_zone", "categories",
	// "scope", "mode".
	Field string `json:"field,omitempty"`
}

func (e *formError) Error() string { return e.Msg }

// settings maps the form onto quota.Settings and validates them with
// quota.Settings.Validate. What Validate cannot see, because quota.Settings
// cannot hold it, is checked here: the names of the scopes, calendars and
// modes, and the time zones (IANA names loaded with time.LoadLocation;
// "Local" and, on a calendar rule, "" are refused).
func (req *settingsRequest) settings() (quota.Settings, *formError) {
	st := quota.Settings{Enabled: req.LimitEnabled, Max: req.MaxPerContact, WindowMs: req.WindowSeconds * 1000}
	if req.WindowSeconds == 0 {
		st.WindowMs = quota.DefaultWindowSeconds * 1000
	}
	var err error
	if st.Scope, err = parseScope(req.Scope); err != nil {
		return st, &formError{Msg: err.Error(), Field: "scope"}
	}
	for i := range req.Rules {
		r, field, err := req.Rules[i].rule()
		if err != nil {
			return st, ruleError(i, field, err.Error())
		}
		st.Rules = append(st.Rules, r)
	}
	if len(req.ExemptCategories) > 0 {
		st.Exempt = req.ExemptCategories
	}
	if err := st.Validate(); err != nil {
		return st, validateError(err)
	}
	return st, nil
}

// rule maps one rule of the form onto a quota.Rule; field names the member
// at fault.
func (w *ruleWire) rule() (r quota.Rule, field string, err error) {
	r = quota.Rule{Name: w.Name, Max: w.Max, WindowMs: w.WindowSeconds * 1000, Shadow: w.Mode == "shadow"}
	if len(w.Categories) > 0 {
		r.Categories = w.Categories
	}
	if w.Mode != "" && w.Mode != "enforce" && w.Mode != "shadow" {
		return r, "mode", fmt.Errorf(`mode: must be "enforce" or "shadow", got %q`, w.Mode)
	}
	if r.Scope, err = parseScope(w.Scope); err != nil {
		return r, "scope", err
	}
	if w.Calendar != "" {
		c, ok := quota.ParseCalendar(w.Calendar)
		if !ok {
			return r, "calendar", fmt.Errorf(`calendar: must be "day", "week" or "month", got %q`, w.Calendar)
		}
		r.Calendar = c
	}
	switch tz := strings.TrimSpace(w.TimeZone); {
	case tz == "" && r.Calendar != quota.Rolling:
		return r, "time_zone", errors.New("time_zone: a calendar rule needs a time zone, an IANA name such as America/Sao_Paulo or UTC")
	case tz == "":
	case tz == "Local":
		return r, "time_zone", errors.New(`time_zone: "Local" is not an IANA name; give one such as America/Sao_Paulo or UTC`)
	default:
		// A rolling rule with a zone is refused by Validate.
		if r.Zone, err = time.LoadLocation(tz); err != nil {
			return r, "time_zone", fmt.Errorf("time_zone: unknown time zone %q (an IANA name such as America/Sao_Paulo or UTC)", tz)
		}
	}
	return r, "", nil
}

func parseScope(s string) (quota.Scope, error) {
	if s == "" {
		return quota.ScopeContact, nil
	}
	sc, ok := quota.ParseScope(s)
	if !ok {
		return 0, fmt.Errorf(`scope: must be "contact" or "agent_contact", got %q`, s)
	}
	return sc, nil
}

func ruleError(i int, field, msg string) *formError {
	return &formError{Msg: fmt.Sprintf("rules[%d]: %s", i, msg), Rule: &i, RuleError: msg, Field: field}
}

// quotaRuleError matches quota.Settings.Validate's errors about one rule.
var quotaRuleError = regexp.MustCompile(`^quota: rules\[(\d+)\]: (.*)$`)

// validateError places an error of quota.Settings.Validate in the form: on
// the rule it names and, from its first words, on a field.
func validateError(err error) *formError {
	msg := err.Error()
	fe := &formError{Msg: msg}
	if m := quotaRuleError.FindStringSubmatch(msg); m != nil {
		if i, err := strconv.Atoi(m[1]); err == nil {
			fe = ruleError(i, "", m[2])
			fe.Msg = msg
		}
	}
	text := strings.TrimPrefix(msg, "quota: ")
	if fe.Rule != nil {
		text = fe.RuleError
	}
	for _, f := range []struct{ prefix, field string }{
		{"name ", "name"}, {"max ", "max"}, {"window ", "window_seconds"}, {"a rule has either", "window_seconds"},
		{"time_zone", "time_zone"}, {"categories", "categories"}, {"unknown scope", "scope"},
		{"exempt_categories", "exempt_categories"},
	} {
		if strings.HasPrefix(text, f.prefix) {
			fe.Field = f.field
			break
		}
	}
	if fe.Rule == nil {
		switch fe.Field {
		case "max":
			fe.Field = "max_per_contact"
		case "name", "time_zone", "categories":
			fe.Field = ""
		}
	}
	return fe
}
