package events

import (
	"encoding/binary"
	"errors"

	"github.com/sendgate/sendgate/quota"
)

// Versions of the binary form of a Verdict (its first byte).
const (
	// binaryVersion is the form of a verdict without the members of rules:
	// every verdict of a bot without rules, the only form before rules.
	binaryVersion = 1
	// binaryVersionRules adds the reason Exempt, Calendar, TimeZone, Rule
	// and Rules.
	binaryVersionRules = 2
)

// errBinary is returned by UnmarshalBinary for malformed input.
var errBinary = errors.New("events: malformed binary verdict")

// hasRuleFields reports whether v needs binaryVersionRules.
func (v *Verdict) hasRuleFields() bool {
	return v.Reason == Exempt || v.Calendar != quota.Rolling || v.TimeZone != "" || v.Rule != "" || v.NumRules != 0
}

// AppendBinary appends the compact binary form of v, for the state store.
// A verdict without Rule, rules, Calendar, TimeZone and not Exempt is
// written in version 1, byte for byte as before rules existed:
//
//	version byte (1), outcome, reason, scope, flags (bit 0: Enabled),
//	Limit, Used, Remaining, WindowSeconds, RetryAt, RetryAfterSeconds,
//	DecidedAt, SettingsVersion as zig-zag varints,
//	the lengths of AttemptID, BotID, ContactID, AgentID, Error as uvarints,
//	then those strings' bytes.
//
// Any other in version 2:
//
//	version byte (2), outcome, reason, scope, flags, calendar, NumRules,
//	the eight varints of version 1,
//	per rule: flags (bit 0: Shadow, bit 1: WouldBlock), Limit, Used,
//	Remaining, RetryAt as zig-zag varints,
//	the lengths of AttemptID, BotID, ContactID, AgentID, Error, Rule,
//	TimeZone and of each rule's Name as uvarints, then those strings' bytes.
//
// Every field is kept, so AppendVerdict of the decoded value equals
// AppendVerdict of v. It does not allocate when dst has room. NumRules
// outside 0..quota.MaxRules is clamped (see RuleUsages).
func (v *Verdict) AppendBinary(dst []byte) []byte {
	var flags byte
	if v.Enabled {
		flags = 1
	}
	rules := v.RuleUsages()
	v2 := v.hasRuleFields()
	if v2 {
		dst = append(dst, binaryVersionRules, byte(v.Outcome), byte(v.Reason), byte(v.Scope), flags,
			byte(v.Calendar), byte(len(rules)))
	} else {
		dst = append(dst, binaryVersion, byte(v.Outcome), byte(v.Reason), byte(v.Scope), flags)
	}
	dst = binary.AppendVarint(dst, int64(v.Limit))
	dst = binary.AppendVarint(dst, int64(v.Used))
	dst = binary.AppendVarint(dst, int64(v.Remaining))
	dst = binary.AppendVarint(dst, v.WindowSeconds)
	dst = binary.AppendVarint(dst, v.RetryAt)
	dst = binary.AppendVarint(dst, v.RetryAfterSeconds)
	dst = binary.AppendVarint(dst, v.DecidedAt)
	dst = binary.AppendVarint(dst, v.SettingsVersion)
	for i := range rules {
		r := &rules[i]
		var rf byte
		if r.Shadow {
			rf |= 1
		}
		if r.WouldBlock {
			rf |= 2
		}
		dst = append(dst, rf)
		dst = binary.AppendVarint(dst, int64(r.Limit))
		dst = binary.AppendVarint(dst, int64(r.Used))
		dst = binary.AppendVarint(dst, int64(r.Remaining))
		dst = binary.AppendVarint(dst, r.RetryAt)
	}
	dst = binary.AppendUvarint(dst, uint64(len(v.AttemptID)))
	dst = binary.AppendUvarint(dst, uint64(len(v.BotID)))
	dst = binary.AppendUvarint(dst, uint64(len(v.ContactID)))
	dst = binary.AppendUvarint(dst, uint64(len(v.AgentID)))
	dst = binary.AppendUvarint(dst, uint64(len(v.Error)))
	if v2 {
		dst = binary.AppendUvarint(dst, uint64(len(v.Rule)))
		dst = binary.AppendUvarint(dst, uint64(len(v.TimeZone)))
		for i := range rules {
			dst = binary.AppendUvarint(dst, uint64(len(rules[i].Name)))
		}
	}
	dst = append(dst, v.AttemptID...)
	dst = append(dst, v.BotID...)
	dst = append(dst, v.ContactID...)
	dst = append(dst, v.AgentID...)
	dst = append(dst, v.Error...)
	if v2 {
		dst = append(dst, v.Rule...)
		dst = append(dst, v.TimeZone...)
		for i := range rules {
			dst = append(dst, rules[i].Name...)
		}
	}
	return dst
}

