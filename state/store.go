package state

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"

	"github.com/sendgate/sendgate/quota"
)

// ErrClosed is returned by the methods of a Store after Close.
var ErrClosed = errors.New("state: store closed")

// Store is the durable state of one sendgate process. Its methods are safe
// for concurrent use, except Close, which must not run concurrently with any
// other method (Pebble panics on use of a closed database).
type Store struct {
	db     *pebble.DB
	dir    string
	po     *pebble.Options // for the sstables a Load writes
	lock   *pebble.Lock
	wo     *pebble.WriteOptions
	closed atomic.Bool
	keys   sync.Pool // *[]byte scratch for point-lookup keys
}

// Position is where an attempts-topic partition stands.
type Position struct {
	// Offset is the next offset to read.
	Offset int64
	// HWM is the decision-time high-water mark, Unix ms: the latest decision
	// time of the partition, below which later decision times are raised.
	HWM int64
	// ChangelogEnd is the offset of the partition's changelog up to which
	// the partition's state reflects it: after the commit marker of the
	// transaction that carried its last batch, or where a restore stopped
	// (0: unknown). A changelog that has grown past it was written since
	// (by another owner, or by a transaction this instance committed
	// before it could commit locally): the state is caught up from here.
	ChangelogEnd int64
	// BatchStart is the first offset of the batch committed last (Offset
	// is where it ended).
	BatchStart int64
	// BatchStartHWM is HWM where that batch started (-1: unknown, in a
	// position written before it was kept), so that the batch read again
	// is decided at the decision times it was decided at.
	BatchStartHWM int64
}

// BotSettings is the settings record of one bot.
type BotSettings struct {
	// Settings are the settings in force. A tombstoned bot has
	// quota.Disabled() (Version 0).
	Settings quota.Settings
	// Floor is the highest version seen, including a tombstoned one: a later
	// settings event applies only when its version is greater than Floor.
	Floor int64
}

// Open opens (creating if needed) the store in directory dir, creating the
// directory too. o is completed with EnsureDefaults and checked with
// Validate. If another process (or another Store of this process) holds the
// directory, Open fails with an error saying the directory is locked. The
// caller must Close the returned Store.
func Open(dir string, o Options) (*Store, error) {
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := o.FS.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state: open %q: create directory: %w", dir, err)
	}
	lock, err := pebble.LockDirectory(dir, o.FS)
	if err != nil {
		return nil, fmt.Errorf("state: open %q: directory is locked (in use by another process?): %w", dir, err)
	}
	po := &pebble.Options{
		FS:                 o.FS,
		CacheSize:          o.pebbleCacheSize(),
		MemTableSize:       o.MemTableSize,
		Logger:             logger{o.Logf},
		Lock:               lock,
		FormatMajorVersion: pebble.FormatNewest,
	}
	// Bloom filters on every level (L1+ inherit L0's): most lookups are
	// point Gets of histories and verdicts, many of them misses.
	po.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	// As Open would: a Load's sstables are written with these options.
	po.EnsureDefaults()
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("state: open %q: %w", dir, err), lock.Close())
	}
	s := &Store{db: db, dir: dir, po: po, lock: lock, wo: pebble.Sync}
	if o.NoSync {
		s.wo = pebble.NoSync
	}
	s.keys.New = func() any { b := make([]byte, 0, 128); return &b }
	return s, nil
}

// Close flushes nothing (every commit is already durable), closes the
// database and releases the directory lock. Close after Close returns
// ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return ErrClosed
	}
	var errs []error
	if err := s.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("state: close: %w", err))
	}
	if err := s.lock.Close(); err != nil {
		errs = append(errs, fmt.Errorf("state: close: release lock: %w", err))
	}
	return errors.Join(errs...)
}

// get looks key up and calls fn with its value, which is valid only during
// fn. It reports whether the key exists.
//
// It seeks an iterator rather than calling DB.Get: DB.Get never consults the
// bloom filters of L6, where most data lives, so every miss (a new contact,
// a new attempt id: the common case) would read an index and a data block.
// The default comparer's prefix is the whole key, so SeekPrefixGE is an
// exact lookup.
func (s *Store) get(key []byte, fn func(val []byte) error) (found bool, err error) {
	if s.closed.Load() {
		return false, ErrClosed
	}
	it, err := s.db.NewIter(&pebble.IterOptions{UseL6Filters: true})
	if err != nil {
		return false, err
	}
	defer func() { err = errors.Join(err, it.Close()) }()
	if !it.SeekPrefixGE(key) || !bytes.Equal(it.Key(), key) {
		return false, it.Error()
	}
	val, err := it.ValueAndErr()
	if err != nil {
		return false, err
	}
	return true, fn(val)
}

