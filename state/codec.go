package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
	_ "time/tzdata" // the zones of stored calendar rules, on any machine

	"github.com/sendgate/sendgate/quota"
)

// valueVersion is the format version byte every value starts with.
const valueVersion byte = 1

// historyCategories is the version byte of a history value whose sends carry
// template categories (historyEncoder.encode); a history without any is
// written as valueVersion, as before categories existed.
const historyCategories byte = 2

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
	if v := r.byte(); r.err == nil && v != valueVersion && v != historyCategories {
		r.fail(fmt.Errorf("unknown value version %d", v))
	}
	expireAt = r.varint()
	return expireAt, r.off, r.err
}

// historyEncoder encodes history values, reusing its scratch between calls.
type historyEncoder struct {
	agents []string          // dictionary, in first-use order
	idx    []uint32          // dictionary index of each send
	m      map[string]uint32 // used once the dictionary is large
	cats   []string          // categories, in first-use order
}

// dictLinearMax is the dictionary size up to which agents are looked up by a
// linear scan (no map, no allocation).
const dictLinearMax = 16

// encode appends the history value of sends (which should ascend by At) to
// dst:
//
//	version, expireAt varint, n uvarint, nAgents uvarint, agents (length-prefixed),
//	[nCats uvarint, categories (length-prefixed)],
//	n × { ΔAt varint, agent index uvarint, [category uvarint], attempt (length-prefixed) }
//
// The first ΔAt is expireAt-At[0] (small: about one window), the next ones
// At[i]-At[i-1]. The bracketed parts are there only when some send has a
// category (version historyCategories); a send's category is 0 for none,
// i+1 for categories[i].
func (e *historyEncoder) encode(dst []byte, sends []quota.Send, expireAt int64) []byte {
	e.agents = e.agents[:0]
	e.idx = e.idx[:0]
	e.cats = e.cats[:0]
	useMap := false
	for i := range sends {
		if c := sends[i].Category; c != "" && !slices.Contains(e.cats, c) {
			e.cats = append(e.cats, c)
		}
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

	cats := len(e.cats) > 0
	if cats {
		dst = binary.AppendVarint(append(dst, historyCategories), expireAt)
	} else {
		dst = appendHeader(dst, expireAt)
	}
	dst = binary.AppendUvarint(dst, uint64(len(sends)))
	dst = binary.AppendUvarint(dst, uint64(len(e.agents)))
	for _, a := range e.agents {
		dst = appendID(dst, a)
	}
	if cats {
		dst = binary.AppendUvarint(dst, uint64(len(e.cats)))
		for _, c := range e.cats {
			dst = appendID(dst, c)
		}
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
		if cats {
			c := 0
			if s.Category != "" {
				c = slices.Index(e.cats, s.Category) + 1
			}
			dst = binary.AppendUvarint(dst, uint64(c))
		}
		dst = appendID(dst, s.Attempt)
	}
	return dst
}

// decodeHistory appends the sends of a history value to dst. The strings are
// substrings of one copy of val, so they never alias val's memory.
func decodeHistory(dst []quota.Send, val []byte) ([]quota.Send, error) {
	r := reader{b: val}
	version := r.byte()
	if r.err == nil && version != valueVersion && version != historyCategories {
		r.fail(fmt.Errorf("unknown value version %d", version))
	}
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
	var cats []string
	if version == historyCategories {
		nCats := r.uvarint()
		if nCats > uint64(len(val)) {
			return dst, fmt.Errorf("implausible count: %d categories in %d bytes", nCats, len(val))
		}
		cats = make([]string, 1, nCats+1) // cats[0] is none
		for range nCats {
			i, j := r.span()
			cats = append(cats, s[i:j])
		}
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
		var ci uint64
		if cats != nil {
			ci = r.uvarint()
		}
		i, j := r.span()
		if r.err != nil {
			break
		}
		if ai >= uint64(len(agents)) {
			r.fail(fmt.Errorf("agent index %d out of %d", ai, len(agents)))
			break
		}
		var cat string
		if cats != nil {
			if ci >= uint64(len(cats)) {
				r.fail(fmt.Errorf("category index %d out of %d", ci, len(cats)-1))
				break
			}
			cat = cats[ci]
		}
		dst = append(dst, quota.Send{At: at, Agent: agents[ai], Attempt: s[i:j], Category: cat})
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
	dst = binary.AppendVarint(dst, pos.BatchStart)
	return binary.AppendVarint(dst, pos.BatchStartHWM)
}

func decodePosition(val []byte) (Position, error) {
	r := reader{b: val}
	r.version()
	pos := Position{Offset: r.varint(), HWM: r.varint(), ChangelogEnd: r.varint(), BatchStart: r.varint()}
	pos.BatchStartHWM = -1 // absent from positions written before it was kept
	if r.err == nil && r.off < len(r.b) {
		pos.BatchStartHWM = r.varint()
	}
	return pos, r.done()
}

// Settings value flags.
const (
	flagEnabled byte = 1 << iota
	// flagRules: the value ends with the exempt categories and the rules.
	flagRules
)

// Rule flags.
const ruleShadow byte = 1

// appendSettingsValue appends a settings value:
//
//	version, Version varint, flags, Max varint, WindowMs varint, Scope, Floor varint,
//	[exempt (list), nRules uvarint, nRules × rule]
//
// where a list is a count then length-prefixed strings, and a rule is its
// name, Max varint, WindowMs varint, Calendar, zone name, Scope, flags and
// categories (count+1, 0 for none). The bracketed part is there only with
// flagRules.
func appendSettingsValue(dst []byte, bs BotSettings) []byte {
	st := &bs.Settings
	dst = append(dst, valueVersion)
	dst = binary.AppendVarint(dst, st.Version)
	var flags byte
	if st.Enabled {
		flags |= flagEnabled
	}
	if st.HasRules() {
		flags |= flagRules
	}
	dst = append(dst, flags)
	dst = binary.AppendVarint(dst, int64(st.Max))
	dst = binary.AppendVarint(dst, st.WindowMs)
	dst = append(dst, byte(st.Scope))
	dst = binary.AppendVarint(dst, bs.Floor)
	if flags&flagRules == 0 {
		return dst
	}
	dst = appendList(dst, st.Exempt)
	dst = binary.AppendUvarint(dst, uint64(len(st.Rules)))
	for i := range st.Rules {
		r := &st.Rules[i]
		dst = appendID(dst, r.Name)
		dst = binary.AppendVarint(dst, int64(r.Max))
		dst = binary.AppendVarint(dst, r.WindowMs)
		dst = append(dst, byte(r.Calendar))
		dst = appendID(dst, r.ZoneName())
		var rf byte
		if r.Shadow {
			rf |= ruleShadow
		}
		dst = append(dst, byte(r.Scope), rf)
		if r.Categories == nil {
			dst = binary.AppendUvarint(dst, 0)
		} else {
			dst = binary.AppendUvarint(dst, uint64(len(r.Categories))+1)
			for _, c := range r.Categories {
				dst = appendID(dst, c)
			}
		}
	}
	return dst
}

func appendList(dst []byte, l []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(l)))
	for _, x := range l {
		dst = appendID(dst, x)
	}
	return dst
}

