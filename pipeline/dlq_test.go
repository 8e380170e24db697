package pipeline

import (
	"bytes"
	"testing"
)

func TestDeadLetterSizes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		key, value int
		cut        bool
	}{
		{"small", 20, 300, false},
		{"large value", 20, 900 << 10, true},
		{"large key, short value", 600 << 10, 10, true},
		{"both large", 600 << 10, 900 << 10, true},
	} {
		rec := &record{Offset: 7, Key: bytes.Repeat([]byte("k"), tc.key), Value: bytes.Repeat([]byte("v"), tc.value)}
		m := dlqMessage("dlq", rec, "reason", "attempts", 3)
		if n := len(m.Key) + len(m.Value); n > maxDeadLetter {
			t.Errorf("%s: %d bytes, over %d", tc.name, n, maxDeadLetter)
		}
		cut := false
		for _, h := range m.Headers {
			cut = cut || h.Key == "sendgate-truncated"
		}
		if cut != tc.cut || (!tc.cut && (len(m.Key) != tc.key || len(m.Value) != tc.value)) {
			t.Errorf("%s: cut=%v key=%d value=%d", tc.name, cut, len(m.Key), len(m.Value))
		}
	}
}
