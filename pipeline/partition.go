package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/sendgate/sendgate/quota"
	"github.com/sendgate/sendgate/state"
)

// partition is one owned attempts partition and its worker.
type partition struct {
	r   *Runner
	id  int32
	dec decider

	// rebuilding is set until the partition's state is loaded or restored
	// and, in a rebuild, the records whose verdicts were already published
	// are read again.
	rebuilding atomic.Bool
	// sweepDebt is how many entries the expiry sweep owes: two per record.
	sweepDebt int
	// posChange is the changelog record of the last committed position,
	// sent with the next batch's decisions.
	posChange []kafka.Message
}

func newPartition(r *Runner, id int32, cacheContacts int) *partition {
	p := &partition{r: r, id: id}
	p.rebuilding.Store(true) // until its state is loaded or restored
	p.dec = decider{r: r, partition: id, topic: r.cfg.AttemptsTopic, cache: newHistoryCache(cacheContacts)}
	return p
}

// start finds where to resume: the offset stored in Pebble with the state,
// or, for a partition this instance has no state for, the partition's first
// offset with publishing suppressed up to the group's committed offset (the
// records before it were decided by another instance: re-reading them
// rebuilds the state without publishing their verdicts again).
func (p *partition) start(ctx context.Context, groupOffset int64) (pos state.Position, publishFrom int64, err error) {
	pos, ok, err := p.r.store.Position(p.id)
	if err != nil {
		return pos, 0, fmt.Errorf("partition %d: load position: %w", p.id, err)
	}
	first, end, err := p.r.kafka.offsets(ctx, p.r.cfg.ChangelogTopic, []int{int(p.id)})
	if err != nil {
		return pos, 0, err
	}
	clFirst, clEnd := first[int(p.id)], end[int(p.id)]
	log := p.r.log.With().Str("topic", p.r.cfg.AttemptsTopic).Int32("partition", p.id).Logger()
	// Local state is fresh unless another instance wrote the changelog
	// since this one last did, or the group went further (a lagging group
	// offset alone proves nothing).
	if ok && groupOffset <= pos.Offset && (clEnd <= pos.ChangelogEnd || (pos.ChangelogEnd == 0 && clEnd == 0)) {
		return pos, 0, nil
	}
	from := clFirst
	switch {
	case ok && pos.ChangelogEnd > 0 && pos.ChangelogEnd >= clFirst && pos.ChangelogEnd <= clEnd:
		// The local state holds the changelog up to ChangelogEnd: apply
		// what was written after it (Kafka Streams' restore from a
		// checkpoint).
		from = pos.ChangelogEnd
		log.Warn().Int64("stored_offset", pos.Offset).Int64("group_offset", groupOffset).
			Int64("changelog_from", from).Int64("changelog_end", clEnd).
			Msg("the changelog was written after this instance's last write (another owner, or writes not yet recorded): applying the rest of it")
	default:
		if ok {
			log.Warn().Int64("stored_offset", pos.Offset).Int64("group_offset", groupOffset).
				Msg("local state is stale and cannot be caught up from the changelog: restoring the partition from it whole")
		}
		// No usable state (or a restore cut short): start from nothing.
		if err := p.r.store.DropPartition(p.id); err != nil {
			return pos, 0, fmt.Errorf("partition %d: drop local state: %w", p.id, err)
		}
	}
	rpos, ok, n, err := p.restore(ctx, from, clEnd)
	if err != nil {
		if from == clFirst {
			if derr := p.r.store.DropPartition(p.id); derr != nil {
				return pos, 0, fmt.Errorf("partition %d: drop a partial restore: %w", p.id, derr)
			}
		}
		return pos, 0, err
	}
	if ok {
		publishFrom = 0
		if groupOffset > rpos.Offset {
			publishFrom = groupOffset
		}
		log.Info().Int("records", n).Int64("offset", rpos.Offset).Int64("group_offset", groupOffset).
			Msg("partition state restored from the changelog")
		return rpos, publishFrom, nil
	}
	afirst, _, err := p.r.kafka.offsets(ctx, p.r.cfg.AttemptsTopic, []int{int(p.id)})
	if err != nil {
		return pos, 0, err
	}
	pos = state.Position{Offset: afirst[int(p.id)]}
	if groupOffset > pos.Offset {
		log.Warn().Int64("from", pos.Offset).Int64("group_offset", groupOffset).Int("changelog_records", n).
			Msg("no state for partition, locally or in the changelog: rebuilding from its first offset, publishing from the group's offset on")
		return pos, groupOffset, nil
	}
	return pos, 0, nil
}

