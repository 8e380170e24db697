package main

import (
	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
)

// The events the console publishes, written as the contract shows them.
// The console plays the send pipeline and the settings service: it writes
// their events with encoding/json, from the contract's terms, as they would.

// envelope is the CloudEvents part of an event.
type envelope struct {
	SpecVersion string `json:"specversion"`
	ID          string `json:"id"`
	Source      string `json:"source"`
	Type        string `json:"type"`
	Time        string `json:"time"`
	Data        any    `json:"data"`
}

func newEnvelope(id, source, typ string, timeMs int64, data any) envelope {
	return envelope{SpecVersion: "1.0", ID: id, Source: source, Type: typ, Time: string(events.AppendTime(nil, timeMs)), Data: data}
}

// attemptData is the data of a desk.active_message.requested event.
type attemptData struct {
	BotID     string `json:"bot_id"`
	ContactID string `json:"contact_id"`
	AgentID   string `json:"agent_id"`
	// Category is the template category; "" (none) is left out.
	Category string `json:"category,omitempty"`
}

// attemptEvent returns the desk.active_message.requested event of an
// attempt, source "/desk/sender".
func attemptEvent(id string, a attemptData, timeMs int64) []byte {
	return mustJSON(newEnvelope(id, "/desk/sender", events.TypeRequested, timeMs, a))
}

// ruleWire is a rule as a settings event, the processor's settings answer
// and the page write it. Defaults are left out: scope "contact", mode
// "enforce", every category.
type ruleWire struct {
	Name          string   `json:"name"`
	Max           int      `json:"max"`
	WindowSeconds int64    `json:"window_seconds,omitempty"`
	Calendar      string   `json:"calendar,omitempty"`
	TimeZone      string   `json:"time_zone,omitempty"`
	Categories    []string `json:"categories,omitempty"`
	Scope         string   `json:"scope,omitempty"`
	Mode          string   `json:"mode,omitempty"`
}

// activeMessagesWire is data.active_messages of a settings event.
type activeMessagesWire struct {
	LimitEnabled     bool       `json:"limit_enabled"`
	MaxPerContact    int        `json:"max_per_contact,omitempty"`
	WindowSeconds    int64      `json:"window_seconds"`
	Scope            string     `json:"scope"`
	Rules            []ruleWire `json:"rules,omitempty"`
	ExemptCategories []string   `json:"exempt_categories,omitempty"`
}

// settingsData is the data of a desk.settings.changed event.
type settingsData struct {
	BotID          string             `json:"bot_id"`
	Version        int64              `json:"version"`
	ChangedBy      string             `json:"changed_by,omitempty"`
	ActiveMessages activeMessagesWire `json:"active_messages"`
}

// settingsEvent returns the desk.settings.changed event that sets st
// (version included) for bot, source "/settings". st must be valid
// (quota.Settings.Validate): max_per_contact is written when it is not 0,
// rules and exempt_categories when there are any.
func settingsEvent(id, bot, changedBy string, st quota.Settings, timeMs int64) []byte {
	am := activeMessagesWire{LimitEnabled: st.Enabled, MaxPerContact: st.Max, WindowSeconds: st.WindowSeconds(),
		Scope: st.Scope.String(), ExemptCategories: st.Exempt}
	for i := range st.Rules {
		am.Rules = append(am.Rules, wireRule(&st.Rules[i]))
	}
	return mustJSON(newEnvelope(id, "/settings", events.TypeSettingsChanged, timeMs,
		settingsData{BotID: bot, Version: st.Version, ChangedBy: changedBy, ActiveMessages: am}))
}

// wireRule writes r as a settings event does.
func wireRule(r *quota.Rule) ruleWire {
	w := ruleWire{Name: r.Name, Max: r.Max, Categories: r.Categories}
	if r.Calendar == quota.Rolling {
		w.WindowSeconds = r.WindowMs / 1000
	} else {
		w.Calendar, w.TimeZone = r.Calendar.String(), r.ZoneName()
	}
	if r.Scope != quota.ScopeContact {
		w.Scope = r.Scope.String()
	}
	if r.Shadow {
		w.Mode = "shadow"
	}
	return w
}
