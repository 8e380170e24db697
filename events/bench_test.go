package events_test

import (
	"testing"

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

func BenchmarkDecodeInbound(b *testing.B) {
	v := []byte(contractAttempt)
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if _, err := events.DecodeInbound(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeSettings(b *testing.B) {
	v := []byte(contractSettings)
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if _, err := events.DecodeSettings(v); err != nil {
			b.Fatal(err)
		}
	}
}

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

func BenchmarkDecodeVerdict(b *testing.B) {
	v := []byte(contractVerdictJSON)
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if _, err := events.DecodeVerdict(v); err != nil {
			b.Fatal(err)
		}
	}
}
