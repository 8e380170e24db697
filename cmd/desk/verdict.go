package main

import (
	"github.com/sendgate/sendgate/events"
)

// verdictJSON is a verdict as the page gets it: the verdict event's data,
// with times also in Unix ms.
type verdictJSON struct {
	AttemptID         string `json:"attempt_id"`
	BotID             string `json:"bot_id,omitempty"`
	ContactID         string `json:"contact_id,omitempty"`
	AgentID           string `json:"agent_id,omitempty"`
	Verdict           string `json:"verdict"`
	Reason            string `json:"reason"`
	Scope             string `json:"scope,omitempty"`
	LimitEnabled      bool   `json:"limit_enabled"`
	Limit             *int   `json:"limit,omitempty"`
	Used              *int   `json:"used,omitempty"`
	Remaining         *int   `json:"remaining,omitempty"`
	WindowSeconds     int64  `json:"window_seconds,omitempty"`
	RetryAt           string `json:"retry_at,omitempty"`
	RetryAtMs         int64  `json:"retry_at_ms,omitempty"`
	RetryAfterSeconds int64  `json:"retry_after_seconds,omitempty"`
	DecidedAt         string `json:"decided_at"`
	DecidedAtMs       int64  `json:"decided_at_ms"`
	SettingsVersion   int64  `json:"settings_version"`
	Error             string `json:"error,omitempty"`
	// Replay marks a verdict sent from the backlog when the stream opens.
	Replay bool `json:"replay,omitempty"`
}

func toJSON(v events.Verdict) verdictJSON {
	j := verdictJSON{
		AttemptID: v.AttemptID, BotID: v.BotID, ContactID: v.ContactID, AgentID: v.AgentID,
		Verdict: v.Outcome.String(), Reason: v.Reason.String(),
		DecidedAt: string(events.AppendTime(nil, v.DecidedAt)), DecidedAtMs: v.DecidedAt,
		Error: v.Error,
	}
	if v.Outcome == events.Rejected {
		return j
	}
	used := v.Used
	j.Scope, j.Used, j.WindowSeconds, j.SettingsVersion = v.Scope.String(), &used, v.WindowSeconds, v.SettingsVersion
	if v.Enabled {
		limit, rem := v.Limit, v.Remaining
		j.LimitEnabled, j.Limit, j.Remaining = true, &limit, &rem
	}
	if v.RetryAt != 0 {
		j.RetryAt, j.RetryAtMs, j.RetryAfterSeconds = string(events.AppendTime(nil, v.RetryAt)), v.RetryAt, v.RetryAfterSeconds
	}
	return j
}
