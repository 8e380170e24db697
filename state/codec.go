package state

import (
	"encoding/binary"
	"errors"
	"fmt"
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

func appendOffsetValue(dst []byte, next int64) []byte {
	return binary.AppendVarint(append(dst, valueVersion), next)
}

func decodeOffset(val []byte) (int64, error) {
	r := reader{b: val}
	r.version()
	v := r.varint()
	return v, r.done()
}