// binaryReader reads the canonical varints of the binary form.
type binaryReader struct {
	b  []byte
	ok bool
}

func (r *binaryReader) varint() int64 {
	x, n := binary.Varint(r.b)
	if n <= 0 || (n > 1 && r.b[n-1] == 0) {
		r.ok = false
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *binaryReader) length() int {
	x, n := binary.Uvarint(r.b)
	if n <= 0 || (n > 1 && r.b[n-1] == 0) || x > uint64(len(r.b)) {
		r.ok = false
		return 0
	}
	r.b = r.b[n:]
	return int(x)
}

func (r *binaryReader) byte() byte {
	if len(r.b) == 0 {
		r.ok = false
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// UnmarshalBinary decodes the form AppendBinary writes (either version),
// replacing all of v. It accepts only that exact (canonical) encoding of a
// verdict with a known outcome, reason, scope and calendar: anything else,
// including trailing bytes or a version 2 form of a verdict that version 1
// writes, is an error. The strings do not alias b (one allocation).
func (v *Verdict) UnmarshalBinary(b []byte) error {
	if len(b) < 5 || (b[0] != binaryVersion && b[0] != binaryVersionRules) {
		return errBinary
	}
	v2 := b[0] == binaryVersionRules
	o, rs, sc, flags := Outcome(b[1]), Reason(b[2]), b[3], b[4]
	maxReason := InvalidRequest
	if v2 {
		maxReason = Exempt
	}
	if o < Allowed || o > Rejected || rs < WithinLimit || rs > maxReason || sc > 1 || flags > 1 {
		return errBinary
	}
	r := binaryReader{b: b[5:], ok: true}
	var cal quota.Calendar
	var n int
	if v2 {
		cal, n = quota.Calendar(r.byte()), int(r.byte())
		if !r.ok || cal > quota.Month || n > quota.MaxRules {
			return errBinary
		}
	}
	var ints [8]int64
	for k := range ints {
		ints[k] = r.varint()
	}
	var rules [quota.MaxRules]quota.RuleUsage
	for i := range n {
		rf := r.byte()
		if rf > 3 {
			return errBinary
		}
		rules[i] = quota.RuleUsage{Shadow: rf&1 != 0, WouldBlock: rf&2 != 0,
			Limit: int(r.varint()), Used: int(r.varint()), Remaining: int(r.varint()), RetryAt: r.varint()}
	}
	nstr := 5
	if v2 {
		nstr = 7 + n
	}
	var lens [7 + quota.MaxRules]int
	total := 0
	for k := range nstr {
		lens[k] = r.length()
		total += lens[k]
	}
	if !r.ok || total != len(r.b) {
		return errBinary
	}
	all := string(r.b)
	var strs [7 + quota.MaxRules]string
	for k, l := range lens[:nstr] {
		strs[k], all = all[:l], all[l:]
	}
	for i := range n {
		rules[i].Name = strs[7+i]
	}
	*v = Verdict{
		AttemptID:         strs[0],
		BotID:             strs[1],
		ContactID:         strs[2],
		AgentID:           strs[3],
		Outcome:           o,
		Reason:            rs,
		Scope:             quota.Scope(sc),
		Enabled:           flags == 1,
		Limit:             int(ints[0]),
		Used:              int(ints[1]),
		Remaining:         int(ints[2]),
		WindowSeconds:     ints[3],
		Calendar:          cal,
		TimeZone:          strs[6],
		Rule:              strs[5],
		Rules:             rules,
		NumRules:          n,
		RetryAt:           ints[4],
		RetryAfterSeconds: ints[5],
		DecidedAt:         ints[6],
		SettingsVersion:   ints[7],
		Error:             strs[4],
	}
	if v2 && !v.hasRuleFields() {
		*v = Verdict{}
		return errBinary
	}
	return nil
}
