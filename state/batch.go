package state

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/sendgate/sendgate/quota"
)

// Batch collects writes that are committed together as one atomic Pebble
// write: a batch of decisions' state changes and the partition's Position
// (committed without fsync once the Kafka transaction carrying them to the
// changelog committed), or a settings change and the settings offset.
// Nothing of a Batch is visible to reads before Commit; after Commit all of
// it is.
//
// Put methods only encode into the batch and never fail; an error (which
// can only be a Pebble batch error) surfaces at Commit. Put methods copy
// their arguments, which the caller may reuse at once.
//
// A Batch is not safe for concurrent use. It must be finished with Commit
// or Close (Close after Commit is a no-op); using it afterwards panics.
type Batch struct {
	s   *Store
	b   *pebble.Batch
	err error

	key, val []byte         // scratch, reused by every Put
	lo, hi   []byte         // scratch, Sweep's iterator bounds
	enc      historyEncoder // scratch for history values
	written  []int32        // partitions with a history or verdict Put
	done     bool
}

// NewBatch returns an empty batch. The caller must Commit or Close it.
func (s *Store) NewBatch() *Batch {
	return &Batch{s: s, b: s.db.NewBatch()}
}

// NewBatchSize returns an empty batch whose buffer starts at size bytes
// and is kept by Apply up to that size: for a caller that writes many
// batches of about size bytes in a row (a restore), so that the buffer is
// allocated once instead of grown again for every batch. The caller must
// Commit or Close it.
func (s *Store) NewBatchSize(size int) *Batch {
	return &Batch{s: s, b: s.db.NewBatchWithSize(size, pebble.WithMaxRetainedSizeBytes(size))}
}

const errBatchDone = "state: use of a committed or closed Batch"

func (b *Batch) check() {
	if b.done {
		panic(errBatchDone)
	}
}

func (b *Batch) setErr(err error, what string) {
	if err != nil && b.err == nil {
		b.err = fmt.Errorf("%s: %w", what, err)
	}
}

// set writes val at key, keeping both (built on b.key[:0] and b.val[:0])
// for the next Put to reuse; what names the record in an error.
func (b *Batch) set(what string, key, val []byte) {
	b.key, b.val = key, val
	b.setErr(b.b.Set(key, val, nil), what)
}

// markWritten records that partition p has a history or verdict Put.
func (b *Batch) markWritten(p int32) {
	if n := len(b.written); n > 0 && b.written[n-1] == p {
		return
	}
	if !slices.Contains(b.written, p) {
		b.written = append(b.written, p)
	}
}

// Swept is what one Sweep did.
type Swept struct {
	// Next is the cursor to continue from, or nil when the sweep reached
	// the end of the partition's entries (the next call then starts over).
	Next []byte
	// Histories and Verdicts are how many entries of each kind it deletes.
	Histories, Verdicts int
	// Earliest is the earliest expiry among the entries it examined and
	// kept (math.MaxInt64 when it kept none): none of them expires before.
	Earliest int64
}

// Sweep adds to the batch the deletion of partition p's history and verdict
// entries whose expiry is at or before now.
//
// It examines at most max entries, expired or not, in key order, starting at
// cursor (nil: the partition's first entry), and returns the cursor to
// continue from (Swept.Next). A caller that passes each call the cursor the
// previous one returned therefore covers the whole partition in turn, max
// entries per batch, and wraps around. An entry written behind the cursor
// waits for the next pass; one whose value was rewritten with another expiry
// is judged by its current value.
//
// The cursor is an opaque key, a fresh copy the caller keeps (between
// batches too) and must not modify. It stays valid whatever is written or
// deleted meanwhile; a cursor that is not within partition p's entries
// (e.g. one of another partition) starts over from the first entry. max <= 0
// examines nothing and returns cursor itself.
//
// Sweep reads the committed state, not this batch: it must be called before
// any PutHistory or PutVerdict of partition p in the same batch (Pebble
// applies a batch's operations in order, so a later Put of the same key wins
// over Sweep's delete, which is what the caller wants). Calling it after such
// a Put returns an error and adds nothing. Other errors are I/O or
// corruption errors (a value whose header does not decode); the batch then
// holds a part of the deletions, which are all valid, and can still be
// committed, and Next is cursor, so that a retry starts at the same place.
func (b *Batch) Sweep(p int32, now int64, cursor []byte, max int) (sw Swept, err error) {
	sw = Swept{Next: cursor, Earliest: math.MaxInt64}
	b.check()
	if slices.Contains(b.written, p) {
		return sw, fmt.Errorf("state: partition %d: Sweep after a Put in the same batch", p)
	}
	if max <= 0 {
		return sw, nil
	}
	s := b.s
	if s.closed.Load() {
		return sw, ErrClosed
	}
	// The bounds are the batch's scratch: Pebble keeps them until Close.
	b.lo = appendSweepStart(b.lo[:0], p)
	b.hi = appendSweepEnd(b.hi[:0], p)
	lower := b.lo
	if bytes.Compare(cursor, b.lo) > 0 && bytes.Compare(cursor, b.hi) < 0 {
		lower = cursor
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: b.hi})
	if err != nil {
		return sw, fmt.Errorf("state: partition %d: sweep: %w", p, err)
	}
	defer func() {
		if cerr := it.Close(); cerr != nil && err == nil {
			sw.Next = cursor
			err = fmt.Errorf("state: partition %d: sweep: %w", p, cerr)
		}
	}()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if n == max {
			sw.Next = bytes.Clone(k)
			return sw, nil
		}
		n++
		sub := k[partitionPrefixLen]
		val, verr := it.ValueAndErr()
		var exp int64
		if verr == nil {
			exp, _, verr = decodeHeader(val)
		}
		if verr != nil {
			return sw, fmt.Errorf("state: partition %d: sweep: %s %x: %w", p, subName(sub), k, verr)
		}
		if exp > now {
			sw.Earliest = min(sw.Earliest, exp)
			continue
		}
		b.setErr(b.b.Delete(k, nil), "sweep")
		if sub == subHistory {
			sw.Histories++
		} else {
			sw.Verdicts++
		}
	}
	if err := it.Error(); err != nil {
		return sw, fmt.Errorf("state: partition %d: sweep: %w", p, err)
	}
	sw.Next = nil
	return sw, nil
}

