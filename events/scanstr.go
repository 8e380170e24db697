package events

import (
	"encoding/binary"
	"math/bits"
	"strings"
	"unicode/utf8"
)

// The scanner's strings: reading and validating them, decoding escapes,
// comparing and copying decoded text.

// str reads a string at s.i (which is '"') into f, validating UTF-8 and
// escapes and computing the decoded length.
func (s *scanner) str(f *field) bool {
	b := s.b
	i := s.i + 1
	start := i
	n := 0 // bytes of decoded text contributed by escapes beyond raw copies
	esc := false
	for {
		// Fast path: plain ASCII.
		for i+8 <= len(b) {
			if m := special8(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		for i < len(b) && plain[b[i]] {
			i++
		}
		if i >= len(b) {
			s.i = i
			return s.syntax("unterminated string")
		}
		c := b[i]
		switch {
		case c == '"':
			*f = field{raw: b[start:i], kind: kString, esc: esc, n: i - start + n}
			s.i = i + 1
			return true
		case c < 0x20:
			s.i = i
			return s.syntax("control character in string")
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				s.i = i
				return s.syntax("unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				n -= 1 // two raw bytes, one decoded
				i += 2
			case 'u':
				r, ok := hex4(b, i+2)
				if !ok {
					s.i = i
					return s.syntax("invalid \\u escape")
				}
				switch {
				case r >= 0xD800 && r < 0xDC00:
					r2, ok := rune(0), false
					if i+11 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
						r2, ok = hex4(b, i+8)
					}
					if !ok || r2 < 0xDC00 || r2 > 0xDFFF {
						s.i = i
						return s.syntax("lone surrogate in \\u escape")
					}
					n += 4 - 12
					i += 12
				case r >= 0xDC00 && r <= 0xDFFF:
					s.i = i
					return s.syntax("lone surrogate in \\u escape")
				default:
					n += utf8.RuneLen(r) - 6
					i += 6
				}
			default:
				s.i = i
				return s.syntax("invalid escape in string")
			}
		default: // c >= 0x80
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size <= 1 {
				s.i = i
				return s.syntax("invalid UTF-8 in string")
			}
			i += size
		}
	}
}

// special8 returns a mask with the high bit set in (at least) the first
// byte of x, little-endian, that is not plain: below 0x20, '"', '\\' or
// 0x80 and above. Bits of later bytes may be set spuriously.
func special8(x uint64) uint64 {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	ctl := (x - ones*0x20) & ^x
	q := x ^ (ones * '"')
	q = (q - ones) & ^q
	bs := x ^ (ones * '\\')
	bs = (bs - ones) & ^bs
	return (ctl | q | bs | x) & high
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// unescape appends the decoded form of raw string contents already
// validated by str.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		switch raw[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(raw, i+2)
			i += 6
			if r >= 0xD800 && r < 0xDC00 {
				r2, _ := hex4(raw, i+2)
				r = (r-0xD800)<<10 | (r2 - 0xDC00) + 0x10000
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, raw[i+1])
		}
		i += 2
	}
	return dst
}

// appendField appends the decoded text of a string field.
func appendField(dst []byte, f *field) []byte {
	if f.esc {
		return unescape(dst, f.raw)
	}
	return append(dst, f.raw...)
}

// eq reports whether string field f decodes to want.
func (s *scanner) eq(f *field, want string) bool {
	if f.kind != kString || f.n != len(want) {
		return false
	}
	if !f.esc {
		return string(f.raw) == want
	}
	return string(unescape(s.scratch[:0], f.raw)) == want
}

// join returns the decoded texts of string fields fs (absent ones
// contribute nothing) as one string, allocated once; the caller slices it
// using the fields' decoded lengths n.
func (s *scanner) join(fs ...*field) string {
	var sb strings.Builder
	n := 0
	for _, f := range fs {
		if f.kind == kString {
			n += f.n
		}
	}
	sb.Grow(n)
	for _, f := range fs {
		if f.kind != kString {
			continue
		}
		if f.esc {
			sb.Write(unescape(s.scratch[:0], f.raw))
		} else {
			sb.Write(f.raw)
		}
	}
	return sb.String()
}