// run processes the partition until ctx is done (shutdown or the end of the
// consumer-group generation). The batch in hand is always finished and
// committed before it returns. It returns a non-nil error only for a storage
// failure, which stops the processor.
func (p *partition) run(ctx context.Context, gen *kafka.Generation, groupOffset int64) error {
	r, log := p.r, p.r.log.With().Str("topic", p.r.cfg.AttemptsTopic).Int32("partition", p.id).Logger()
	restored := sync.OnceFunc(func() { r.restoring.Add(-1); r.updateReady() })
	defer restored()
	var pos state.Position
	var publishFrom int64
	for {
		var err error
		pos, publishFrom, err = p.start(ctx, groupOffset)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		log.Warn().Err(err).Msg("cannot find the partition's start offset; retrying")
		r.noteBrokerError(err)
		if !sleep(ctx, time.Second) {
			return nil
		}
	}
	if err := p.dec.loadFilter(); err != nil {
		return err
	}
	log.Info().Int64("offset", pos.Offset).Int64("hwm", pos.HWM).Int("attempt_ids", p.dec.filter.n).Msg("partition assigned")
	if pos.Offset >= publishFrom {
		p.rebuilding.Store(false)
		restored()
	}
	defer func() {
		// The last position reaches the changelog too, so that the next
		// owner restores it rather than the one before.
		if len(p.posChange) == 0 {
			return
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := r.publishInOrder(cctx, p.posChange); err != nil {
			log.Warn().Err(err).Msg("last position not written to the changelog (the next owner re-reads a batch)")
			return
		}
		// Remember where the changelog ended after this instance's last
		// write, for the freshness check of the next assignment.
		if pos, ok, err := r.store.Position(p.id); err == nil && ok {
			pos.ChangelogEnd = r.changelogEnd(p.id)
			b := r.store.NewBatch()
			b.PutPosition(p.id, pos)
			if err := b.Commit(); err != nil {
				log.Warn().Err(err).Msg("storing the changelog end")
			}
		}
	}()
	if gen != nil {
		// However the loop ends, the group learns where this instance got
		// to; never below publishFrom during a rebuild (the records below
		// it had their verdicts published already).
		defer func() {
			off := max(pos.Offset, publishFrom)
			if err := gen.CommitOffsets(map[string]map[int]int64{r.cfg.AttemptsTopic: {int(p.id): off}}); err != nil {
				log.Warn().Err(err).Int64("offset", off).Msg("final group offset commit failed (Pebble holds the offset)")
			}
		}()
	}
	var (
		recs        []record
		backoff     = newBackoff()
		lastGroupAt time.Time
	)
	for ctx.Err() == nil {
		res, err := r.kafka.fetch(ctx, r.cfg.AttemptsTopic, int(p.id), pos.Offset, r.cfg.MaxBatch, recs, false)
		recs = res.records
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, kafka.OffsetOutOfRange) {
				pos = p.outOfRange(ctx, pos, res, log)
				continue
			}
			r.metrics.fetchErrors.WithLabelValues(r.cfg.AttemptsTopic).Inc()
			r.noteBrokerError(err)
			log.Warn().Err(err).Int64("offset", pos.Offset).Dur("retry_in", backoff.peek()).Msg("fetch failed; retrying")
			if !sleep(ctx, backoff.next()) {
				return nil
			}
			continue
		}
		r.noteBrokerOK()
		backoff.reset()
		r.metrics.lag.WithLabelValues(partLabel(p.id)).Set(float64(max(res.hwm-pos.Offset-int64(len(recs)), 0)))
		if len(recs) == 0 {
			pos.Offset = max(pos.Offset, res.skipTo)
			continue
		}
		fetched := time.Now()
		// From here on the batch is finished even if ctx ends: a shutdown or
		// a revoked partition commits what it took.
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.ShutdownTimeout)
		next, err := p.process(bctx, recs, pos, publishFrom)
		cancel()
		if err != nil {
			if !errors.Is(err, errStopped) {
				return err
			}
			r.noteBrokerError(err)
			log.Warn().Err(err).Int64("offset", pos.Offset).Msg("batch not committed; it will be read again")
			if !sleep(ctx, backoff.next()) {
				return nil
			}
			continue
		}
		pos = next
		if p.rebuilding.Load() && pos.Offset >= publishFrom {
			p.rebuilding.Store(false)
			restored()
			log.Info().Int64("offset", pos.Offset).Msg("partition rebuilt")
		}
		r.metrics.consumed.WithLabelValues(r.cfg.AttemptsTopic).Add(float64(len(recs)))
		r.metrics.batchSize.Observe(float64(len(recs)))
		r.metrics.batchLatency.Observe(time.Since(fetched).Seconds())
		if time.Since(lastGroupAt) >= r.cfg.GroupCommitInterval && gen != nil {
			lastGroupAt = time.Now()
			if err := gen.CommitOffsets(map[string]map[int]int64{r.cfg.AttemptsTopic: {int(p.id): max(pos.Offset, publishFrom)}}); err != nil {
				log.Debug().Err(err).Msg("group offset commit failed (Pebble holds the offset; lag tools may lag)")
			}
		}
	}
	return nil
}

