package events_test

import (
	"encoding/hex"
	"testing"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
)

// goldenVerdicts are verdicts of bots without rules, each with the JSON and
// binary bytes the encoders wrote before rules existed. They pin those bytes:
// a bot without rules (and every disabled bot) must get exactly the same
// verdicts, and the state store's records must stay readable.
var goldenVerdicts = []struct {
	name string
	v    events.Verdict
	json string
	bin  string // hex
}{
	{
		name: "allowed",
		v: events.Verdict{AttemptID: "att-0001", BotID: "support@bots", ContactID: "5531999990000@wa", AgentID: "ana@acme",
			Outcome: events.Allowed, Reason: events.WithinLimit, Enabled: true, Limit: 3, Used: 1, Remaining: 2,
			WindowSeconds: 86400, DecidedAt: 1795687200000, SettingsVersion: 42},
		json: `{"specversion":"1.0","id":"att-0001/verdict","source":"sendgate","type":"desk.active_message.decided","time":"2026-11-26T10:00:00.000Z","data":{"attempt_id":"att-0001","bot_id":"support@bots","contact_id":"5531999990000@wa","agent_id":"ana@acme","verdict":"allowed","reason":"within_limit","scope":"contact","limit":3,"used":1,"remaining":2,"window_seconds":86400,"decided_at":"2026-11-26T10:00:00.000Z","settings_version":42}}`,
		bin:  "010101000106020480c60a000080d4e1f4c26854080c1008006174742d30303031737570706f727440626f747335353331393939393930303030407761616e614061636d65",
	},
	{
		name: "last-allowed",
		v: events.Verdict{AttemptID: "att-0003", BotID: "support@bots", ContactID: "5531999990000@wa", AgentID: "ana@acme",
			Outcome: events.Allowed, Reason: events.WithinLimit, Enabled: true, Limit: 3, Used: 3, Remaining: 0,
			WindowSeconds: 86400, RetryAt: 1795773480000, RetryAfterSeconds: 86280, DecidedAt: 1795687200000, SettingsVersion: 42},
		json: `{"specversion":"1.0","id":"att-0003/verdict","source":"sendgate","type":"desk.active_message.decided","time":"2026-11-26T10:00:00.000Z","data":{"attempt_id":"att-0003","bot_id":"support@bots","contact_id":"5531999990000@wa","agent_id":"ana@acme","verdict":"allowed","reason":"within_limit","scope":"contact","limit":3,"used":3,"remaining":0,"window_seconds":86400,"retry_at":"2026-11-27T09:58:00.000Z","retry_after_seconds":86280,"decided_at":"2026-11-26T10:00:00.000Z","settings_version":42}}`,
		bin:  "010101000106060080c60a80f185c7c36890c40a80d4e1f4c26854080c1008006174742d30303033737570706f727440626f747335353331393939393930303030407761616e614061636d65",
	},
	{name: "blocked", v: contractVerdict,
		json: `{"specversion":"1.0","id":"att-0004/verdict","source":"sendgate","type":"desk.active_message.decided","time":"2026-11-26T10:03:00.000Z","data":{"attempt_id":"att-0004","bot_id":"support@bots","contact_id":"5531999990000@wa","agent_id":"ana@acme","verdict":"blocked","reason":"limit_reached","scope":"contact","limit":3,"used":3,"remaining":0,"window_seconds":86400,"retry_at":"2026-11-27T10:00:00.000Z","retry_after_seconds":86220,"decided_at":"2026-11-26T10:03:00.000Z","settings_version":42}}`,
		bin:  "010203000106060080c60a80c494c7c36898c30ac0d0f7f4c26854080c1008006174742d30303034737570706f727440626f747335353331393939393930303030407761616e614061636d65",
	},
	{
		name: "blocked-agent-contact",
		v: events.Verdict{AttemptID: "a", BotID: "b", ContactID: "c", AgentID: "d", Outcome: events.Blocked, Reason: events.LimitReached,
			Scope: quota.ScopeAgentContact, Enabled: true, Limit: 1, Used: 2, WindowSeconds: 60,
			RetryAt: 1795687200001, RetryAfterSeconds: 1, DecidedAt: 1795687200000, SettingsVersion: 1},
		json: `{"specversion":"1.0","id":"a/verdict","source":"sendgate","type":"desk.active_message.decided","time":"2026-11-26T10:00:00.000Z","data":{"attempt_id":"a","bot_id":"b","contact_id":"c","agent_id":"d","verdict":"blocked","reason":"limit_reached","scope":"agent_contact","limit":1,"used":2,"remaining":0,"window_seconds":60,"retry_at":"2026-11-26T10:00:00.001Z","retry_after_seconds":1,"decided_at":"2026-11-26T10:00:00.000Z","settings_version":1}}`,
		bin:  "01020301010204007882d4e1f4c2680280d4e1f4c26802010101010061626364",
	},
	{
		name: "disabled",
		v: events.Verdict{AttemptID: "att-0007", BotID: "support@bots", ContactID: "5531999990000@wa", AgentID: "ana@acme",
			Outcome: events.Allowed, Reason: events.LimitDisabled, Used: 7, WindowSeconds: 86400, DecidedAt: 1795687200000},
		json: `{"specversion":"1.0","id":"att-0007/verdict","source":"sendgate","type":"desk.active_message.decided","time":"2026-11-26T10:00:00.000Z","data":{"attempt_id":"att-0007","bot_id":"support@bots","contact_id":"5531999990000@wa","agent_id":"ana@acme","verdict":"allowed","reason":"limit_disabled","scope":"contact","used":7,"window_seconds":86400,"decided_at":"2026-11-26T10:00:00.000Z","settings_version":0}}`,
		bin:  "0101020000000e0080c60a000080d4e1f4c26800080c1008006174742d30303037737570706f727440626f747335353331393939393930303030407761616e614061636d65",
	},
	{
		name: "rejected",
		v: events.Verdict{AttemptID: "att-\"x\"\n", BotID: "b", Outcome: events.Rejected, Reason: events.InvalidRequest,
			Error: "data.agent_id: required", DecidedAt: 1795687200000},
		json: `{"specversion":"1.0","id":"att-\"x\"\n/verdict","source":"sendgate","type":"desk.active_message.decided","time":"2026-11-26T10:00:00.000Z","data":{"attempt_id":"att-\"x\"\n","bot_id":"b","verdict":"rejected","reason":"invalid_request","error":"data.agent_id: required","decided_at":"2026-11-26T10:00:00.000Z"}}`,
		bin:  "010304000000000000000080d4e1f4c2680008010000176174742d2278220a62646174612e6167656e745f69643a207265717569726564",
	},
}

func TestVerdictGolden(t *testing.T) {
	for _, g := range goldenVerdicts {
		j := events.AppendVerdict(nil, &g.v)
		b := g.v.AppendBinary(nil)
		if string(j) != g.json {
			t.Errorf("%s: JSON\n got %s\nwant %s", g.name, j, g.json)
		}
		if hex.EncodeToString(b) != g.bin {
			t.Errorf("%s: binary\n got %x\nwant %s", g.name, b, g.bin)
		}
		want, err := hex.DecodeString(g.bin)
		if err != nil {
			t.Fatal(err)
		}
		var got events.Verdict
		if err := got.UnmarshalBinary(want); err != nil || got != g.v {
			t.Errorf("%s: UnmarshalBinary(golden) = %+v, %v", g.name, got, err)
		}
		if dv, err := events.DecodeVerdict([]byte(g.json)); err != nil || dv != g.v {
			t.Errorf("%s: DecodeVerdict(golden) = %+v, %v", g.name, dv, err)
		}
	}
}
