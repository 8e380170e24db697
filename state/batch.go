package state

import (
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/sendgate/sendgate/quota"
)

// Batch collects writes that are committed together as one atomic, synced
// Pebble write: a decision's state changes and the partition's Position, or
// a settings change and the settings offset. Nothing of a Batch is visible
// to reads before Commit; after Commit all of it is.
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

	key, idx, val []byte         // scratch, reused by every Put
	enc           historyEncoder // scratch for history values
	written       []int32        // partitions with a history or verdict Put
	done          bool
}

// NewBatch returns an empty batch. The caller must Commit or Close it.
func (s *Store) NewBatch() *Batch {
	return &Batch{s: s, b: s.db.NewBatch()}
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

// markWritten records that partition p has a history or verdict Put.
func (b *Batch) markWritten(p int32) {
	if n := len(b.written); n > 0 && b.written[n-1] == p {
		return
	}
	if !slices.Contains(b.written, p) {
		b.written = append(b.written, p)
	}
}

// Expire adds to the batch the deletion of up to max history and verdict
// entries of partition p whose expiry is at or before now, found through the
// expiry index, and returns how many histories and verdicts it deletes.
//
// max bounds the work: it counts index entries examined, including stale
// ones. An index entry is stale when the value it points to is gone or was
// rewritten with another expiry (e.g. a history extended by a later send):
// the entry alone is deleted and the value is kept, to be deleted through
// its own index entry. max <= 0 does nothing.
//
// Expire reads the committed state, not this batch: it must be called
// before any PutHistory or PutVerdict of partition p in the same batch
// (Pebble applies a batch's operations in order, so a later Put of the same
// key wins over Expire's delete, which is what the caller wants). Calling it
// after such a Put returns an error and adds nothing. Other errors are I/O or
// corruption errors; the batch then holds a part of the deletions, which are
// all valid, and can still be committed.
func (b *Batch) Expire(p int32, now int64, max int) (histories, verdicts int, err error) {
	b.check()
	if slices.Contains(b.written, p) {
		return 0, 0, fmt.Errorf("state: partition %d: Expire after a Put in the same batch", p)
	}
	if max <= 0 {
		return 0, 0, nil
	}
	s := b.s
	if s.closed.Load() {
		return 0, 0, ErrClosed
	}
	lower := appendExpiryPrefix(nil, p)
	upper := appendExpiryBound(nil, p, now)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return 0, 0, fmt.Errorf("state: partition %d: expire: %w", p, err)
	}
	var vals *pebble.Iterator // values, opened at the first index entry
	defer func() {
		cerr := it.Close()
		if vals != nil {
			cerr = errors.Join(cerr, vals.Close())
		}
		if cerr != nil && err == nil {
			err = fmt.Errorf("state: partition %d: expire: %w", p, cerr)
		}
	}()
	n := 0
	for ok := it.First(); ok && n < max; ok = it.Next() {
		n++
		ik := it.Key()
		exp, primary, perr := parseIndexKey(b.key[:0], ik)
		b.key = primary
		if perr != nil {
			return histories, verdicts, fmt.Errorf("state: partition %d: expire: index key %x: %w", p, ik, perr)
		}
		sub := primary[partitionPrefixLen]
		if vals == nil {
			// One iterator for every value lookup is much cheaper than a
			// lookup per entry. The default prefix is the whole key, so
			// SeekPrefixGE is an exact lookup that consults the bloom
			// filters (of L6 too, which Pebble skips by default).
			lo := append(appendPartitionPrefix(nil, p), subHistory)
			hi := append(appendPartitionPrefix(nil, p), subExpiry)
			vals, err = s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi, UseL6Filters: true})
			if err != nil {
				return histories, verdicts, fmt.Errorf("state: partition %d: expire: %w", p, err)
			}
		}
		var stored int64
		found, gerr := vals.SeekPrefixGE(primary), vals.Error()
		if found {
			var val []byte
			if val, gerr = vals.ValueAndErr(); gerr == nil {
				stored, _, gerr = decodeHeader(val)
			}
		}
		if gerr != nil {
			return histories, verdicts, fmt.Errorf("state: partition %d: expire: %s %x: %w", p, subName(sub), primary, gerr)
		}
		if found && stored == exp {
			b.setErr(b.b.Delete(primary, nil), "expire")
			switch sub {
			case subHistory:
				histories++
			case subVerdict:
				verdicts++
			}
		}
		b.setErr(b.b.Delete(ik, nil), "expire")
	}
	if err := it.Error(); err != nil {
		return histories, verdicts, fmt.Errorf("state: partition %d: expire: %w", p, err)
	}
	return histories, verdicts, nil
}

