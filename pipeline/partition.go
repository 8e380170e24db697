package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/sendgate/sendgate/quota"
	"github.com/sendgate/sendgate/state"
)

// partState is where an owned partition is in its lifecycle. It only moves
// forward, except that a worker whose transaction failed goes back to
// partStarting.
type partState int32

const (
	// partStarting: fencing the partition's earlier producers and
	// planning the resume (planResume).
	partStarting partState = iota
	// partRestoring: applying the changelog, whole or its tail.
	partRestoring
	// partRebuilding: deciding again records whose verdicts an earlier
	// owner published, to rebuild the state; nothing is published.
	partRebuilding
	// partRunning: deciding and publishing. Only now is the partition
	// ready and its quota queries answered.
	partRunning
	// partStopped: the worker has returned.
	partStopped
)

func (s partState) String() string {
	return [...]string{"starting", "restoring", "rebuilding", "running", "stopped"}[s]
}

// partition is one owned attempts partition and its worker.
type partition struct {
	r     *Runner
	id    int32
	gen   *kafka.Generation // nil in tests that run without a group
	state atomic.Int32      // partState
	log   zerolog.Logger

	cacheContacts int
	dec           decider
	txn           *txnProducer
	// pos is the position committed last (locally and in the changelog).
	pos state.Position
	// publishFrom is the first offset whose verdicts are published.
	publishFrom int64
	// groupAt is the group offset committed last.
	groupAt int64
	// progress is set when a batch commits: the retry backoff starts over.
	progress bool
	// cutDeadLetters: the broker refused the batch in hand's dead letters
	// as too large; it is decided again with cut copies.
	cutDeadLetters bool
	// watch says whether the fetch reads the settings partitions' ends
	// (they share the attempts partition's leader), as checked at
	// watchChecked.
	watch        bool
	watchChecked time.Time
}

func newPartition(r *Runner, id int32, gen *kafka.Generation, cacheContacts int) *partition {
	p := &partition{r: r, id: id, gen: gen, cacheContacts: cacheContacts,
		log: r.log.With().Str("topic", r.cfg.AttemptsTopic).Int32("partition", id).Logger()}
	p.txn = newTxnProducer(r.kafka.client.Transport, r.kafka.client.Addr,
		transactionalID(r.cfg.GroupID, r.cfg.AttemptsTopic, id), r.cfg.TransactionTimeout)
	return p
}

func (p *partition) setState(s partState) {
	if partState(p.state.Swap(int32(s))) != s {
		p.r.updateReady()
	}
}

func (p *partition) current() partState { return partState(p.state.Load()) }

// run works on the partition until ctx is done (shutdown or the end of the
// consumer-group generation). The batch in hand is always finished, and
// committed or abandoned, before it returns. It returns a non-nil error
// only for a failure that stops the processor (storage, or a fatal Kafka
// error such as a refused authorization).
func (p *partition) run(ctx context.Context, groupOffset int64) error {
	defer p.setState(partStopped)
	bo := newBackoff()
	for ctx.Err() == nil {
		err := p.start(ctx, groupOffset)
		if err == nil {
			err = p.loop(ctx)
		}
		if err == nil || ctx.Err() != nil {
			return nil
		}
		// Not ready, and no quota answers, until started again.
		p.setState(partStarting)
		if p.progress {
			bo.reset() // batches committed since the last failure
			p.progress = false
		}
		var se *storageError
		if errors.As(err, &se) {
			return err
		}
		p.r.noteBrokerError(err)
		switch classOf(err) {
		case fatal:
			return err
		case lost:
			// Another instance owns the partition now, or this member
			// lost its generation: nothing of the batch was committed.
			// If the generation lives on (the fencing came from a
			// member that is itself about to learn it lost), take the
			// partition back once that member had time to stop.
			p.log.Warn().Err(err).Msg("partition fenced by another owner: its batch is dropped, nothing committed")
			if !sleep(ctx, p.r.cfg.SessionTimeout) {
				return nil
			}
		default:
			p.log.Warn().Err(err).Dur("retry_in", bo.peek()).Msg("partition worker failed (nothing of the batch in hand was committed): starting it again")
			if !sleep(ctx, bo.next()) {
				return nil
			}
		}
		groupOffset = max(groupOffset, p.groupAt)
	}
	return nil
}

