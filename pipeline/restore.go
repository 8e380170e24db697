package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/sendgate/sendgate/state"
)

// A restore fetches the changelog in larger pieces than a batch of
// attempts: the fewer round trips, the sooner a taken-over partition is
// ready (every owned partition restores at once: 8 of them hold 8 × 4 MiB
// of fetched records at most).
const (
	restoreFetchRecords = 1 << 16
	restoreFetchBytes   = 4 << 20
)

// restore applies the partition's changelog from offset from up to stop on
// top of the local state, then stores the position found in it (the last
// position record) with ChangelogEnd = stop, in the same local commit as
// the last records: a restore cut short leaves the old position, from
// which it is done again. It returns the position (false when the
// changelog holds none) and how many records it applied.
func (p *partition) restore(ctx context.Context, from, stop int64) (state.Position, bool, int, error) {
	r := p.r
	topic := r.cfg.ChangelogTopic
	off := from
	posKey := state.PositionKey(p.id)
	var posValue []byte
	var recs []record
	n := 0
	b := r.store.NewBatch()
	defer func() { b.Close() }()
	for off < stop {
		res, err := r.kafka.fetchBytes(ctx, topic, int(p.id), off, restoreFetchRecords, restoreFetchBytes, recs, true)
		recs = res.records
		if err != nil {
			return state.Position{}, false, n, fmt.Errorf("changelog %s partition %d offset %d: %w", topic, p.id, off, err)
		}
		if len(recs) == 0 {
			switch {
			case res.next > off:
				off = res.next
			case res.sawEarlier:
				// Only records before off came back: a batch whose tail
				// compaction removed. Step past it.
				off++
			default:
				// Throttled, or nothing yet: try again; a restore never
				// stops short of the end (its position would lie).
				if !sleep(ctx, 50*time.Millisecond) {
					return state.Position{}, false, n, ctx.Err()
				}
			}
			continue
		}
		for i := range recs {
			if recs[i].Offset >= stop {
				break
			}
			if bytes.Equal(recs[i].Key, posKey) {
				posValue = recs[i].Value
				continue
			}
			if err := b.Restore(p.id, recs[i].Key, recs[i].Value); err != nil {
				return state.Position{}, false, n, storageErr("partition %d: restore: %w", p.id, err)
			}
			n++
		}
		off = res.next
		if b.Len() >= restoreFetchRecords {
			if err := b.CommitNoSync(); err != nil {
				return state.Position{}, false, n, storageErr("partition %d: restore: %w", p.id, err)
			}
			b = r.store.NewBatch()
		}
	}
	var pos state.Position
	found := posValue != nil
	if found {
		var err error
		if pos, err = state.DecodePosition(posValue); err != nil {
			return state.Position{}, false, n, storageErr("partition %d: restore: %w", p.id, err)
		}
	} else if local, ok, err := r.store.Position(p.id); err != nil {
		return state.Position{}, false, n, storageErr("partition %d: position: %w", p.id, err)
	} else if ok {
		pos, found = local, true // a catch-up over records without a position
	}
	if found {
		// Everything up to stop is applied.
		pos.ChangelogEnd = stop
		b.PutPosition(p.id, pos)
	}
	if err := b.Commit(); err != nil {
		return state.Position{}, false, n, storageErr("partition %d: restore: %w", p.id, err)
	}
	return pos, found, n, nil
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
