package state

import (
	"fmt"
	"math"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Options configures a Store. The zero value is usable: every field's default
// is stated in its comment and filled in by EnsureDefaults.
type Options struct {
	// FS is the file system the database lives on. Default vfs.Default; tests
	// may use vfs.NewMem().
	FS vfs.FS
	// CacheSize is the block cache size in bytes. Default 32 MiB.
	//
	// Pebble charges its memtables against the block cache (up to three of
	// MemTableSize: the mutable one, one being flushed, one kept for
	// recycling), which with the defaults would leave no room at all for
	// blocks. Open therefore gives Pebble a cache of CacheSize plus
	// 3×MemTableSize: the store's memory is bounded by about that sum.
	CacheSize int64
	// MemTableSize is the size of one memtable in bytes. Default 16 MiB; must
	// be below 4 GiB.
	MemTableSize uint64
	// Logf receives Pebble's log lines (errors are prefixed "error: ").
	// Default: discard. A fatal Pebble error is passed to Logf, prefixed
	// "fatal: ", and then panics, because Pebble assumes its fatal logger
	// does not return.
	Logf func(format string, args ...any)
	// NoSync commits without waiting for fsync. For benchmarks only: a crash
	// may lose committed batches. Default false: every Commit and
	// DropPartition is synced.
	NoSync bool
}

// Defaults of Options.
const (
	DefaultCacheSize    int64  = 32 << 20
	DefaultMemTableSize uint64 = 16 << 20
)

// EnsureDefaults fills in the default of every zero field.
func (o *Options) EnsureDefaults() {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.CacheSize == 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = DefaultMemTableSize
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
}

// Validate reports the first invalid field, as an error naming it. Zero
// fields are valid (they take their defaults).
func (o *Options) Validate() error {
	if o.CacheSize < 0 {
		return fmt.Errorf("state: options: CacheSize %d must not be negative", o.CacheSize)
	}
	if o.MemTableSize >= math.MaxUint32 {
		return fmt.Errorf("state: options: MemTableSize %d must be below 4 GiB", o.MemTableSize)
	}
	if o.CacheSize > math.MaxInt64/2 {
		return fmt.Errorf("state: options: CacheSize %d is too large", o.CacheSize)
	}
	return nil
}

// memTablesCharged is how many memtables Pebble may charge against the block
// cache at once (MemTableStopWritesThreshold, default 2, plus one recycled).
const memTablesCharged = 3

// pebbleCacheSize is the cache size to give Pebble so that CacheSize bytes
// remain for blocks.
func (o *Options) pebbleCacheSize() int64 {
	return o.CacheSize + memTablesCharged*int64(o.MemTableSize)
}

// logger adapts Options.Logf to pebble.Logger.
type logger struct {
	logf func(format string, args ...any)
}

func (l logger) Infof(format string, args ...any)  { l.logf(format, args...) }
func (l logger) Errorf(format string, args ...any) { l.logf("error: "+format, args...) }

// Fatalf logs and panics: Pebble calls it when it cannot continue (e.g. a
// failed WAL write) and relies on it not returning.
func (l logger) Fatalf(format string, args ...any) {
	l.logf("fatal: "+format, args...)
	panic(fmt.Sprintf("state: pebble fatal: "+format, args...))
}