// storageError is a failure of the local store: it stops the processor.
type storageError struct{ err error }

func (e *storageError) Error() string { return e.err.Error() }
func (e *storageError) Unwrap() error { return e.err }

func storageErr(format string, args ...any) error {
	return &storageError{fmt.Errorf(format, args...)}
}

// start fences the partition's earlier producers, then brings the local
// state up to date as planResume says and readies the decider.
func (p *partition) start(ctx context.Context, groupOffset int64) error {
	r := p.r
	if err := p.txn.init(ctx); err != nil {
		return err
	}
	local, ok, err := r.store.Position(p.id)
	if err != nil {
		return storageErr("partition %d: load position: %w", p.id, err)
	}
	first, end, err := r.kafka.offsets(ctx, r.cfg.ChangelogTopic, []int{int(p.id)})
	if err != nil {
		return err
	}
	in := resumeInput{Local: ok, LocalOffset: local.Offset, LocalChangelog: local.ChangelogEnd, Group: groupOffset,
		ChangelogStart: first[int(p.id)], ChangelogEnd: end[int(p.id)]}
	plan := planResume(in)
	log := p.log.With().Str("plan", plan.Action.String()).Bool("local", in.Local).Int64("local_offset", in.LocalOffset).
		Int64("local_changelog", in.LocalChangelog).Int64("group_offset", groupOffset).
		Int64("changelog_start", in.ChangelogStart).Int64("changelog_end", in.ChangelogEnd).Logger()
	pos := local
	switch plan.Action {
	case useLocal:
		log.Info().Msg("partition assigned: " + plan.Why)
	case catchUp, restoreWhole:
		p.setState(partRestoring)
		if plan.Action == restoreWhole {
			if err := r.store.DropPartition(p.id); err != nil {
				return storageErr("partition %d: drop local state: %w", p.id, err)
			}
		}
		t0 := time.Now()
		var n int
		pos, ok, n, err = p.restore(ctx, plan.From, in.ChangelogEnd)
		if err != nil {
			return err
		}
		log.Info().Int("records", n).Dur("took", time.Since(t0)).Int64("offset", pos.Offset).Bool("position_found", ok).
			Msg("partition " + map[bool]string{true: "caught up", false: "restored"}[plan.Action == catchUp] + " from the changelog: " + plan.Why)
		if ok {
			break
		}
		log.Warn().Msg("the changelog holds no position: rebuilding from the attempts topic")
		fallthrough
	case rebuild:
		if err := r.store.DropPartition(p.id); err != nil {
			return storageErr("partition %d: drop local state: %w", p.id, err)
		}
		afirst, _, err := r.kafka.offsets(ctx, r.cfg.AttemptsTopic, []int{int(p.id)})
		if err != nil {
			return err
		}
		pos = state.Position{Offset: afirst[int(p.id)]}
		if groupOffset > pos.Offset {
			log.Warn().Int64("from", pos.Offset).Msg("partition assigned: " + plan.Why + ": deciding again from its first offset, publishing from the group's offset on")
		} else {
			log.Info().Int64("from", pos.Offset).Msg("partition assigned: " + plan.Why)
		}
	}
	p.pos, p.publishFrom, p.groupAt = pos, publishFrom(pos.Offset, groupOffset), groupOffset
	forwardFrom := int64(0)
	if r.cfg.ReemitLastBatch && plan.Action != rebuild && pos.BatchStart >= 0 && pos.BatchStart < pos.Offset {
		// Read the last committed batch again: its attempts are found in
		// the store and their verdicts published again. It is decided from
		// the high-water mark it started at, so at the decision times it
		// was decided at (an attempt id's expiry is judged at those).
		log.Info().Int64("from", pos.BatchStart).Int64("to", pos.Offset).Msg("publishing the last committed batch's verdicts again")
		p.pos.Offset, p.publishFrom, forwardFrom = pos.BatchStart, pos.BatchStart, pos.Offset
		if pos.BatchStartHWM >= 0 {
			p.pos.HWM = pos.BatchStartHWM
		}
	}
	// The state may have changed under any earlier decider: a new one.
	p.dec = newDecider(r.deciderDeps(), p.id, p.cacheContacts)
	p.dec.cutDeadLetters, p.dec.forwardFrom = p.cutDeadLetters, forwardFrom
	if err := p.dec.loadFilter(); err != nil {
		return &storageError{err}
	}
	if p.pos.Offset < p.publishFrom {
		p.setState(partRebuilding)
	} else {
		p.setState(partRunning)
	}
	return nil
}

