package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/sendgate/sendgate/quota"
)

// valueVersion is the format version byte every value starts with.
const valueVersion byte = 1

var errTruncated = errors.New("truncated value")

// reader decodes varints from a value, remembering the first error.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// varint reads a zig-zag encoded signed varint, as binary.Varint does.
func (r *reader) varint() int64 {
	u := r.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail(errTruncated)
		return 0
	}
	r.off += n
	return v
}

func (r *reader) byte() byte {
	if r.off >= len(r.b) {
		r.fail(errTruncated)
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

// span reads a length-prefixed string and returns its offsets in r.b.
func (r *reader) span() (start, end int) {
	n := r.uvarint()
	if r.err != nil {
		return 0, 0
	}
	if n > uint64(len(r.b)-r.off) {
		r.fail(errTruncated)
		return 0, 0
	}
	start = r.off
	r.off += int(n)
	return start, r.off
}

// version checks the leading version byte.
func (r *reader) version() {
	if v := r.byte(); r.err == nil && v != valueVersion {
		r.fail(fmt.Errorf("unknown value version %d", v))
	}
}

// done reports the first error, or trailing bytes.
func (r *reader) done() error {
	if r.err == nil && r.off != len(r.b) {
		r.fail(fmt.Errorf("%d trailing bytes", len(r.b)-r.off))
	}
	return r.err
}

// appendHeader appends the header of an expiring value.
func appendHeader(dst []byte, expireAt int64) []byte {
	return binary.AppendVarint(append(dst, valueVersion), expireAt)
}

// decodeHeader returns the expiry of an expiring (history or verdict) value
// and the offset of its body.
func decodeHeader(val []byte) (expireAt int64, body int, err error) {
	r := reader{b: val}
	r.version()
	expireAt = r.varint()
	return expireAt, r.off, r.err
}

// historyEncoder encodes history values, reusing its scratch between calls.
type historyEncoder struct {
	agents []string          // dictionary, in first-use order
	idx    []uint32          // dictionary index of each send
	m      map[string]uint32 // used once the dictionary is large
}

// dictLinearMax is the dictionary size up to which agents are looked up by a
// linear scan (no map, no allocation).
const dictLinearMax = 16

// encode appends the history value of sends (which should ascend by At) to
// dst:
//
//	version, expireAt varint, n uvarint, nAgents uvarint, agents (length-prefixed),
//	n × { ΔAt varint, agent index uvarint, attempt (length-prefixed) }
//
// The first ΔAt is expireAt-At[0] (small: about one window), the next ones
// At[i]-At[i-1].
func (e *historyEncoder) encode(dst []byte, sends []quota.Send, expireAt int64) []byte {
	e.agents = e.agents[:0]
	e.idx = e.idx[:0]
	useMap := false
	for i := range sends {
		a := sends[i].Agent
		j, ok := uint32(0), false
		if useMap {
			j, ok = e.m[a]
		} else {
			for k, s := range e.agents {
				if s == a {
					j, ok = uint32(k), true
					break
				}
			}
		}
		if !ok {
			j = uint32(len(e.agents))
			e.agents = append(e.agents, a)
			switch {
			case useMap:
				e.m[a] = j
			case len(e.agents) > dictLinearMax:
				useMap = true
				if e.m == nil {
					e.m = make(map[string]uint32, 4*dictLinearMax)
				}
				clear(e.m)
				for k, s := range e.agents {
					e.m[s] = uint32(k)
				}
			}
		}
		e.idx = append(e.idx, j)
	}

	dst = appendHeader(dst, expireAt)
	dst = binary.AppendUvarint(dst, uint64(len(sends)))
	dst = binary.AppendUvarint(dst, uint64(len(e.agents)))
	for _, a := range e.agents {
		dst = appendID(dst, a)
	}
	prev := expireAt
	for i := range sends {
		s := &sends[i]
		if i == 0 {
			dst = binary.AppendVarint(dst, expireAt-s.At)
		} else {
			dst = binary.AppendVarint(dst, s.At-prev)
		}
		prev = s.At
		dst = binary.AppendUvarint(dst, uint64(e.idx[i]))
		dst = appendID(dst, s.Attempt)
	}
	return dst
}

// decodeHistory appends the sends of a history value to dst. The strings are
// substrings of one copy of val, so they never alias val's memory.
func decodeHistory(dst []quota.Send, val []byte) ([]quota.Send, error) {
	r := reader{b: val}
	r.version()
	expireAt := r.varint()
	n := r.uvarint()
	nAgents := r.uvarint()
	if r.err != nil {
		return dst, r.err
	}
	// Every send takes at least 3 bytes and every agent at least 1.
	if n > uint64(len(val)) || nAgents > uint64(len(val)) {
		return dst, fmt.Errorf("implausible counts: %d sends, %d agents in %d bytes", n, nAgents, len(val))
	}
	s := string(val)
	var small [8]string
	agents := small[:0]
	for range nAgents {
		i, j := r.span()
		agents = append(agents, s[i:j])
	}
	dst = slices.Grow(dst, int(n))
	prev := expireAt
	for k := range n {
		d := r.varint()
		at := prev + d
		if k == 0 {
			at = expireAt - d
		}
		prev = at
		ai := r.uvarint()
		i, j := r.span()
		if r.err != nil {
			break
		}
		if ai >= uint64(len(agents)) {
			r.fail(fmt.Errorf("agent index %d out of %d", ai, len(agents)))
			break
		}
		dst = append(dst, quota.Send{At: at, Agent: agents[ai], Attempt: s[i:j]})
	}
	return dst, r.done()
}

// appendVerdictValue appends a verdict value: header, then v as is.
func appendVerdictValue(dst []byte, v []byte, expireAt int64) []byte {
	return append(appendHeader(dst, expireAt), v...)
}

func appendPositionValue(dst []byte, pos Position) []byte {
	dst = append(dst, valueVersion)
	dst = binary.AppendVarint(dst, pos.Offset)
	dst = binary.AppendVarint(dst, pos.HWM)
	dst = binary.AppendVarint(dst, pos.ChangelogEnd)
	return binary.AppendVarint(dst, pos.BatchStart)
}

func decodePosition(val []byte) (Position, error) {
	r := reader{b: val}
	r.version()
	pos := Position{Offset: r.varint(), HWM: r.varint(), ChangelogEnd: r.varint(), BatchStart: r.varint()}
	return pos, r.done()
}

const flagEnabled byte = 1

func appendSettingsValue(dst []byte, bs BotSettings) []byte {
	dst = append(dst, valueVersion)
	dst = binary.AppendVarint(dst, bs.Settings.Version)
	var flags byte
	if bs.Settings.Enabled {
		flags |= flagEnabled
	}
	dst = append(dst, flags)
	dst = binary.AppendVarint(dst, int64(bs.Settings.Max))
	dst = binary.AppendVarint(dst, bs.Settings.WindowMs)
	dst = append(dst, byte(bs.Settings.Scope))
	return binary.AppendVarint(dst, bs.Floor)
}

func decodeSettings(val []byte) (BotSettings, error) {
	r := reader{b: val}
	r.version()
	var bs BotSettings
	bs.Settings.Version = r.varint()
	flags := r.byte()
	bs.Settings.Enabled = flags&flagEnabled != 0
	bs.Settings.Max = int(r.varint())
	bs.Settings.WindowMs = r.varint()
	bs.Settings.Scope = quota.Scope(r.byte())
	bs.Floor = r.varint()
	return bs, r.done()
}

func appendOffsetValue(dst []byte, next int64) []byte {
	return binary.AppendVarint(append(dst, valueVersion), next)
}

func decodeOffset(val []byte) (int64, error) {
	r := reader{b: val}
	r.version()
	v := r.varint()
	return v, r.done()
}