func decodeSettings(val []byte) (BotSettings, error) {
	r := reader{b: val}
	r.version()
	var bs BotSettings
	st := &bs.Settings
	st.Version = r.varint()
	flags := r.byte()
	st.Enabled = flags&flagEnabled != 0
	st.Max = int(r.varint())
	st.WindowMs = r.varint()
	st.Scope = quota.Scope(r.byte())
	bs.Floor = r.varint()
	if flags&flagRules != 0 {
		st.Exempt = r.list(r.uvarint())
		n := r.uvarint()
		if r.err == nil && n > quota.MaxRules {
			r.fail(fmt.Errorf("%d rules, at most %d", n, quota.MaxRules-1))
		}
		for range n {
			if r.err != nil {
				break
			}
			ru := quota.Rule{Name: r.str(), Max: int(r.varint()), WindowMs: r.varint(), Calendar: quota.Calendar(r.byte())}
			if zone := r.str(); zone != "" && zone != "UTC" && r.err == nil { // nil is UTC, as events decodes it
				loc, err := loadZone(zone)
				if err != nil {
					r.fail(err)
				}
				ru.Zone = loc
			}
			ru.Scope = quota.Scope(r.byte())
			ru.Shadow = r.byte()&ruleShadow != 0
			if c := r.uvarint(); c > 0 {
				ru.Categories = append([]string{}, r.list(c-1)...)
			}
			st.Rules = append(st.Rules, ru)
		}
	}
	return bs, r.done()
}

// str reads a length-prefixed string.
func (r *reader) str() string {
	i, j := r.span()
	return string(r.b[i:j])
}

// list reads n length-prefixed strings; nil when n is 0.
func (r *reader) list(n uint64) []string {
	if r.err != nil || n == 0 {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail(fmt.Errorf("implausible count %d", n))
		return nil
	}
	l := make([]string, 0, n)
	for range n {
		l = append(l, r.str())
	}
	return l
}

// zones caches the locations of the calendar rules' time zones.
var zones sync.Map // name -> *time.Location

// loadZone returns the location of an IANA zone name.
func loadZone(name string) (*time.Location, error) {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	zones.Store(name, l)
	return l, nil
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
