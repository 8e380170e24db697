package events

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"
)

// plain[c] is set for the bytes that stand for themselves in a JSON string
// and need no checking: printable ASCII other than '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// maxDepth bounds the nesting of arrays and objects, as encoding/json does.
const maxDepth = 10000

// scanner is a strict RFC 8259 JSON reader over one complete document. It
// validates everything it passes over (strings, escapes, UTF-8, numbers,
// nesting) and reports the first syntax error; the decoders pick out the
// members they know and skip the rest.
//
// Strings must be valid UTF-8 and their escapes must denote valid Unicode:
// a lone surrogate escape such as "\ud800" is rejected (encoding/json would
// silently turn it into U+FFFD, which could make two distinct ids equal).
type scanner struct {
	b   []byte
	i   int
	err *Error
	// scratch holds decoded keys and values compared against constants.
	scratch [64]byte
}

// kind is what a member's value turned out to be.
type kind uint8

const (
	kAbsent kind = iota
	kString
	kNumber
	kTrue
	kFalse
	kNull
	kObject
	kArray
)

// String names the kind as a JSON Schema type.
func (k kind) String() string {
	switch k {
	case kAbsent:
		return "nothing"
	case kString:
		return "string"
	case kNumber:
		return "number"
	case kTrue, kFalse:
		return "boolean"
	case kNull:
		return "null"
	case kObject:
		return "object"
	case kArray:
		return "array"
	}
	return "?"
}

// field is a member value read by the scanner: its kind and, for strings
// and numbers, its raw text (string contents without the quotes).
type field struct {
	raw  []byte
	kind kind
	esc  bool // raw contains escapes
	n    int  // decoded length in bytes (strings)
}

func (s *scanner) syntax(msg string) bool {
	if s.err == nil {
		s.err = &Error{Field: "value", Msg: "invalid JSON: " + msg + " at offset " + strconv.Itoa(s.i)}
	}
	return false
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte without consuming it, 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// end checks that only white space follows.
func (s *scanner) end() bool {
	s.ws()
	if s.i != len(s.b) {
		return s.syntax("data after the top-level value")
	}
	return true
}

// objectNext advances to the next member of an object whose '{' has been
// consumed. It returns the decoded key and true, or false at the closing '}'
// or on error (s.err set).
func (s *scanner) objectNext(first bool) ([]byte, bool) {
	s.ws()
	if s.i >= len(s.b) {
		return nil, s.syntax("unexpected end in object")
	}
	c := s.b[s.i]
	if c == '}' {
		s.i++
		return nil, false
	}
	if !first {
		if c != ',' {
			return nil, s.syntax("expected ',' or '}' in object")
		}
		s.i++
		s.ws()
	}
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, s.syntax("expected a string key")
	}
	var f field
	if !s.str(&f) {
		return nil, false
	}
	key := f.raw
	if f.esc {
		key = unescape(s.scratch[:0], f.raw)
	}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		return nil, s.syntax("expected ':' after key")
	}
	s.i++
	return key, true
}

// openObject consumes '{' if the next value is an object.
func (s *scanner) openObject() bool {
	if s.peek() == '{' {
		s.i++
		return true
	}
	return false
}

// object reads the next value. When it is an object, object calls member
// for each of its members in order, with the index in keys of the member's
// name, or -1 for a name not in keys; member reads or skips the value and
// returns false on a syntax error. (The callback gets an index rather than
// the key because a key may point into s.scratch, which would make s escape
// to the heap.) Any other value is validated and skipped. object returns the
// value's kind and false on a syntax error (s.err set).
func (s *scanner) object(keys []string, member func(i int) bool) (kind, bool) {
	if !s.openObject() {
		var f field
		ok := s.value(&f)
		return f.kind, ok
	}
	for first := true; ; first = false {
		key, ok := s.objectNext(first)
		if !ok {
			return kObject, s.err == nil
		}
		i := len(keys) - 1
		for i >= 0 && string(key) != keys[i] {
			i--
		}
		if !member(i) {
			return kObject, false
		}
	}
}

// value reads any value into f: strings and numbers keep their raw text,
// other values are validated and skipped.
func (s *scanner) value(f *field) bool {
	*f = field{}
	switch s.peek() {
	case '"':
		return s.str(f)
	case '{':
		f.kind = kObject
		return s.skip(0)
	case '[':
		f.kind = kArray
		return s.skip(0)
	case 't':
		f.kind = kTrue
		return s.lit("true")
	case 'f':
		f.kind = kFalse
		return s.lit("false")
	case 'n':
		f.kind = kNull
		return s.lit("null")
	default:
		start := s.i
		if !s.num() {
			return false
		}
		f.kind = kNumber
		f.raw = s.b[start:s.i]
		return true
	}
}

func (s *scanner) lit(w string) bool {
	if len(s.b)-s.i < len(w) || string(s.b[s.i:s.i+len(w)]) != w {
		return s.syntax("invalid literal")
	}
	s.i += len(w)
	return true
}

// skip validates and skips one value.
func (s *scanner) skip(depth int) bool {
	switch s.peek() {
	case '"':
		var f field
		return s.str(&f)
	case '{':
		if depth >= maxDepth {
			return s.syntax("nesting too deep")
		}
		s.i++
		for first := true; ; first = false {
			if _, ok := s.objectNext(first); !ok {
				return s.err == nil
			}
			if !s.skip(depth + 1) {
				return false
			}
		}
	case '[':
		if depth >= maxDepth {
			return s.syntax("nesting too deep")
		}
		s.i++
		if s.peek() == ']' {
			s.i++
			return true
		}
		for {
			if !s.skip(depth + 1) {
				return false
			}
			switch s.peek() {
			case ',':
				s.i++
			case ']':
				s.i++
				return true
			default:
				return s.syntax("expected ',' or ']' in array")
			}
		}
	case 't':
		return s.lit("true")
	case 'f':
		return s.lit("false")
	case 'n':
		return s.lit("null")
	case 0:
		if s.i >= len(s.b) {
			return s.syntax("unexpected end of input")
		}
		return s.syntax("unexpected character")
	default:
		return s.num()
	}
}

// num validates a number: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
func (s *scanner) num() bool {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return s.syntax("invalid value")
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			s.i = i
			return s.syntax("invalid number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			s.i = i
			return s.syntax("invalid number")
		}
	}
	s.i = i
	return true
}

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

// join returns the decoded texts of string fields a, b, c, d (absent ones
// contribute nothing) as one string, allocated once; the caller slices it
// using the fields' decoded lengths n.
func (s *scanner) join(a, b, c, d *field) string {
	var sb strings.Builder
	sb.Grow(a.n + b.n + c.n + d.n)
	for _, f := range [...]*field{a, b, c, d} {
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