func (s *Store) keyBuf() *[]byte { return s.keys.Get().(*[]byte) }

func (s *Store) putKeyBuf(b *[]byte, k []byte) {
	if cap(k) <= 1024 {
		*b = k[:0]
		s.keys.Put(b)
	}
}

// Position returns partition p's position and whether one was stored. Errors
// are I/O or corruption errors.
func (s *Store) Position(p int32) (Position, bool, error) {
	kb := s.keyBuf()
	k := appendPositionKey((*kb)[:0], p)
	var pos Position
	ok, err := s.get(k, func(val []byte) (err error) {
		pos, err = decodePosition(val)
		return err
	})
	s.putKeyBuf(kb, k)
	if err != nil {
		return Position{}, false, fmt.Errorf("state: partition %d: position: %w", p, err)
	}
	return pos, ok, nil
}

// History appends the stored sends of contact (bot, contact) in partition p
// to dst[:0] and returns the result, in the order they were stored (the
// caller stores them ascending by At). With no stored history it returns
// dst[:0] (nil if dst is nil). The returned strings are copies, never
// aliasing Pebble memory, and stay valid for good; dst's array is reused.
//
// A history whose expiry has passed is returned until Batch.Sweep deletes
// it: the caller filters by its window anyway.
func (s *Store) History(p int32, bot, contact string, dst []quota.Send) ([]quota.Send, error) {
	sends, _, err := s.HistoryExpiry(p, bot, contact, dst)
	return sends, err
}

// HistoryExpiry is History that also returns the expiry stored with the
// history (0 when there is none): the instant from which Sweep may delete it.
func (s *Store) HistoryExpiry(p int32, bot, contact string, dst []quota.Send) ([]quota.Send, int64, error) {
	dst = dst[:0]
	kb := s.keyBuf()
	k := appendHistoryKey((*kb)[:0], p, bot, contact)
	var expireAt int64
	_, err := s.get(k, func(val []byte) (err error) {
		if expireAt, _, err = decodeHeader(val); err != nil {
			return err
		}
		dst, err = decodeHistory(dst, val)
		return err
	})
	s.putKeyBuf(kb, k)
	if err != nil {
		return dst[:0], 0, fmt.Errorf("state: partition %d: history bot=%q contact=%q: %w", p, bot, contact, err)
	}
	return dst, expireAt, nil
}

// Verdict copies the stored verdict bytes of attemptID in partition p into
// dst[:0] and returns them, their expiry and true; with none stored it
// returns dst[:0], 0 and false. The result never aliases Pebble memory. A
// verdict whose expiry has passed is returned until Batch.Sweep deletes it:
// the caller compares expireAt with its decision time, so that whether an
// attempt id is remembered never depends on the sweep's progress.
func (s *Store) Verdict(p int32, attemptID string, dst []byte) (v []byte, expireAt int64, ok bool, err error) {
	dst = dst[:0]
	kb := s.keyBuf()
	k := appendVerdictKey((*kb)[:0], p, attemptID)
	ok, err = s.get(k, func(val []byte) error {
		var body int
		var err error
		expireAt, body, err = decodeHeader(val)
		if err == nil {
			dst = append(dst, val[body:]...)
		}
		return err
	})
	s.putKeyBuf(kb, k)
	if err != nil {
		return dst[:0], 0, false, fmt.Errorf("state: partition %d: verdict %q: %w", p, attemptID, err)
	}
	return dst, expireAt, ok, nil
}

// scan calls fn with every key and value in [lower, upper); both are valid
// only during fn. An error from fn stops the scan and is returned as is.
func (s *Store) scan(lower, upper []byte, fn func(k, v []byte) error) (err error) {
	if s.closed.Load() {
		return ErrClosed
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, it.Close()) }()
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		if err := fn(it.Key(), v); err != nil {
			return err
		}
	}
	return it.Error()
}

// errCallback marks an error returned by a caller's callback, so that it is
// passed through unwrapped.
type errCallback struct{ err error }

func (e errCallback) Error() string { return e.err.Error() }

