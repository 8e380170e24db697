package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sendgate/sendgate/events"
)

// verdictData is the data of a desk.active_message.decided event, as the
// contract writes it. The console reads it with encoding/json, as any
// consumer of the verdicts topic would, and passes on every member it
// knows.
type verdictData struct {
	AttemptID         string      `json:"attempt_id"`
	BotID             string      `json:"bot_id,omitempty"`
	ContactID         string      `json:"contact_id,omitempty"`
	AgentID           string      `json:"agent_id,omitempty"`
	Verdict           string      `json:"verdict"`
	Reason            string      `json:"reason"`
	Scope             string      `json:"scope,omitempty"`
	Limit             *int        `json:"limit,omitempty"`
	Used              *int        `json:"used,omitempty"`
	Remaining         *int        `json:"remaining,omitempty"`
	WindowSeconds     int64       `json:"window_seconds,omitempty"`
	Calendar          string      `json:"calendar,omitempty"`
	TimeZone          string      `json:"time_zone,omitempty"`
	RetryAt           string      `json:"retry_at,omitempty"`
	RetryAfterSeconds int64       `json:"retry_after_seconds,omitempty"`
	DecidedAt         string      `json:"decided_at"`
	SettingsVersion   int64       `json:"settings_version"`
	Error             string      `json:"error,omitempty"`
	Rule              string      `json:"rule,omitempty"`
	Rules             []ruleState `json:"rules,omitempty"`
}

// ruleState is one entry of a verdict's (or quota answer's) rules.
type ruleState struct {
	Name       string `json:"name"`
	Mode       string `json:"mode"`
	Limit      int    `json:"limit"`
	Used       int    `json:"used"`
	Remaining  int    `json:"remaining"`
	RetryAt    string `json:"retry_at,omitempty"`
	WouldBlock bool   `json:"would_block,omitempty"`
}

// verdictJSON is a verdict as the page gets it: the verdict event's data,
// with times also in Unix ms, whether the limit was enabled, and the texts
// naming the binding rule (bots with rules only).
type verdictJSON struct {
	verdictData
	LimitEnabled bool  `json:"limit_enabled"`
	RetryAtMs    int64 `json:"retry_at_ms,omitempty"`
	DecidedAtMs  int64 `json:"decided_at_ms"`
	// RuleLabel and RulePeriod are ruleLabel and rulePeriod of the binding
	// rule, when the verdict names one.
	RuleLabel  string `json:"rule_label,omitempty"`
	RulePeriod string `json:"rule_period,omitempty"`
	// Replay marks a verdict sent from the backlog when the stream opens.
	Replay bool `json:"replay,omitempty"`
}

// decodeVerdict reads a record value of the verdicts topic. It checks what
// the page relies on (the event type, an attempt id, the verdict, the
// times), not every rule of the schema.
func decodeVerdict(b []byte) (verdictJSON, error) {
	var ev struct {
		Type string       `json:"type"`
		Data *verdictData `json:"data"`
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		return verdictJSON{}, err
	}
	if ev.Type != events.TypeDecided {
		return verdictJSON{}, fmt.Errorf("type %q is not %s", ev.Type, events.TypeDecided)
	}
	if ev.Data == nil || ev.Data.AttemptID == "" || ev.Data.Verdict == "" {
		return verdictJSON{}, errors.New("data: attempt_id and verdict are required")
	}
	v := verdictJSON{verdictData: *ev.Data}
	var err error
	if v.DecidedAtMs, err = parseMs(v.DecidedAt); err != nil {
		return verdictJSON{}, fmt.Errorf("data.decided_at: %w", err)
	}
	if v.RetryAt != "" {
		if v.RetryAtMs, err = parseMs(v.RetryAt); err != nil {
			return verdictJSON{}, fmt.Errorf("data.retry_at: %w", err)
		}
	}
	v.LimitEnabled = v.Verdict != "rejected" && v.Reason != "limit_disabled"
	if v.Rule != "" && v.Limit != nil {
		v.RuleLabel = ruleLabel(v.Rule, *v.Limit, v.WindowSeconds, v.Calendar, v.TimeZone)
		v.RulePeriod = rulePeriod(v.WindowSeconds, v.Calendar, v.TimeZone)
	}
	return v, nil
}

func parseMs(s string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, err
	}
	return t.UnixMilli(), nil
}
