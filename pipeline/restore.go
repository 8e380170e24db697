package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sendgate/sendgate/state"
)

// A restore fetches the changelog in larger pieces than a batch of
// attempts: the fewer round trips, the sooner a taken-over partition is
// ready. A catch-up (and a restore too large for a Load) writes the
// records to the local store in batches of about restoreBatchBytes, each
// batch's buffer reused for the next.
const (
	restoreFetchRecords = 1 << 16
	restoreFetchBytes   = 4 << 20
	restoreBatchBytes   = 4 << 20
	// restoreLoadBytes bounds the memory of a restore into a partition
	// without state (state.Load): past it, the restore goes on in batches.
	restoreLoadBytes = 64 << 20
)

// restoreSlots bounds how many partitions of this process restore at once
// (the others wait for a slot): the memory a restore holds (its fetched
// records, its batch, Pebble's memtables filling) times the partitions
// restoring is what the GC has to keep within GOMEMLIMIT, and the CPU
// (decoding, Pebble's writes and compactions) is shared anyway. A process,
// not a Runner, owns the memory, hence one bound per process.
var restoreSlots = make(chan struct{}, restoreParallel)

const restoreParallel = 2

// restore applies the partition's changelog from offset from up to stop on
// top of the local state, then stores the position found in it (the last
// position record) with ChangelogEnd = stop, in the same local commit as
// the last records: a restore cut short leaves the old position, from
// which it is done again. It returns the position (false when the
// changelog holds none) and how many records it applied.
//
// Into a partition without a local position (a restore-whole, after the
// drop), the records skip Pebble's write-ahead log, memtables and the
// compactions of what is flushed from them: a state.Load collects them,
// sorts them by key and ingests them as one sstable that holds the
// position too, excising whatever the partition's key range held. This is
// crash-safe because the data and the position it describes become
// visible and durable in one step: the sstable is synced before Pebble
// links it in, and the ingest is one manifest edit, synced before
// IngestAndExcise returns. A crash before that leaves the partition as the
// drop left it, without a position, so it is restored whole again; after
// it, both are there. (Pebble v2 has no per-batch way to skip the WAL
// otherwise, only DisableWAL for the whole store; writes without the WAL
// followed by a position written with it could, after a crash, leave the
// position without the data.) Past restoreLoadBytes the Load's records go
// through batches and the restore goes on with batches, as a catch-up
// does: unsynced batches without a position, the position last, in a
// synced commit, so that a crash between loses at most unsynced batches
// under no position, and the partition is restored whole again.
func (p *partition) restore(ctx context.Context, from, stop int64) (state.Position, bool, int, error) {
	r := p.r
	t0 := time.Now()
	select {
	case restoreSlots <- struct{}{}:
		defer func() { <-restoreSlots }()
	case <-ctx.Done():
		return state.Position{}, false, 0, ctx.Err()
	}
	a := newApplier(r, p.id, "restore")
	defer a.close()
	remaining := r.metrics.restoreRemaining.WithLabelValues(partLabel(p.id))
	defer r.metrics.restoreRemaining.DeleteLabelValues(partLabel(p.id))
	waited, t1 := time.Since(t0), time.Now()
	if _, ok, err := r.store.Position(p.id); err != nil {
		return state.Position{}, false, 0, storageErr("partition %d: position: %w", p.id, err)
	} else if !ok {
		// No position: whatever the partition's key range holds is not a
		// usable state (a restore-whole dropped it), so the restore is a
		// Load, replacing it at once. Offsets bound the records: room for
		// them, within the bound.
		a.load = r.store.NewLoad(p.id, int(min(stop-from, restoreLoadBytes/64)))
	}
	ingest := a.load != nil
	off := from
	for off < stop {
		remaining.Set(float64(stop - off))
		var err error
		if off, _, err = a.step(ctx, off, stop); err != nil {
			return state.Position{}, false, a.n, err
		}
		if a.load != nil && a.load.Bytes() >= restoreLoadBytes {
			ingest = false
			if err := a.toBatches(); err != nil {
				return state.Position{}, false, a.n, err
			}
		}
		if a.b.Bytes() >= restoreBatchBytes {
			if err := a.flush(); err != nil {
				return state.Position{}, false, a.n, err
			}
		}
	}
	pos, found, err := a.commit(stop, true)
	if err == nil {
		p.log.Info().Int64("bytes", a.bytes).Dur("waited", waited).Dur("applied_in", time.Since(t1)).
			Bool("ingested", ingest).Int64("from", from).Int64("to", stop).Msg("changelog applied")
	}
	return pos, found, a.n, err
}