func subName(sub byte) string {
	switch sub {
	case subPosition:
		return "position"
	case subHistory:
		return "history"
	case subVerdict:
		return "verdict"
	case subExpiry:
		return "expiry index"
	}
	return fmt.Sprintf("kind 0x%02x", sub)
}

// PutHistory stores the counted sends of contact (bot, contact) in partition
// p, ascending by At, to be deleted by Expire at expireAt (normally the last
// send's At plus the window). Empty sends deletes the history. The caller
// bounds len(sends).
func (b *Batch) PutHistory(p int32, bot, contact string, sends []quota.Send, expireAt int64) {
	b.check()
	b.markWritten(p)
	b.key = appendHistoryKey(b.key[:0], p, bot, contact)
	if len(sends) == 0 {
		// The index entry left behind is stale and is removed by Expire.
		b.setErr(b.b.Delete(b.key, nil), "history")
		return
	}
	b.val = b.enc.encode(b.val[:0], sends, expireAt)
	b.put(b.key, b.val, expireAt, "history", "history index")
}

// PutVerdict stores the verdict bytes v of attemptID in partition p, to be
// deleted by Expire at expireAt.
func (b *Batch) PutVerdict(p int32, attemptID string, v []byte, expireAt int64) {
	b.check()
	b.markWritten(p)
	b.key = appendVerdictKey(b.key[:0], p, attemptID)
	b.val = appendVerdictValue(b.val[:0], v, expireAt)
	b.put(b.key, b.val, expireAt, "verdict", "verdict index")
}

// put sets an expiring value and its index entry.
func (b *Batch) put(key, val []byte, expireAt int64, what, whatIndex string) {
	b.setErr(b.b.Set(key, val, nil), what)
	b.idx = appendIndexKey(b.idx[:0], key, expireAt)
	b.setErr(b.b.Set(b.idx, nil, nil), whatIndex)
}

// PutPosition stores partition p's position.
func (b *Batch) PutPosition(p int32, pos Position) {
	b.check()
	b.key = appendPositionKey(b.key[:0], p)
	b.val = appendPositionValue(b.val[:0], pos)
	b.setErr(b.b.Set(b.key, b.val, nil), "position")
}

// PutSettings stores the settings record of bot.
func (b *Batch) PutSettings(bot string, bs BotSettings) {
	b.check()
	b.key = appendSettingsKey(b.key[:0], bot)
	b.val = appendSettingsValue(b.val[:0], bs)
	b.setErr(b.b.Set(b.key, b.val, nil), "settings")
}

// PutSettingsOffset stores the next offset to read of settings-topic
// partition p.
func (b *Batch) PutSettingsOffset(p int32, next int64) {
	b.check()
	b.key = appendSettingsOffsetKey(b.key[:0], p)
	b.val = appendOffsetValue(b.val[:0], next)
	b.setErr(b.b.Set(b.key, b.val, nil), "settings offset")
}

// Len returns the number of Pebble operations in the batch so far: a
// PutHistory or PutVerdict adds two (value and index entry), a deleting
// PutHistory and the other Puts one, Expire one or two per entry examined.
func (b *Batch) Len() int {
	b.check()
	return int(b.b.Count())
}

// Commit writes the batch atomically, waiting for fsync unless
// Options.NoSync, and releases it: the Batch cannot be used afterwards
// (Close is then a no-op). On error nothing of the batch was written.
func (b *Batch) Commit() error {
	b.check()
	b.done = true
	n := b.b.Count()
	err := b.err
	if err == nil {
		if b.s.closed.Load() {
			err = ErrClosed
		} else {
			err = b.s.db.Apply(b.b, b.s.wo)
		}
	}
	err = errors.Join(err, b.b.Close())
	if err != nil {
		return fmt.Errorf("state: commit %d ops: %w", n, err)
	}
	return nil
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