// loop fetches, decides and commits batches until ctx is done or a
// transaction fails.
func (p *partition) loop(ctx context.Context) error {
	r := p.r
	var recs []record
	bo := newBackoff()
	for ctx.Err() == nil {
		var w *watch
		if p.watching(ctx) {
			w = r.follower.watch()
		}
		res, err := r.kafka.fetchWatching(ctx, r.cfg.AttemptsTopic, int(p.id), p.pos.Offset, r.cfg.MaxBatch, recs, w)
		recs = res.records
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if w != nil {
				// A leader moved (kafka-go sends one request to one
				// broker, and refuses partitions of two leaders), or the
				// broker failed: fetch without the settings partitions
				// until the next check.
				p.watch, p.watchChecked = false, time.Now()
				p.log.Debug().Err(err).Msg("fetch with the settings partitions failed; fetching without them")
				continue
			}
			if errors.Is(err, kafka.OffsetOutOfRange) {
				p.pos, p.publishFrom = p.outOfRange(ctx, p.pos, p.publishFrom)
				continue
			}
			r.metrics.fetchErrors.WithLabelValues(r.cfg.AttemptsTopic).Inc()
			r.noteBrokerError(err)
			p.log.Warn().Err(err).Int64("offset", p.pos.Offset).Dur("retry_in", bo.peek()).Msg("fetch failed; retrying")
			if !sleep(ctx, bo.next()) {
				return nil
			}
			continue
		}
		r.noteBrokerOK()
		bo.reset()
		r.metrics.lag.WithLabelValues(partLabel(p.id)).Set(float64(max(res.lso-p.pos.Offset-int64(len(recs)), 0)))
		if len(recs) == 0 {
			if res.watched != nil {
				// Settings records past what the follower applied make
				// the broker answer at once: wait for them, rather than
				// fetching again and again meanwhile.
				if err := r.follower.catchUpTo(ctx, res.watched); err != nil {
					return nil // ctx is done
				}
			}
			if res.next <= p.pos.Offset && p.groupAt >= p.pos.Offset {
				continue
			}
			// Only transaction markers (or aborted records): the
			// position moves past them, and so does the group's offset,
			// so that lag tools see an idle partition at its end.
			next := p.pos
			next.Offset = max(p.pos.Offset, res.next)
			if err := p.commitIdle(ctx, next); err != nil {
				return err
			}
			continue
		}
		// From here on the batch is finished even if ctx ends: a shutdown or
		// a revoked partition commits what it took.
		fetched := time.Now()
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.ShutdownTimeout)
		err = p.process(bctx, recs, res.next, res.watched)
		cancel()
		if err != nil {
			return err
		}
		if p.current() == partRebuilding && p.pos.Offset >= p.publishFrom {
			p.setState(partRunning)
			p.log.Info().Int64("offset", p.pos.Offset).Msg("partition rebuilt")
		}
		r.metrics.consumed.WithLabelValues(r.cfg.AttemptsTopic).Add(float64(len(recs)))
		r.metrics.batchSize.Observe(float64(len(recs)))
		r.metrics.batchLatency.Observe(time.Since(fetched).Seconds())
	}
	return nil
}

