package events

import (
	"strconv"
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
		i = skipDigits(b, i)
	default:
		return s.syntax("invalid value")
	}
	if i < len(b) && b[i] == '.' {
		d := i + 1
		if i = skipDigits(b, d); i == d {
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
		if i = skipDigits(b, d); i == d {
			s.i = i
			return s.syntax("invalid number")
		}
	}
	s.i = i
	return true
}

// skipDigits returns the index of the first byte at or after i in b that is
// not an ASCII digit.
func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}
