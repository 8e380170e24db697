package state

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestKeyOrder(t *testing.T) {
	long := strings.Repeat("\xff", 256)
	h := func(p int32, bot, contact string) []byte { return appendHistoryKey(nil, p, bot, contact) }
	v := func(p int32, id string) []byte { return appendVerdictKey(nil, p, id) }

	// Each table lists keys in strictly ascending order.
	tests := []struct {
		name string
		keys []struct {
			name string
			key  []byte
		}
	}{
		{"partition prefix groups a partition's keys", ordered(
			"p0 position", appendPositionKey(nil, 0),
			"p0 history", h(0, "a", "b"),
			"p0 history long ids", h(0, long, long),
			"p0 verdict", v(0, "x"),
			"p0 verdict long id", v(0, long),
			"p1 position", appendPositionKey(nil, 1),
			"p1 history", h(1, "", ""),
			"p255 position", appendPositionKey(nil, 255),
			"p256 position", appendPositionKey(nil, 256),
			"p2^31-1 verdict", v(math.MaxInt32, ""),
			"settings empty bot", appendSettingsKey(nil, ""),
			"settings long bot", appendSettingsKey(nil, long),
			"settings offset p0", appendSettingsOffsetKey(nil, 0),
			"settings offset p1", appendSettingsOffsetKey(nil, 1),
			"end", []byte{kindEnd},
		)},
		{"sweep range holds exactly the histories and verdicts", ordered(
			"p3 position", appendPositionKey(nil, 3),
			"sweep start", appendSweepStart(nil, 3),
			"first history", h(3, "", ""),
			"long history", h(3, long, long),
			"first verdict", v(3, ""),
			"long verdict", v(3, long),
			"sweep end", appendSweepEnd(nil, 3),
			"p3 end", partitionEnd(nil, 3),
			"p4 position", appendPositionKey(nil, 4),
		)},
		{"length prefixes keep id pairs apart", ordered(
			"a|bc", h(0, "a", "bc"),
			"a\\x00|b", h(0, "a\x00", "b"),
			"ab|c", h(0, "ab", "c"),
		)},
		{"partition end", ordered(
			"p7 last verdict", v(7, long),
			"p7 end", partitionEnd(nil, 7),
			"p8", appendPositionKey(nil, 8),
			"p-1 (0xffffffff)", appendPositionKey(nil, -1),
			"p-1 end", partitionEnd(nil, -1),
			"settings", appendSettingsKey(nil, ""),
		)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := 1; i < len(tt.keys); i++ {
				a, b := tt.keys[i-1], tt.keys[i]
				if bytes.Compare(a.key, b.key) >= 0 {
					t.Errorf("%s (%x) !< %s (%x)", a.name, a.key, b.name, b.key)
				}
			}
		})
	}
}

func ordered(kv ...any) (out []struct {
	name string
	key  []byte
}) {
	for i := 0; i < len(kv); i += 2 {
		out = append(out, struct {
			name string
			key  []byte
		}{kv[i].(string), kv[i+1].([]byte)})
	}
	return out
}
