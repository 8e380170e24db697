package events_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/sendgate/sendgate/events"
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
