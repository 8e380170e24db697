package events_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/sendgate/sendgate/events"
)

// contractAttempt is the attempt example of the contract, as printed there.
const contractAttempt = `{"specversion":"1.0","id":"att-0001","source":"/desk/sender","type":"desk.active_message.requested",
 "time":"2026-11-26T10:00:00.000Z",
 "data":{"bot_id":"support@bots","contact_id":"5531999990000@wa","agent_id":"ana@acme","channel":"whatsapp"}}`

// contractSettings is the settings example of the contract.
const contractSettings = `{"specversion":"1.0","id":"set-42","source":"/settings","type":"desk.settings.changed",
 "time":"2026-11-26T09:00:00Z",
 "data":{"bot_id":"support@bots","version":42,"changed_by":"admin@acme",
         "active_messages":{"limit_enabled":true,"max_per_contact":3,"window_seconds":86400,"scope":"contact"}}}`

// contractVerdict is the verdict of the contract example.
var contractVerdict = events.Verdict{
	AttemptID: "att-0004", BotID: "support@bots", ContactID: "5531999990000@wa", AgentID: "ana@acme",
	Outcome: events.Blocked, Reason: events.LimitReached, Enabled: true,
	Limit: 3, Used: 3, Remaining: 0, WindowSeconds: 86400,
	RetryAt: 1795773600000, RetryAfterSeconds: 86220, DecidedAt: 1795687380000, SettingsVersion: 42,
}

// contractVerdictJSON is the contract's verdict example, compacted.
const contractVerdictJSON = `{"specversion":"1.0","id":"att-0004/verdict","source":"sendgate","type":"desk.active_message.decided","time":"2026-11-26T10:03:00.000Z","data":{"attempt_id":"att-0004","bot_id":"support@bots","contact_id":"5531999990000@wa","agent_id":"ana@acme","verdict":"blocked","reason":"limit_reached","scope":"contact","limit":3,"used":3,"remaining":0,"window_seconds":86400,"retry_at":"2026-11-27T10:00:00.000Z","retry_after_seconds":86220,"decided_at":"2026-11-26T10:03:00.000Z","settings_version":42}}`

func BenchmarkDecodeInbound(b *testing.B) { benchDecode(b, contractAttempt, events.DecodeInbound) }

// benchDecode measures decode on the event text v, which it must accept.
func benchDecode[T any](b *testing.B, v string, decode func([]byte) (T, error)) {
	in := []byte(v)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := decode(in); err != nil {
			b.Fatal(err)
		}
	}
}

// stdEvent is an event as encoding/json reads it, for the standard-library
// benchmarks: what the hand-written scanner is measured against.
type stdEvent[D any] struct {
	SpecVersion string `json:"specversion"`
	ID          string `json:"id"`
	Source      string `json:"source"`
	Type        string `json:"type"`
	Time        string `json:"time"`
	Data        *D     `json:"data"`
}

type stdAttemptData struct {
	BotID     string `json:"bot_id"`
	ContactID string `json:"contact_id"`
	AgentID   string `json:"agent_id"`
	AttemptID string `json:"attempt_id"`
}

type stdSettingsData struct {
	BotID          string `json:"bot_id"`
	Version        int64  `json:"version"`
	ChangedBy      string `json:"changed_by"`
	ActiveMessages *struct {
		LimitEnabled  *bool  `json:"limit_enabled"`
		MaxPerContact *int   `json:"max_per_contact"`
		WindowSeconds *int64 `json:"window_seconds"`
		Scope         string `json:"scope"`
	} `json:"active_messages"`
}

var errStd = errors.New("invalid")

// stdDecode reads an event of type typ with encoding/json and checks its
// CloudEvents attributes as DecodeInbound does.
func stdDecode[D any](v []byte, typ string) (*stdEvent[D], error) {
	var e stdEvent[D]
	if err := json.Unmarshal(v, &e); err != nil {
		return nil, err
	}
	if e.SpecVersion != events.SpecVersion || e.Type != typ || e.Source == "" || e.Data == nil ||
		e.ID == "" || len(e.ID) > events.MaxIDBytes {
		return nil, errStd
	}
	if _, err := time.Parse(time.RFC3339Nano, e.Time); err != nil {
		return nil, err
	}
	return &e, nil
}

func stdID(s string) bool { return s != "" && len(s) <= events.MaxIDBytes }

// BenchmarkDecodeInboundStdlib decodes and checks the attempt of
// BenchmarkDecodeInbound with encoding/json into a struct (which, unlike
// DecodeInbound, cannot tell a missing member from an empty one, accepts
// lone surrogates and does not report which member is wrong).
func BenchmarkDecodeInboundStdlib(b *testing.B) {
	benchDecode(b, contractAttempt, func(v []byte) (*stdEvent[stdAttemptData], error) {
		e, err := stdDecode[stdAttemptData](v, events.TypeRequested)
		if err != nil {
			return nil, err
		}
		if !stdID(e.Data.BotID) || !stdID(e.Data.ContactID) || !stdID(e.Data.AgentID) {
			return nil, errStd
		}
		return e, nil
	})
}

// BenchmarkDecodeSettingsStdlib is BenchmarkDecodeSettings with
// encoding/json, checked as BenchmarkDecodeInboundStdlib is.
func BenchmarkDecodeSettingsStdlib(b *testing.B) {
	benchDecode(b, contractSettings, func(v []byte) (*stdEvent[stdSettingsData], error) {
		e, err := stdDecode[stdSettingsData](v, events.TypeSettingsChanged)
		if err != nil {
			return nil, err
		}
		am := e.Data.ActiveMessages
		if !stdID(e.Data.BotID) || e.Data.Version < 1 ||
			am == nil || am.LimitEnabled == nil || (*am.LimitEnabled && (am.MaxPerContact == nil || *am.MaxPerContact < 1 || *am.MaxPerContact > 1000)) ||
			(am.WindowSeconds != nil && (*am.WindowSeconds < 60 || *am.WindowSeconds > 2592000)) ||
			(am.Scope != "" && am.Scope != "contact" && am.Scope != "agent_contact") {
			return nil, errStd
		}
		return e, nil
	})
}

func BenchmarkDecodeSettings(b *testing.B) { benchDecode(b, contractSettings, events.DecodeSettings) }

func BenchmarkAppendVerdict(b *testing.B) {
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = events.AppendVerdict(buf[:0], &contractVerdict)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkVerdictBinary(b *testing.B) {
	buf := make([]byte, 0, 1024)
	var v events.Verdict
	b.ReportAllocs()
	for b.Loop() {
		buf = contractVerdict.AppendBinary(buf[:0])
		if err := v.UnmarshalBinary(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeVerdict(b *testing.B) { benchDecode(b, contractVerdictJSON, events.DecodeVerdict) }

// BenchmarkAppendTime and BenchmarkAppendTimeStdlib compare AppendTime with
// time.Time.AppendFormat writing the same text; AppendVerdict writes two or
// three times.
func BenchmarkAppendTime(b *testing.B) {
	buf := make([]byte, 0, 32)
	for b.Loop() {
		buf = events.AppendTime(buf[:0], contractVerdict.DecidedAt)
	}
}

func BenchmarkAppendTimeStdlib(b *testing.B) {
	buf := make([]byte, 0, 32)
	for b.Loop() {
		buf = time.UnixMilli(contractVerdict.DecidedAt).UTC().AppendFormat(buf[:0], "2006-01-02T15:04:05.000Z07:00")
	}
}