// process decides one batch and makes the decisions durable, then
// publishes its verdicts and dead letters and waits for their
// acknowledgement, then records the partition's new position.
//
// The decisions (histories and idempotency records) are committed, synced,
// before anything is published: a batch read again (after a failed publish,
// a crash or a rebalance) finds every attempt's stored verdict and re-emits
// the same bytes, whatever changed meanwhile (settings, the clock), and a
// failed send is released once. The position goes last, without fsync:
// losing it only means reading those records again.
func (p *partition) process(ctx context.Context, recs []record, pos state.Position, publishFrom int64) (state.Position, error) {
	r := p.r
	// Read-your-settings: every settings change acknowledged before these
	// records were fetched applies to them.
	if err := r.follower.catchUp(ctx); err != nil {
		return pos, fmt.Errorf("%w: settings catch-up: %v", errStopped, err)
	}
	w, out, err := p.dec.decideBatch(recs, pos, publishFrom, r.cfg.now().UnixMilli())
	if err != nil {
		return pos, err
	}
	out.finish()

	// The expiry sweep keeps pace with the writes (each record writes at
	// most two new entries), in steps of at least ExpirePerBatch entries.
	p.sweepDebt += 2 * len(recs)
	sweepMax := 0
	if p.sweepDebt >= r.cfg.ExpirePerBatch {
		sweepMax, p.sweepDebt = p.sweepDebt, 0
	}
	b := r.store.NewBatch()
	delta, sweep, err := w.write(b, p.id, p.dec.sweep, sweepMax)
	if err != nil {
		b.Close()
		return pos, err
	}
	// The decisions go to the changelog (with the previous batch's
	// position), so that an instance taking the partition over restores
	// them, while they are committed locally: both before any verdict is
	// published. A batch whose changelog records are not acknowledged is
	// read again, and its attempts, found in the store, are written (and
	// sent) again.
	changes, err := p.changelog(b)
	if err != nil {
		b.Close()
		return pos, err
	}
	commitErr := make(chan error, 1)
	go func() { commitErr <- b.Commit() }()
	perr := r.publishInOrder(ctx, changes)
	if err := <-commitErr; err != nil {
		return pos, fmt.Errorf("partition %d: commit the decisions of offsets %d..%d: %w", p.id, recs[0].Offset, w.next-1, err)
	}
	if perr != nil {
		p.dec.committed(w)
		return pos, fmt.Errorf("%w: changelog: %v", errStopped, perr)
	}
	p.posChange = nil
	p.dec.sweep = sweep
	r.addStateKeys(delta)
	p.dec.committed(w)

	if err := r.publish(ctx, out.msgs); err != nil {
		// kafka-go may still deliver what it was handed: its bytes must
		// stay as they are, so the next batch gets a new arena.
		p.dec.out = output{}
		return pos, fmt.Errorf("%w: publish: %v", errStopped, err)
	}
	out.count(r.metrics, r.cfg.AttemptsTopic)
	if out.verdicts > 0 && out.newestMs > 0 {
		r.metrics.decisionDelay.Observe(max(float64(r.cfg.now().UnixMilli()-out.newestMs)/1000, 0))
	}
	next := state.Position{Offset: w.next, HWM: w.hwm, ChangelogEnd: r.changelogEnd(p.id)}
	bp := r.store.NewBatch()
	bp.PutPosition(p.id, next)
	// The position reaches the changelog with the next batch's decisions
	// (or when the worker stops).
	if p.posChange, err = p.changelog(bp); err != nil {
		bp.Close()
		return pos, err
	}
	if err := bp.CommitNoSync(); err != nil {
		return pos, fmt.Errorf("partition %d: commit position %d: %w", p.id, next.Offset, err)
	}
	return next, nil
}

