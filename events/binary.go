package events

import (
	"encoding/binary"
	"errors"

	"github.com/sendgate/sendgate/quota"
)

// binaryVersion is the first byte of the binary form of a Verdict.
const binaryVersion = 1

// errBinary is returned by UnmarshalBinary for malformed input.
var errBinary = errors.New("events: malformed binary verdict")

// AppendBinary appends the compact binary form of v, for the state store:
//
//	version byte (1), outcome, reason, scope, flags (bit 0: Enabled),
//	Limit, Used, Remaining, WindowSeconds, RetryAt, RetryAfterSeconds,
//	DecidedAt, SettingsVersion as zig-zag varints,
//	the lengths of AttemptID, BotID, ContactID, AgentID, Error as uvarints,
//	then those strings' bytes.
//
// Every field is kept, so AppendVerdict of the decoded value equals
// AppendVerdict of v. It does not allocate when dst has room.
func (v *Verdict) AppendBinary(dst []byte) []byte {
	var flags byte
	if v.Enabled {
		flags = 1
	}
	dst = append(dst, binaryVersion, byte(v.Outcome), byte(v.Reason), byte(v.Scope), flags)
	dst = binary.AppendVarint(dst, int64(v.Limit))
	dst = binary.AppendVarint(dst, int64(v.Used))
	dst = binary.AppendVarint(dst, int64(v.Remaining))
	dst = binary.AppendVarint(dst, v.WindowSeconds)
	dst = binary.AppendVarint(dst, v.RetryAt)
	dst = binary.AppendVarint(dst, v.RetryAfterSeconds)
	dst = binary.AppendVarint(dst, v.DecidedAt)
	dst = binary.AppendVarint(dst, v.SettingsVersion)
	dst = binary.AppendUvarint(dst, uint64(len(v.AttemptID)))
	dst = binary.AppendUvarint(dst, uint64(len(v.BotID)))
	dst = binary.AppendUvarint(dst, uint64(len(v.ContactID)))
	dst = binary.AppendUvarint(dst, uint64(len(v.AgentID)))
	dst = binary.AppendUvarint(dst, uint64(len(v.Error)))
	dst = append(dst, v.AttemptID...)
	dst = append(dst, v.BotID...)
	dst = append(dst, v.ContactID...)
	dst = append(dst, v.AgentID...)
	return append(dst, v.Error...)
}

// UnmarshalBinary decodes the form AppendBinary writes, replacing all of
// v. It accepts only that exact (canonical) encoding of a verdict with a
// known outcome, reason and scope: anything else, including trailing
// bytes, is an error. The strings do not alias b (one allocation).
func (v *Verdict) UnmarshalBinary(b []byte) error {
	if len(b) < 5 || b[0] != binaryVersion {
		return errBinary
	}
	o, r, sc, flags := Outcome(b[1]), Reason(b[2]), b[3], b[4]
	if o < Allowed || o > Rejected || r < WithinLimit || r > InvalidRequest || sc > 1 || flags > 1 {
		return errBinary
	}
	b = b[5:]
	var ints [8]int64
	for k := range ints {
		x, n := binary.Varint(b)
		if n <= 0 || (n > 1 && b[n-1] == 0) {
			return errBinary
		}
		ints[k] = x
		b = b[n:]
	}
	var lens [5]int
	total := 0
	for k := range lens {
		x, n := binary.Uvarint(b)
		if n <= 0 || (n > 1 && b[n-1] == 0) || x > uint64(len(b)) {
			return errBinary
		}
		lens[k] = int(x)
		total += int(x)
		b = b[n:]
	}
	if total != len(b) {
		return errBinary
	}
	all := string(b)
	var strs [5]string
	for k, n := range lens {
		strs[k], all = all[:n], all[n:]
	}
	*v = Verdict{
		AttemptID:         strs[0],
		BotID:             strs[1],
		ContactID:         strs[2],
		AgentID:           strs[3],
		Outcome:           o,
		Reason:            r,
		Scope:             quota.Scope(sc),
		Enabled:           flags == 1,
		Limit:             int(ints[0]),
		Used:              int(ints[1]),
		Remaining:         int(ints[2]),
		WindowSeconds:     ints[3],
		RetryAt:           ints[4],
		RetryAfterSeconds: ints[5],
		DecidedAt:         ints[6],
		SettingsVersion:   ints[7],
		Error:             strs[4],
	}
	return nil
}