func subName(sub byte) string {
	switch sub {
	case subPosition:
		return "position"
	case subHistory:
		return "history"
	case subVerdict:
		return "verdict"
	}
	return fmt.Sprintf("kind 0x%02x", sub)
}

// PutHistory stores the counted sends of contact (bot, contact) in partition
// p, ascending by At, to be deleted by Sweep once expireAt (normally the last
// send's At plus the window) has come. Empty sends deletes the history. The
// caller bounds len(sends).
func (b *Batch) PutHistory(p int32, bot, contact string, sends []quota.Send, expireAt int64) {
	b.check()
	b.markWritten(p)
	b.key = appendHistoryKey(b.key[:0], p, bot, contact)
	if len(sends) == 0 {
		b.setErr(b.b.Delete(b.key, nil), "history")
		return
	}
	b.set("history", b.key, b.enc.encode(b.val[:0], sends, expireAt))
}

// PutVerdict stores the verdict bytes v of attemptID in partition p, to be
// deleted by Sweep once expireAt has come.
func (b *Batch) PutVerdict(p int32, attemptID string, v []byte, expireAt int64) {
	b.check()
	b.markWritten(p)
	b.set("verdict", appendVerdictKey(b.key[:0], p, attemptID), appendVerdictValue(b.val[:0], v, expireAt))
}

// PutPosition stores partition p's position.
func (b *Batch) PutPosition(p int32, pos Position) {
	b.check()
	b.set("position", appendPositionKey(b.key[:0], p), appendPositionValue(b.val[:0], pos))
}

// PutSettings stores the settings record of bot.
func (b *Batch) PutSettings(bot string, bs BotSettings) {
	b.check()
	b.set("settings", appendSettingsKey(b.key[:0], bot), appendSettingsValue(b.val[:0], bs))
}

// PutSettingsOffset stores the next offset to read of settings-topic
// partition p.
func (b *Batch) PutSettingsOffset(p int32, next int64) {
	b.check()
	b.set("settings offset", appendSettingsOffsetKey(b.key[:0], p), appendOffsetValue(b.val[:0], next))
}

// Len returns the number of Pebble operations in the batch so far: every Put
// adds one, Sweep one per entry it deletes.
func (b *Batch) Len() int {
	b.check()
	return int(b.b.Count())
}

// Bytes returns the size of the batch's encoded operations: at least the
// bytes of all the keys and values Each hands out.
func (b *Batch) Bytes() int {
	b.check()
	return len(b.b.Repr())
}

// Commit writes the batch atomically, waiting for fsync unless
// Options.NoSync, and releases it: the Batch cannot be used afterwards
// (Close is then a no-op). On error nothing of the batch was written.
func (b *Batch) Commit() error { return b.commit(b.s.wo) }

// CommitNoSync is Commit without waiting for the write-ahead log: Pebble
// writes it out in the background, so a process killed (or a machine losing
// power) right after may lose a tail of such batches, never a part of one;
// it is durable once a later synced commit follows. Use it for writes that
// exist elsewhere too (a batch whose changelog records Kafka committed).
func (b *Batch) CommitNoSync() error { return b.commit(pebble.NoSync) }

func (b *Batch) commit(wo *pebble.WriteOptions) error {
	b.check()
	b.done = true
	n := b.b.Count()
	err := errors.Join(b.write(wo), b.b.Close())
	if err != nil {
		return fmt.Errorf("state: commit %d ops: %w", n, err)
	}
	return nil
}

// Apply writes the batch atomically as Commit (sync) or CommitNoSync does,
// then leaves it empty for further writes, keeping its buffer (up to the
// size NewBatchSize was given; Pebble drops the buffer of a batch large
// enough to be flushed on its own). On error nothing of the batch was
// written and it is not usable any more: Close it. It is the same Batch
// either way, finished with Commit or Close as any other.
func (b *Batch) Apply(sync bool) error {
	b.check()
	n := b.b.Count()
	wo := pebble.NoSync
	if sync {
		wo = b.s.wo
	}
	err := b.write(wo)
	if err != nil {
		if b.err == nil {
			b.err = err
		}
		return fmt.Errorf("state: commit %d ops: %w", n, err)
	}
	b.b.Reset()
	b.written = b.written[:0]
	return nil
}

// write applies the batch's operations to the database, unless one of them
// failed to be added (the batch's error) or the store is closed.
func (b *Batch) write(wo *pebble.WriteOptions) error {
	switch {
	case b.err != nil:
		return b.err
	case b.s.closed.Load():
		return ErrClosed
	}
	return b.s.db.Apply(b.b, wo)
}

// Close discards an uncommitted batch. It is a no-op after Commit or Close.
func (b *Batch) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	if err := b.b.Close(); err != nil {
		return fmt.Errorf("state: close batch: %w", err)
	}
	return nil
}
