package events

import (
	"math"
	"math/big"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// wantInt computes intValue's answer with big.Rat, as the JSON Schema
// validator does.
func wantInt(lit string) (int64, numClass) {
	r, ok := new(big.Rat).SetString(lit)
	if !ok {
		panic(lit)
	}
	if !r.IsInt() {
		return 0, numFrac
	}
	n := r.Num()
	switch {
	case n.IsInt64():
		return n.Int64(), numInt
	case n.Sign() > 0:
		return 0, numHuge
	}
	return 0, numTiny
}

func TestIntValue(t *testing.T) {
	lits := []string{
		"0", "-0", "0.0", "0e5", "0.000e-7", "1", "-1", "42", "42.0", "4.2e1", "4200e-2", "4.20E+1",
		"1.5", "-1.5", "1e-1", "10e-1", "100e-2", "1000e-4", "123456789012345678901234567890e-29",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
		"9223372036854775807.0", "92233720368547758070e-1", "9.223372036854775807e18", "9.223372036854775808e18",
		"1e18", "1e19", "1e400", "-1e400", "1e-400", "12345678901234567890123456789", "0.1e1", "0.01e1",
		"1000000000000000000000000000000e-30", "1000000000000000000000000000001e-30", "1e0000000000000000000000000001",
		"5e-0000000000", "0.5e1", "18446744073709551616", "18446744073709551615e0",
	}
	for _, l := range lits {
		v, c := intValue([]byte(l))
		wv, wc := wantInt(l)
		if v != wv || c != wc {
			t.Errorf("intValue(%s) = %d, %d; want %d, %d", l, v, c, wv, wc)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		if rng.IntN(3) == 0 {
			b.WriteByte('-')
		}
		nd := 1 + rng.IntN(22)
		for k := range nd {
			d := byte('0' + rng.IntN(10))
			if rng.IntN(3) == 0 {
				d = '0'
			}
			if k == 0 && nd > 1 && d == '0' {
				d = '1'
			}
			b.WriteByte(d)
		}
		if rng.IntN(2) == 0 {
			b.WriteByte('.')
			for range 1 + rng.IntN(5) {
				b.WriteByte('0' + byte(rng.IntN(2)*rng.IntN(10)))
			}
		}
		if rng.IntN(2) == 0 {
			b.WriteString("e")
			b.WriteString(strconv.Itoa(rng.IntN(50) - 25))
		}
		l := b.String()
		s := scanner{b: []byte(l)}
		if !s.num() || s.i != len(l) {
			continue
		}
		v, c := intValue([]byte(l))
		wv, wc := wantInt(l)
		if v != wv || c != wc {
			t.Fatalf("intValue(%s) = %d, %d; want %d, %d", l, v, c, wv, wc)
		}
	}
}

func TestAppendTime(t *testing.T) {
	check := func(ms int64) {
		t.Helper()
		want := time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
		got := string(AppendTime(nil, ms))
		if got != want {
			t.Fatalf("AppendTime(%d) = %s, want %s", ms, got, want)
		}
		if ms < minTimeMs || ms > maxTimeMs {
			return
		}
		if back, ok := parseMillis(got); !ok || back != ms {
			t.Fatalf("parseMillis(%s) = %d, %v; want %d", got, back, ok, ms)
		}
		if !validDateTime([]byte(got)) {
			t.Fatalf("validDateTime(%s) = false", got)
		}
	}
	for _, ms := range []int64{0, -1, 1, 1795687380000, minTimeMs, maxTimeMs, minTimeMs - 1, maxTimeMs + 1,
		951782400000, 951868799999, 4107542400000, -62135596800000, math.MaxInt64 / 1000000, math.MinInt64 / 1000000} {
		check(ms)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		check(minTimeMs + rng.Int64N(maxTimeMs-minTimeMs+1))
	}
}

func TestParseMillisRejects(t *testing.T) {
	for _, s := range []string{"", "2026-11-26T10:03:00Z", "2026-11-26T10:03:00.000+00:00", "2026-02-29T10:03:00.000Z",
		"2026-11-26T10:03:60.000Z", "2026-13-26T10:03:00.000Z", "2026-11-26t10:03:00.000Z", "+026-11-26T10:03:00.000Z",
		"2026-11-26T10:03:00.00aZ", "2026-11-00T10:03:00.000Z", "2026-11-26T24:00:00.000Z"} {
		if _, ok := parseMillis(s); ok {
			t.Errorf("parseMillis(%q) accepted", s)
		}
	}
}

func TestValidDateTime(t *testing.T) {
	for s, want := range map[string]bool{
		"2026-11-26T10:00:00Z":           true,
		"2026-11-26t10:00:00z":           true,
		"2026-11-26T10:00:00.1+01:00":    true,
		"2024-02-29T00:00:00Z":           true,
		"2000-02-29T00:00:00Z":           true,
		"1900-02-29T00:00:00Z":           false,
		"2016-12-31T23:59:60Z":           true,
		"2016-12-31T23:59:60+00:00":      true,
		"2017-01-01T00:59:60+01:00":      true,
		"2016-12-31T22:59:60-01:00":      true,
		"2016-12-31T23:58:60Z":           false,
		"2016-12-31T23:59:61Z":           false,
		"2026-11-26T10:00:00":            false,
		"2026-11-26T10:00:00+01":         false,
		"2026-11-26T10:00:00+0100":       false,
		"2026-11-26T10:00:00+24:00":      false,
		"2026-11-26T10:00:00+01:60":      false,
		"2026-11-26T10:00:00.Z":          false,
		"2026-11-26 10:00:00Z":           false,
		"2026-11-26T10:00Z":              false,
		"2026-11-26T+1:00:00Z":           false,
		"2026-1-26T10:00:00Z":            false,
		"2026-11-26T10:00:00ZZ":          false,
		"0000-01-01T00:00:00Z":           true,
		"9999-12-31T23:59:59.999999999Z": true,
	} {
		if got := validDateTime([]byte(s)); got != want {
			t.Errorf("validDateTime(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestDepth(t *testing.T) {
	doc := func(n int) []byte {
		return []byte(`{"x":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`)
	}
	// Like encoding/json: at most maxDepth nested arrays and objects,
	// the top-level object included.
	s := scanner{b: doc(maxDepth - 1)}
	if !s.skip(0) || !s.end() {
		t.Fatalf("depth %d rejected: %v", maxDepth, s.err)
	}
	s = scanner{b: doc(maxDepth)}
	if s.skip(0) {
		t.Fatalf("depth %d accepted", maxDepth+1)
	}
}

func TestSpecial8(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	interesting := []byte{0, 0x1f, 0x20, 0x21, '"', '\\', 0x5b, 0x5d, 0x7e, 0x7f, 0x80, 0xc3, 0xff, 'a', '0'}
	var w [8]byte
	for range 200000 {
		for k := range w {
			if rng.IntN(2) == 0 {
				w[k] = interesting[rng.IntN(len(interesting))]
			} else {
				w[k] = byte(rng.IntN(256))
			}
		}
		want := 8
		for k, c := range w {
			if !plain[c] {
				want = k
				break
			}
		}
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		got := 8
		if m := special8(x); m != 0 {
			got = bits.TrailingZeros64(m) >> 3
		}
		if got != want {
			t.Fatalf("special8(%q): first special byte %d, want %d", w[:], got, want)
		}
	}
}