// applier applies a partition's changelog records to the local store, for
// a restore or catch-up (restore) and for a standby copy (standby.go): the
// same code brings a state up to date whoever follows the changelog.
type applier struct {
	r      *Runner
	id     int32
	posKey []byte
	// posValue is the last position record applied since the last commit
	// when hasPos (a copy, its buffer reused).
	posValue []byte
	hasPos   bool
	// load, when not nil, collects the records instead of b (a restore
	// into a partition without state), until toBatches or commit.
	load  *state.Load
	recs  []record
	arena []byte // the fetched records' keys and values
	b     *state.Batch
	// n counts the state records applied (position records aside), bytes
	// their keys and values.
	n       int
	bytes   int64
	applied prometheus.Counter
}

func newApplier(r *Runner, id int32, by string) *applier {
	bufs := fetchBufs.Get().(*fetchBuf)
	return &applier{r: r, id: id, posKey: state.PositionKey(id), b: r.store.NewBatchSize(restoreBatchBytes + restoreBatchBytes/4),
		recs: bufs.recs, arena: bufs.arena, applied: r.metrics.changelogApplied.WithLabelValues(by)}
}

// fetchBuf is an applier's fetch buffers, recycled through fetchBufs from
// one applier to the next (partitions restore one after the other, each
// growing them to the same size).
type fetchBuf struct {
	recs  []record
	arena []byte
}

var fetchBufs = sync.Pool{New: func() any { return &fetchBuf{arena: []byte{}} }}

// step fetches the changelog from offset off (read_committed) and adds its
// records below stop to the batch in hand. It returns the offset to fetch
// from next: off itself when nothing came back, after a short wait
// (throttled, or nothing there yet). The fetch result is returned for its
// last stable offset.
func (a *applier) step(ctx context.Context, off, stop int64) (int64, fetchResult, error) {
	topic := a.r.cfg.ChangelogTopic
	res, err := a.r.kafka.fetchBytes(ctx, topic, int(a.id), off, restoreFetchRecords, restoreFetchBytes, a.recs, a.arena, true, nil)
	a.recs, a.arena = res.records, res.arena
	if err != nil {
		return off, res, fmt.Errorf("changelog %s partition %d offset %d: %w", topic, a.id, off, err)
	}
	if len(a.recs) == 0 {
		switch {
		case res.next > off:
			return res.next, res, nil
		case res.sawEarlier:
			// Only records before off came back: a batch whose tail
			// compaction removed. Step past it.
			return off + 1, res, nil
		}
		// Throttled, or nothing yet: try again; a restore never stops
		// short of the end (its position would lie).
		if !sleep(ctx, 50*time.Millisecond) {
			return off, res, ctx.Err()
		}
		return off, res, nil
	}
	n := 0
	for i := range a.recs {
		if a.recs[i].Offset >= stop {
			break
		}
		if bytes.Equal(a.recs[i].Key, a.posKey) {
			// A copy: the record's value lives in the arena, which the
			// next fetch overwrites.
			a.posValue = append(a.posValue[:0], a.recs[i].Value...)
			a.hasPos = a.recs[i].Value != nil
			continue
		}
		var err error
		if a.load != nil {
			err = a.load.Add(a.recs[i].Key, a.recs[i].Value)
		} else {
			err = a.b.Restore(a.id, a.recs[i].Key, a.recs[i].Value)
		}
		if err != nil {
			return off, res, storageErr("partition %d: restore: %w", a.id, err)
		}
		n++
		a.bytes += int64(len(a.recs[i].Key) + len(a.recs[i].Value))
	}
	a.n += n
	a.applied.Add(float64(n))
	return res.next, res, nil
}

// pending is the number of operations in the batch (or Load) in hand.
func (a *applier) pending() int {
	if a.load != nil {
		return a.load.Len()
	}
	return a.b.Len()
}

// toBatches writes what the Load collected through batches (without
// fsync and without a position, as flush) and goes on with batches.
func (a *applier) toBatches() error {
	err := a.load.Each(func(key, value []byte) error {
		if err := a.b.Restore(a.id, key, value); err != nil {
			return err
		}
		if a.b.Bytes() >= restoreBatchBytes {
			return a.apply(false)
		}
		return nil
	})
	a.load.Close()
	a.load = nil
	if err != nil {
		return storageErr("partition %d: restore: %w", a.id, err)
	}
	return nil
}

