package events

import "math"

// numClass classifies a JSON number literal against JSON Schema "integer".
type numClass uint8

const (
	numInt  numClass = iota // an integer that fits int64
	numFrac                 // not an integer (e.g. 1.5)
	numHuge                 // an integer above math.MaxInt64
	numTiny                 // an integer below math.MinInt64
)

// intValue returns the value of a syntactically valid JSON number literal
// when it is an integer in int64 range. Like JSON Schema, it treats any
// number whose value is an integer as one: 42, 42.0, 4.2e1 and 4200e-2 are
// all 42.
func intValue(lit []byte) (int64, numClass) {
	i := 0
	neg := false
	if i < len(lit) && lit[i] == '-' {
		neg = true
		i++
	}
	// The mantissa digits are lit[i:mEnd] without the '.', if any.
	mStart := i
	fracLen := 0
	for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
		i++
	}
	if i < len(lit) && lit[i] == '.' {
		i++
		for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
			i++
			fracLen++
		}
	}
	mEnd := i
	exp := 0
	if i < len(lit) && (lit[i] == 'e' || lit[i] == 'E') {
		i++
		eneg := false
		if i < len(lit) && (lit[i] == '+' || lit[i] == '-') {
			eneg = lit[i] == '-'
			i++
		}
		for ; i < len(lit); i++ {
			if exp < 1e9 {
				exp = exp*10 + int(lit[i]-'0')
			}
		}
		if eneg {
			exp = -exp
		}
	}
	// First and last non-zero mantissa digits.
	first, last := -1, -1
	for j := mStart; j < mEnd; j++ {
		if c := lit[j]; c >= '1' && c <= '9' {
			if first < 0 {
				first = j
			}
			last = j
		}
	}
	if first < 0 {
		return 0, numInt // zero, however written
	}
	// Trailing zeros after the last non-zero digit scale by 10 each.
	tz := 0
	for j := last + 1; j < mEnd; j++ {
		if lit[j] != '.' {
			tz++
		}
	}
	e := exp - fracLen + tz // value = sig * 10^e
	if e < 0 {
		return 0, numFrac
	}
	nsig := 0
	for j := first; j <= last; j++ {
		if lit[j] != '.' {
			nsig++
		}
	}
	if nsig+e > 19 {
		return hugeOrTiny(neg)
	}
	var u uint64
	for j := first; j <= last; j++ {
		if lit[j] != '.' {
			u = u*10 + uint64(lit[j]-'0')
		}
	}
	for ; e > 0; e-- {
		u *= 10
	}
	// u < 10^19 < 2^64; compare against the int64 bounds.
	if !neg {
		if u > math.MaxInt64 {
			return 0, numHuge
		}
		return int64(u), numInt
	}
	if u > 1<<63 {
		return 0, numTiny
	}
	return -int64(u), numInt
}

func hugeOrTiny(neg bool) (int64, numClass) {
	if neg {
		return 0, numTiny
	}
	return 0, numHuge
}