// scanErr returns the error of a scan: a callback's as it was, any other
// prefixed with the context that format and args make, nil for none.
func scanErr(err error, format string, args ...any) error {
	var cb errCallback
	if errors.As(err, &cb) {
		return cb.err
	}
	if err != nil {
		return fmt.Errorf(format+": %w", append(args, err)...)
	}
	return nil
}

// EachSettings calls fn with every stored bot settings record, in key order.
// bot is a fresh string. An error returned by fn stops the iteration and is
// returned unchanged; other errors are I/O or corruption errors. fn may
// commit batches (it sees a snapshot of the settings taken at the start).
func (s *Store) EachSettings(fn func(bot string, bs BotSettings) error) error {
	err := s.scan([]byte{kindSettings}, []byte{kindSettings + 1}, func(k, v []byte) error {
		id, rest, err := readID(k[1:])
		if err != nil || len(rest) != 0 {
			return fmt.Errorf("settings key %x: %w", k, errBadKey)
		}
		bs, err := decodeSettings(v)
		if err != nil {
			return fmt.Errorf("settings bot=%q: %w", id, err)
		}
		if err := fn(string(id), bs); err != nil {
			return errCallback{err}
		}
		return nil
	})
	return scanErr(err, "state")
}

// SettingsOffsets returns the next offset to read of every settings-topic
// partition that has one stored (an empty, non-nil map when none).
func (s *Store) SettingsOffsets() (map[int32]int64, error) {
	m := make(map[int32]int64)
	err := s.scan([]byte{kindSettingsOffset}, []byte{kindSettingsOffset + 1}, func(k, v []byte) error {
		p, err := keyPartition(k)
		if err != nil || len(k) != partitionPrefixLen {
			return fmt.Errorf("settings offset key %x: %w", k, errBadKey)
		}
		next, err := decodeOffset(v)
		if err != nil {
			return fmt.Errorf("settings partition %d: offset: %w", p, err)
		}
		m[p] = next
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	return m, nil
}

// Partitions returns, ascending (as unsigned numbers), the attempts-topic
// partitions that have any state: a position, a history or a verdict. It
// seeks once per partition.
func (s *Store) Partitions() (ps []int32, err error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: []byte{kindPartition},
		UpperBound: []byte{kindPartition + 1},
	})
	if err != nil {
		return nil, fmt.Errorf("state: partitions: %w", err)
	}
	defer func() { err = errors.Join(err, it.Close()) }()
	var seek []byte
	for ok := it.First(); ok; {
		p, err := keyPartition(it.Key())
		if err != nil {
			return nil, fmt.Errorf("state: partitions: key %x: %w", it.Key(), err)
		}
		ps = append(ps, p)
		if uint32(p) == ^uint32(0) {
			break
		}
		seek = partitionEnd(seek[:0], p)
		ok = it.SeekGE(seek)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("state: partitions: %w", err)
	}
	return ps, nil
}

// DropPartition deletes all state of attempts-topic partition p (position,
// histories, verdicts) with one range deletion, synced unless
// Options.NoSync. Settings and settings offsets are untouched.
func (s *Store) DropPartition(p int32) error {
	if s.closed.Load() {
		return ErrClosed
	}
	start := appendPartitionPrefix(nil, p)
	end := partitionEnd(nil, p)
	if err := s.db.DeleteRange(start, end, s.wo); err != nil {
		return fmt.Errorf("state: partition %d: drop: %w", p, err)
	}
	return nil
}

// Metrics returns Pebble's metrics (a fresh copy the caller owns).
func (s *Store) Metrics() *pebble.Metrics { return s.db.Metrics() }

// EachVerdictID calls fn with the attempt id of every verdict stored for
// partition p (expired ones included until Sweep deletes them), in key
// order. id is valid only during fn. An error returned by fn stops the scan
// and is returned unchanged; other errors are I/O or corruption errors.
func (s *Store) EachVerdictID(p int32, fn func(id []byte) error) error {
	lo := append(appendPartitionPrefix(nil, p), subVerdict)
	hi := append(appendPartitionPrefix(nil, p), subVerdict+1)
	err := s.scan(lo, hi, func(k, _ []byte) error {
		id, rest, err := readID(k[len(lo):])
		if err != nil || len(rest) != 0 {
			return fmt.Errorf("verdict key %x: malformed", k)
		}
		if err := fn(id); err != nil {
			return errCallback{err}
		}
		return nil
	})
	return scanErr(err, "state: partition %d: verdict ids", p)
}
