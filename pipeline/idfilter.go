package pipeline

import (
	"hash/maphash"
	"math/bits"
)

// idFilter is a Bloom filter over the attempt ids that have a stored verdict
// in one partition. It has no false negatives, so an id it does not contain
// is new and needs no idempotency lookup in Pebble; about 1% of new ids are
// false positives and are looked up. Ids are never removed: when more ids
// were added than it was sized for, the partition rebuilds it from the
// store (which has dropped expired verdicts by then).
type idFilter struct {
	bits []uint64
	m    uint64 // number of bits
	n    int    // ids added
	cap  int    // ids it is sized for
}

const (
	filterBitsPerID = 10 // with filterHashes, ~1% false positives
	filterHashes    = 7
	filterMinCap    = 1 << 14
)

var filterSeed = maphash.MakeSeed()

func newIDFilter(capacity int) *idFilter {
	capacity = max(capacity, filterMinCap)
	m := uint64(capacity * filterBitsPerID)
	m = (m + 63) &^ 63
	return &idFilter{bits: make([]uint64, m/64), m: m, cap: capacity}
}

func hashID(id string) uint64 { return maphash.String(filterSeed, id) }

func (f *idFilter) addHash(h uint64) {
	h1, h2 := h, bits.RotateLeft64(h, 32)|1
	for i := uint64(0); i < filterHashes; i++ {
		b := (h1 + i*h2) % f.m
		f.bits[b/64] |= 1 << (b % 64)
	}
	f.n++
}

func (f *idFilter) mayContainHash(h uint64) bool {
	h1, h2 := h, bits.RotateLeft64(h, 32)|1
	for i := uint64(0); i < filterHashes; i++ {
		b := (h1 + i*h2) % f.m
		if f.bits[b/64]&(1<<(b%64)) == 0 {
			return false
		}
	}
	return true
}

func (f *idFilter) add(id string)             { f.addHash(hashID(id)) }
func (f *idFilter) mayContain(id string) bool { return f.mayContainHash(hashID(id)) }

// full reports whether the filter holds more ids than it was sized for.
func (f *idFilter) full() bool { return f.n > f.cap }
