package events_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
)

func TestAppendVerdictContract(t *testing.T) {
	got := events.AppendVerdict(nil, &contractVerdict)
	if string(got) != contractVerdictJSON {
		t.Fatalf("got  %s\nwant %s", got, contractVerdictJSON)
	}
	v, err := events.DecodeVerdict(got)
	if err != nil || v != contractVerdict {
		t.Fatalf("DecodeVerdict: %+v, %v", v, err)
	}
}

func TestAppendVerdictEscapes(t *testing.T) {
	v := events.Verdict{AttemptID: "a\"\\\x00\x1f\u2028\xff", Outcome: events.Rejected, Reason: events.InvalidRequest,
		Error: "line\nbreak\ttab\r", DecidedAt: 0}
	got := string(events.AppendVerdict(nil, &v))
	want := `{"specversion":"1.0","id":"a\"\\\u0000\u001f` + "\u2028" + `\ufffd/verdict","source":"sendgate","type":"desk.active_message.decided","time":"1970-01-01T00:00:00.000Z","data":{"attempt_id":"a\"\\\u0000\u001f` + "\u2028" + `\ufffd","verdict":"rejected","reason":"invalid_request","error":"line\nbreak\ttab\r","decided_at":"1970-01-01T00:00:00.000Z"}}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestVerdictBinary(t *testing.T) {
	b := contractVerdict.AppendBinary(nil)
	var v events.Verdict
	if err := v.UnmarshalBinary(b); err != nil || v != contractVerdict {
		t.Fatalf("round trip: %+v, %v", v, err)
	}
	bad := map[string][]byte{
		"empty":          nil,
		"version":        append([]byte{2}, b[1:]...),
		"trailing":       append(bytes.Clone(b), 0),
		"truncated":      b[:len(b)-1],
		"outcome":        append([]byte{1, 0}, b[2:]...),
		"reason":         append([]byte{1, 1, 9}, b[3:]...),
		"scope":          append([]byte{1, 1, 1, 2}, b[4:]...),
		"flags":          append([]byte{1, 1, 1, 0, 2}, b[5:]...),
		"overlong":       append(append([]byte{1, 1, 1, 0, 0}, 0x86, 0x00), b[6:]...),
		"short ints":     b[:8],
		"huge length":    append(append(bytes.Clone(b[:5]), make([]byte, 8)...), binary.AppendUvarint(nil, 1<<40)...),
		"length too big": append(append(bytes.Clone(b[:5]), make([]byte, 8)...), 9, 0, 0, 0, 0, 'x'),
	}
	for name, in := range bad {
		if err := v.UnmarshalBinary(in); err == nil {
			t.Errorf("%s: accepted %x", name, in)
		}
	}
}

// TestDecodeVerdictBeyondSchema: what the schema cannot express,
// DecodeVerdict checks.
func TestDecodeVerdictBeyondSchema(t *testing.T) {
	for field, edit := range map[string][2]string{
		"data.retry_after_seconds": {`"retry_after_seconds":86220`, `"retry_after_seconds":86219`},
		"data.remaining":           {`"limit":3`, `"limit":4`},
		"time":                     {`"time":"2026-11-26T10:03:00.000Z"`, `"time":"2026-11-26T10:03:00.001Z"`},
		"id":                       {`"id":"att-0004/verdict"`, `"id":"att-0005/verdict"`},
	} {
		b := strings.Replace(contractVerdictJSON, edit[0], edit[1], 1)
		_, err := events.DecodeVerdict([]byte(b))
		var e *events.Error
		if !errors.As(err, &e) || e.Field != field {
			t.Errorf("%s: got %v", field, err)
		}
	}
}

// shadowVerdictJSON is schemas/examples/verdict/valid/rules-shadow-would-block.json.
const shadowVerdictJSON = `{"specversion":"1.0","id":"att-r4/verdict","source":"sendgate","type":"desk.active_message.decided","time":"2026-11-26T10:00:00.000Z","data":{"attempt_id":"att-r4","bot_id":"support@bots","contact_id":"5531999990000@wa","agent_id":"ana@acme","verdict":"allowed","reason":"within_limit","rule":"default","scope":"contact","limit":3,"used":3,"remaining":0,"window_seconds":86400,"retry_at":"2026-11-27T08:00:00.000Z","retry_after_seconds":79200,"rules":[{"name":"default","mode":"enforce","limit":3,"used":3,"remaining":0,"retry_at":"2026-11-27T08:00:00.000Z"},{"name":"weekly","mode":"enforce","limit":5,"used":3,"remaining":2},{"name":"agent-trial","mode":"shadow","limit":2,"used":3,"remaining":0,"retry_at":"2026-11-27T09:00:00.000Z","would_block":true}],"decided_at":"2026-11-26T10:00:00.000Z","settings_version":43}}`

// TestDecodeVerdictRulesBeyondSchema: what the schema cannot express about
// rule and rules, DecodeVerdict checks.
func TestDecodeVerdictRulesBeyondSchema(t *testing.T) {
	v, err := events.DecodeVerdict([]byte(shadowVerdictJSON))
	if err != nil || v.Rule != "default" || v.NumRules != 3 || !v.RuleUsages()[2].WouldBlock || !v.RuleUsages()[2].Shadow {
		t.Fatalf("%+v, %v", v, err)
	}
	if got := events.AppendVerdict(nil, &v); string(got) != shadowVerdictJSON {
		t.Fatalf("re-encoded:\n%s", got)
	}
	for _, c := range []struct{ field, from, to string }{
		{"data.rule", `"rule":"default"`, `"rule":"agent-trial"`},
		{"data.rule", `"rule":"default"`, `"rule":"weekly"`},
		{"data.rule", `"rule":"default"`, `"rule":"monthly"`},
		{"data.rules[0].name", `{"name":"default"`, `{"name":"daily"`},
		{"data.rules[1].name", `"name":"weekly"`, `"name":"default"`},
		{"data.rules[2].name", `"name":"agent-trial"`, `"name":"weekly"`},
		{"data.rules[1].remaining", `"used":3,"remaining":2`, `"used":3,"remaining":1`},
		{"data.rules[2].retry_at", `"retry_at":"2026-11-27T09:00:00.000Z"`, `"retry_at":"2026-11-26T10:00:00.000Z"`},
		{"data.retry_at", `"retry_at":"2026-11-27T08:00:00.000Z","retry_after_seconds":79200`, `"retry_at":"2026-11-27T08:00:01.000Z","retry_after_seconds":79201`},
		{"data.rules", `"rules":[`, `"rules":[{"name":"a","mode":"enforce","limit":1,"used":0,"remaining":1},{"name":"b","mode":"enforce","limit":1,"used":0,"remaining":1},{"name":"c","mode":"enforce","limit":1,"used":0,"remaining":1},{"name":"d","mode":"enforce","limit":1,"used":0,"remaining":1},{"name":"e","mode":"enforce","limit":1,"used":0,"remaining":1},{"name":"f","mode":"enforce","limit":1,"used":0,"remaining":1},{"name":"g","mode":"enforce","limit":1,"used":0,"remaining":1},{"name":"h","mode":"enforce","limit":1,"used":0,"remaining":1},`},
	} {
		b := strings.Replace(shadowVerdictJSON, c.from, c.to, 1)
		_, err := events.DecodeVerdict([]byte(b))
		var e *events.Error
		if !errors.As(err, &e) || e.Field != c.field {
			t.Errorf("%s -> %s: got %v, want an error for %s", c.from, c.to, err, c.field)
		}
	}
}

// TestVerdictBinaryRules: verdicts with rules round trip through the binary
// form (version 2), and version 2 is refused for a verdict version 1 writes.
func TestVerdictBinaryRules(t *testing.T) {
	v, err := events.DecodeVerdict([]byte(shadowVerdictJSON))
	if err != nil {
		t.Fatal(err)
	}
	cal := v
	cal.WindowSeconds, cal.Calendar, cal.TimeZone = 0, quota.Month, "America/Sao_Paulo"
	exempt := events.Verdict{AttemptID: "x", Outcome: events.Allowed, Reason: events.Exempt, Enabled: true, WindowSeconds: 60}
	for _, v := range []events.Verdict{v, cal, exempt} {
		b := v.AppendBinary(nil)
		if b[0] != 2 {
			t.Errorf("version %d for %+v", b[0], v)
		}
		var got events.Verdict
		if err := got.UnmarshalBinary(b); err != nil || got != v {
			t.Errorf("round trip: %+v, %v\nwant %+v", got, err, v)
		}
		for n := range len(b) {
			if got.UnmarshalBinary(b[:n]) == nil {
				t.Errorf("truncated to %d accepted", n)
			}
		}
	}
	// A version-1 verdict written as version 2 (calendar 0, no rules, empty
	// rule and zone) is not canonical.
	b := contractVerdict.AppendBinary(nil)
	v2 := append([]byte{2}, b[1:5]...)
	v2 = append(v2, 0, 0)
	v2 = append(v2, b[5:]...)
	v2 = append(v2[:len(v2)-len("att-0004support@bots5531999990000@waana@acme")], 0, 0)
	v2 = append(v2, "att-0004support@bots5531999990000@waana@acme"...)
	var got events.Verdict
	if err := got.UnmarshalBinary(v2); err == nil {
		t.Errorf("non-canonical version 2 accepted: %+v", got)
	}
	// Exempt is not a reason of version 1.
	if err := got.UnmarshalBinary(append([]byte{1, 1, 5}, b[3:]...)); err == nil {
		t.Errorf("version 1 with reason exempt accepted")
	}
}
