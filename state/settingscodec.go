package state

import (
	"encoding/binary"
	"fmt"
	"sync"
	"time"
	_ "time/tzdata" // the zones of stored calendar rules, on any machine

	"github.com/sendgate/sendgate/quota"
)

// The settings value: a bot's settings in force, rules included, and its
// version floor.

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
