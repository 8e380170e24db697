package pipeline

import (
	"bytes"
	"testing"
)

func TestDeadLetterSizes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		key, value int
		cut        bool // the broker refused the whole copy
		wantCut    bool
	}{
		{"small", 20, 300, false, false},
		{"large value, whole", 20, 1<<20 - 4<<10, false, false},
		{"large key, whole", 600 << 10, 10, false, false},
		{"small, cutting", 20, 300, true, false},
		{"large value, cutting", 20, 900 << 10, true, true},
		{"large key, short value, cutting", 600 << 10, 10, true, true},
		{"both large, cutting", 600 << 10, 900 << 10, true, true},
	} {
		rec := &record{Offset: 7, Key: bytes.Repeat([]byte("k"), tc.key), Value: bytes.Repeat([]byte("v"), tc.value)}
		m := dlqMessage("dlq", rec, "reason", "attempts", 3, tc.cut)
		cut := false
		for _, h := range m.Headers {
			cut = cut || h.Key == "sendgate-truncated"
		}
		switch {
		case cut != tc.wantCut:
			t.Errorf("%s: cut=%v, want %v", tc.name, cut, tc.wantCut)
		case !cut && (!bytes.Equal(m.Key, rec.Key) || !bytes.Equal(m.Value, rec.Value)):
			t.Errorf("%s: not byte for byte: key %d, value %d bytes", tc.name, len(m.Key), len(m.Value))
		case cut && len(m.Key)+len(m.Value) > maxDeadLetter:
			t.Errorf("%s: cut copy of %d bytes, over %d", tc.name, len(m.Key)+len(m.Value), maxDeadLetter)
		}
	}
}
