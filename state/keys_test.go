package state

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestKeyOrder(t *testing.T) {
	long := strings.Repeat("\xff", 256)
	idx := func(p int32, exp int64, primary []byte) []byte { return appendIndexKey(nil, primary, exp) }
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
			"p0 index", idx(0, 1, h(0, "a", "b")),
			"p0 index max time", idx(0, math.MaxInt64, v(0, long)),
			"p1 position", appendPositionKey(nil, 1),
			"p1 history", h(1, "", ""),
			"p255 position", appendPositionKey(nil, 255),
			"p256 position", appendPositionKey(nil, 256),
			"p2^31-1 index", idx(math.MaxInt32, 0, v(math.MaxInt32, "")),
			"settings empty bot", appendSettingsKey(nil, ""),
			"settings long bot", appendSettingsKey(nil, long),
			"settings offset p0", appendSettingsOffsetKey(nil, 0),
			"settings offset p1", appendSettingsOffsetKey(nil, 1),
			"end", []byte{kindEnd},
		)},
		{"expiry index sorts by time, then kind", ordered(
			"exp -5", idx(3, -5, v(3, "z")),
			"exp 0", idx(3, 0, v(3, "z")),
			"exp 1 history", idx(3, 1, h(3, long, long)),
			"exp 1 verdict", idx(3, 1, v(3, "")),
			"exp 255", idx(3, 255, v(3, "a")),
			"exp 256", idx(3, 256, v(3, "a")),
			"exp 2026", idx(3, 1_795_000_000_000, v(3, "a")),
			"exp 2026+1ms", idx(3, 1_795_000_000_001, h(3, "", "")),
			"exp max", idx(3, math.MaxInt64, v(3, "a")),
			"p4 first key", appendPositionKey(nil, 4),
		)},
		{"expire bound covers exactly the entries at or before now", ordered(
			"p3 index start", appendExpiryPrefix(nil, 3),
			"exp 1000 long history", idx(3, 1000, h(3, long, long)),
			"exp 1000 long verdict", idx(3, 1000, v(3, long)),
			"bound now=1000", appendExpiryBound(nil, 3, 1000),
			"exp 1001", idx(3, 1001, h(3, "", "")),
			"exp max", idx(3, math.MaxInt64, v(3, long)),
			"bound now=max", appendExpiryBound(nil, 3, math.MaxInt64),
			"p4", appendPositionKey(nil, 4),
		)},
		{"length prefixes keep id pairs apart", ordered(
			"a|bc", h(0, "a", "bc"),
			"a\\x00|b", h(0, "a\x00", "b"),
			"ab|c", h(0, "ab", "c"),
		)},
		{"partition end", ordered(
			"p7 last", idx(7, math.MaxInt64, v(7, long)),
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

func TestIndexKeyRoundTrip(t *testing.T) {
	for _, primary := range [][]byte{
		appendHistoryKey(nil, 0, "", ""),
		appendHistoryKey(nil, 12, "bot\x00", strings.Repeat("\x00", 256)),
		appendVerdictKey(nil, math.MaxInt32, "att-1"),
	} {
		for _, exp := range []int64{math.MinInt64, -1, 0, 1, 1_795_000_000_000, math.MaxInt64} {
			k := appendIndexKey(nil, primary, exp)
			gotExp, gotPrimary, err := parseIndexKey(nil, k)
			if err != nil || gotExp != exp || !bytes.Equal(gotPrimary, primary) {
				t.Errorf("parseIndexKey(%x) = %d, %x, %v; want %d, %x", k, gotExp, gotPrimary, err, exp, primary)
			}
			p1, _ := keyPartition(primary)
			p2, _ := keyPartition(k)
			if p1 != p2 {
				t.Errorf("partition %d != %d", p1, p2)
			}
		}
	}
	if _, _, err := parseIndexKey(nil, appendPositionKey(nil, 1)); err == nil {
		t.Error("parseIndexKey(position key): no error")
	}
}