// flush commits the batch in hand without a position (without fsync): a
// restore cut short afterwards leaves the old position, from which it is
// done again.
func (a *applier) flush() error {
	if err := a.apply(false); err != nil {
		return storageErr("partition %d: restore: %w", a.id, err)
	}
	return nil
}

// apply commits the batch in hand (sync: waiting for fsync) and leaves it
// empty, keeping its buffer; after an error, a new batch is in hand.
func (a *applier) apply(sync bool) error {
	err := a.b.Apply(sync)
	if err != nil {
		a.b.Close()
		a.b = a.r.store.NewBatchSize(restoreBatchBytes + restoreBatchBytes/4)
	}
	return err
}

// commit commits the batch in hand with the position: the last position
// record applied since the last commit, else the local one (records
// without a position, or none at all), with ChangelogEnd = end, everything
// before end being applied. Without any position (a changelog that holds
// none so far) the batch is committed without one. sync waits for fsync
// (Store options permitting). With a Load in hand, the Load is committed
// instead, with the position, durably whatever sync. It returns the
// position and whether there is one, and leaves an empty batch in hand.
func (a *applier) commit(end int64, sync bool) (state.Position, bool, error) {
	var pos state.Position
	found := a.hasPos
	if found {
		var err error
		if pos, err = state.DecodePosition(a.posValue); err != nil {
			return state.Position{}, false, storageErr("partition %d: restore: %w", a.id, err)
		}
	} else if local, ok, err := a.r.store.Position(a.id); err != nil {
		return state.Position{}, false, storageErr("partition %d: position: %w", a.id, err)
	} else if ok {
		pos, found = local, true // a catch-up over records without a position
	}
	if found {
		pos.ChangelogEnd = end
	}
	if a.load != nil {
		var lp *state.Position
		if found {
			lp = &pos
		}
		err := a.load.Commit(lp)
		a.load, a.hasPos = nil, false
		if err != nil {
			return state.Position{}, false, storageErr("partition %d: restore: %w", a.id, err)
		}
		return pos, found, nil
	}
	if found {
		a.b.PutPosition(a.id, pos)
	}
	err := a.apply(sync)
	a.hasPos = false
	if err != nil {
		return state.Position{}, false, storageErr("partition %d: restore: %w", a.id, err)
	}
	return pos, found, nil
}

// close discards the batch (and Load) in hand, and recycles the fetch
// buffers.
func (a *applier) close() {
	if a.load != nil {
		a.load.Close()
	}
	a.b.Close()
	fetchBufs.Put(&fetchBuf{recs: a.recs[:0], arena: a.arena[:0]})
	a.recs, a.arena = nil, nil
}

// outOfRange handles a stored offset the partition no longer has: beyond its
// end (the topic was recreated: the group's offset belongs to the old log,
// and every record of the new one is published) or before its start
// (retention removed records). State is kept either way. It returns the
// new position and first offset to publish.
func (p *partition) outOfRange(ctx context.Context, pos state.Position, publish int64) (state.Position, int64) {
	first, end, err := p.r.kafka.offsets(ctx, p.r.cfg.AttemptsTopic, []int{int(p.id)})
	if err != nil {
		p.log.Warn().Err(err).Msg("offset out of range and offsets unavailable; retrying")
		sleep(ctx, time.Second)
		return pos, publish
	}
	f, e := first[int(p.id)], end[int(p.id)]
	switch {
	case pos.Offset > e:
		// The log is not the one the offset was stored for (topic
		// recreated, or truncated). Every record in it may be new to us:
		// read it from its start; attempts seen before are answered from
		// their idempotency records.
		p.log.Error().Int64("stored_offset", pos.Offset).Int64("log_start", f).Int64("log_end", e).
			Msg("stored offset is beyond the partition's end (topic recreated?): reading the partition from its start, state kept")
		pos.Offset, publish = f, f
	case pos.Offset < f:
		p.log.Error().Int64("stored_offset", pos.Offset).Int64("log_start", f).
			Msg("records before the partition's first offset were deleted by retention: continuing from its start")
		pos.Offset = f
	}
	return pos, publish
}