// watching reports whether the next fetch reads the settings partitions'
// ends with the attempts: when every settings partition has the attempts
// partition's leader, as checked every SettingsWatchCheck (a metadata
// request). Otherwise each batch catches up with a ListOffsets (the
// follower's catchUp).
func (p *partition) watching(ctx context.Context) bool {
	r := p.r
	if !p.watchChecked.IsZero() && time.Since(p.watchChecked) < r.cfg.SettingsWatchCheck {
		return p.watch
	}
	p.watch, p.watchChecked = false, time.Now()
	ls, err := r.kafka.leaders(ctx, r.cfg.AttemptsTopic, r.cfg.SettingsTopic)
	if err != nil {
		return false
	}
	leader, ok := ls[r.cfg.AttemptsTopic][int(p.id)]
	if !ok || len(ls[r.cfg.SettingsTopic]) == 0 {
		return false
	}
	for _, sl := range ls[r.cfg.SettingsTopic] {
		if sl != leader {
			return false
		}
	}
	p.watch = true
	return true
}

// commitIdle commits a position with no decisions (records skipped).
func (p *partition) commitIdle(ctx context.Context, next state.Position) error {
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.r.cfg.ShutdownTimeout)
	defer cancel()
	b := p.r.store.NewBatch()
	return p.commit(bctx, b, nil, &work{hist: nil, hwm: next.HWM, next: next.Offset}, nil)
}

// process decides one batch and commits it (commit.go). settingsEnds are
// the settings partitions' last stable offsets read with the records (nil:
// not known).
func (p *partition) process(ctx context.Context, recs []record, fetchNext int64, settingsEnds map[int]int64) error {
	r := p.r
	// Read-your-settings: every settings change acknowledged before these
	// records were fetched applies to them. The fetch read the settings
	// topic's ends with them; without those, they are asked for now.
	var err error
	if settingsEnds != nil {
		err = r.follower.catchUpTo(ctx, settingsEnds)
	} else {
		err = r.follower.catchUp(ctx)
	}
	if err != nil {
		return txnErr("settings catch-up", err)
	}
	w, out, err := p.dec.decideBatch(recs, p.pos, p.publishFrom, r.cfg.now().UnixMilli())
	if err != nil {
		return &storageError{err}
	}
	if len(recs) < r.cfg.MaxBatch {
		// Markers and aborted records after the last one are passed too.
		w.next = max(w.next, fetchNext)
	}
	out.finish()
	// The expiry sweep keeps pace with the writes, or rests while nothing
	// can have expired (sweep.go).
	sweepMax := p.dec.sweep.plan(len(recs), w.hwm, r.cfg.ExpirePerBatch)
	b := r.store.NewBatch()
	delta, swept, err := w.write(b, p.id, p.dec.sweep.cursor, sweepMax)
	if err != nil {
		b.Close()
		return &storageError{err}
	}
	if err := p.commit(ctx, b, out, w, func() {
		p.dec.sweep.done(len(recs), w.hwm, sweepMax, swept.Next, swept.Earliest, delta.earliest)
		r.addStateKeys(delta)
	}); err != nil {
		// The output's bytes may still be referenced by a request in
		// flight: the next batch gets a new arena.
		p.dec.out = output{}
		return err
	}
	out.count(r.metrics, r.cfg.AttemptsTopic)
	if out.verdicts > 0 && out.newestMs > 0 {
		r.metrics.decisionDelay.Observe(max(float64(r.cfg.now().UnixMilli()-out.newestMs)/1000, 0))
	}
	return nil
}

// query returns the counted sends of a contact, as committed: the local
// store holds exactly the decisions whose transactions committed. It
// returns ErrNotOwned until the partition runs.
func (p *partition) query(bot, contact string) ([]quota.Send, error) {
	if p.current() != partRunning {
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