// changelog returns the changelog records of a batch's operations, after
// the pending position record if any: one record per key, its last
// operation (a contact swept and written again in one batch is one value).
// Their bytes are copies.
func (p *partition) changelog(b *state.Batch) ([]kafka.Message, error) {
	msgs := append([]kafka.Message(nil), p.posChange...)
	at := map[string]int{}
	err := b.Each(func(part int32, key, value []byte) error {
		m := kafka.Message{Topic: p.r.cfg.ChangelogTopic, Key: append([]byte(nil), key...)}
		if value != nil {
			m.Value = append([]byte(nil), value...)
		}
		if i, ok := at[string(key)]; ok {
			msgs[i].Key = nil // superseded
		}
		at[string(key)] = len(msgs)
		msgs = append(msgs, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("partition %d: changelog: %w", p.id, err)
	}
	out := msgs[:0]
	for _, m := range msgs {
		if m.Key != nil {
			out = append(out, m)
		}
	}
	return out, nil
}

// restore applies the partition's changelog from offset from up to stop on
// top of the local state (empty for a whole restore), the position last and
// synced, with ChangelogEnd = stop. It returns the position (false when
// there is none, locally or in the changelog) and how many records it
// applied.
func (p *partition) restore(ctx context.Context, from, stop int64) (state.Position, bool, int, error) {
	r := p.r
	topic := r.cfg.ChangelogTopic
	off := from
	posKey := state.PositionKey(p.id)
	var posValue []byte
	var recs []record
	n := 0
	for off < stop {
		res, err := r.kafka.fetch(ctx, topic, int(p.id), off, r.cfg.MaxBatch, recs, true)
		recs = res.records
		if err != nil {
			return state.Position{}, false, n, fmt.Errorf("changelog %s partition %d offset %d: %w", topic, p.id, off, err)
		}
		if len(recs) == 0 {
			switch {
			case res.skipTo > off:
				off = res.skipTo
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
		b := r.store.NewBatch()
		for i := range recs {
			if bytes.Equal(recs[i].Key, posKey) {
				posValue = recs[i].Value
				continue
			}
			if err := b.Restore(p.id, recs[i].Key, recs[i].Value); err != nil {
				b.Close()
				return state.Position{}, false, n, err
			}
		}
		if err := b.CommitNoSync(); err != nil {
			return state.Position{}, false, n, fmt.Errorf("partition %d: restore: %w", p.id, err)
		}
		n += len(recs)
		off = recs[len(recs)-1].Offset + 1
	}
	// The position last, synced: a partition restored halfway has none (or
	// its old one, and is caught up again from the same place).
	b := r.store.NewBatch()
	if posValue != nil {
		if err := b.Restore(p.id, posKey, posValue); err != nil {
			b.Close()
			return state.Position{}, false, n, err
		}
	}
	if err := b.Commit(); err != nil {
		return state.Position{}, false, n, fmt.Errorf("partition %d: restore: %w", p.id, err)
	}
	pos, ok, err := r.store.Position(p.id)
	if err != nil {
		return state.Position{}, false, n, fmt.Errorf("partition %d: restored position: %w", p.id, err)
	}
	if ok {
		// Everything up to stop is applied.
		pos.ChangelogEnd = stop
		b := r.store.NewBatch()
		b.PutPosition(p.id, pos)
		if err := b.Commit(); err != nil {
			return state.Position{}, false, n, fmt.Errorf("partition %d: restored position: %w", p.id, err)
		}
	}
	return pos, ok, n, nil
}

// outOfRange handles a stored offset the partition no longer has: beyond its
// end (the topic was recreated) or before its start (retention removed
// records). State is kept either way.
func (p *partition) outOfRange(ctx context.Context, pos state.Position, res fetchResult, log zerolog.Logger) state.Position {
	first, end, err := p.r.kafka.offsets(ctx, p.r.cfg.AttemptsTopic, []int{int(p.id)})
	if err != nil {
		log.Warn().Err(err).Msg("offset out of range and offsets unavailable; retrying")
		sleep(ctx, time.Second)
		return pos
	}
	f, e := first[int(p.id)], end[int(p.id)]
	switch {
	case pos.Offset > e:
		// The log is not the one the offset was stored for (topic
		// recreated, or truncated). Every record in it may be new to us:
		// read it from its start; attempts seen before are answered from
		// their idempotency records.
		log.Error().Int64("stored_offset", pos.Offset).Int64("log_start", f).Int64("log_end", e).
			Msg("stored offset is beyond the partition's end (topic recreated?): reading the partition from its start, state kept")
		pos.Offset = f
	case pos.Offset < f:
		log.Error().Int64("stored_offset", pos.Offset).Int64("log_start", f).
			Msg("records before the partition's first offset were deleted by retention: continuing from its start")
		pos.Offset = f
	}
	return pos
}

// query returns the counted sends of a contact, as committed: every
// verdict already published was committed before it was published. It
// returns ErrNotOwned while the partition is being rebuilt.
func (p *partition) query(bot, contact string) ([]quota.Send, error) {
	if p.rebuilding.Load() {
		return nil, ErrNotOwned
	}
	return p.r.store.History(p.id, bot, contact, nil)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// backoff is exponential from 100ms to 5s.
type backoff struct{ d time.Duration }

func newBackoff() *backoff             { return &backoff{d: 100 * time.Millisecond} }
func (b *backoff) peek() time.Duration { return b.d }
func (b *backoff) reset()              { b.d = 100 * time.Millisecond }
func (b *backoff) next() time.Duration {
	d := b.d
	b.d = min(2*b.d, 5*time.Second)
	return d
}
