package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
	"github.com/sendgate/sendgate/state"
)

// follower reads the settings topic in full (every partition, on every
// instance), applies it to the settings table and persists it with its
// offsets. catchUp gives the read-your-settings guarantee.
type follower struct {
	r     *Runner
	parts []int

	mu      sync.Mutex
	applied map[int]int64 // next offset per settings partition
	changed chan struct{} // closed and replaced whenever applied moves

	callMu sync.Mutex
	call   *endsCall
}

// endsCall is one ListOffsets of the settings topic, shared by every caller
// that asked for it no earlier than it started.
type endsCall struct {
	started time.Time
	done    chan struct{}
	ends    map[int]int64
	err     error
}

func newFollower(r *Runner) *follower {
	return &follower{r: r, applied: map[int]int64{}, changed: make(chan struct{})}
}

// init loads the persisted settings and offsets and learns the topic's
// partitions.
func (f *follower) init(ctx context.Context) error {
	if err := f.r.store.EachSettings(func(bot string, bs state.BotSettings) error {
		f.r.settings.load(bot, bs)
		return nil
	}); err != nil {
		return &setupError{fmt.Errorf("load settings: %w", err)}
	}
	offs, err := f.r.store.SettingsOffsets()
	if err != nil {
		return &setupError{fmt.Errorf("load settings offsets: %w", err)}
	}
	parts, err := f.r.kafka.partitions(ctx, f.r.cfg.SettingsTopic)
	if err != nil {
		return err
	}
	first, _, err := f.r.kafka.offsets(ctx, f.r.cfg.SettingsTopic, parts)
	if err != nil {
		return err
	}
	f.parts = parts
	for _, p := range parts {
		off, ok := offs[int32(p)]
		if !ok || off < first[p] {
			off = first[p]
		}
		f.applied[p] = off
	}
	return nil
}

// run follows every settings partition until ctx is done. A storage failure
// is returned.
func (f *follower) run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for _, p := range f.parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.follow(ctx, p); err != nil {
				cancel(err) // stops the other partitions too
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func (f *follower) follow(ctx context.Context, p int) error {
	r := f.r
	topic := r.cfg.SettingsTopic
	log := r.log.With().Str("topic", topic).Int("partition", p).Logger()
	f.mu.Lock()
	off := f.applied[p]
	f.mu.Unlock()
	bo := newBackoff()
	var recs []record
	for ctx.Err() == nil {
		res, err := r.kafka.fetch(ctx, topic, p, off, r.cfg.MaxBatch, recs, true)
		recs = res.records
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.metrics.fetchErrors.WithLabelValues(topic).Inc()
			r.noteBrokerError(err)
			if first, end, oerr := r.kafka.offsets(ctx, topic, []int{p}); oerr == nil && (off > end[p] || off < first[p]) {
				log.Error().Int64("stored_offset", off).Int64("log_start", first[p]).Int64("log_end", end[p]).
					Msg("settings offset out of range (topic recreated or compacted away): re-reading the topic from its start; settings in force are kept and versions still apply")
				off = first[p]
				f.reset(p, off)
				continue
			}
			log.Warn().Err(err).Int64("offset", off).Msg("settings fetch failed; retrying")
			if !sleep(ctx, bo.next()) {
				return nil
			}
			continue
		}
		bo.reset()
		r.noteBrokerOK()
		if len(recs) == 0 {
			// Nothing new (or only offsets compaction removed): the
			// partition is caught up to here.
			off = max(off, res.next)
			if res.sawEarlier {
				off++ // a batch whose tail compaction removed
			}
			f.advance(p, off)
			continue
		}
		next, err := f.apply(ctx, p, recs)
		if err != nil {
			return err
		}
		if next > recs[0].Offset && res.next > next {
			// Transaction markers after the last record.
			next = res.next
			f.advance(p, next)
		}
		off = next
		r.metrics.consumed.WithLabelValues(topic).Add(float64(len(recs)))
	}
	return nil
}

// apply applies a batch of settings records, dead-letters the invalid ones and
// persists the result with the next offset.
func (f *follower) apply(ctx context.Context, p int, recs []record) (int64, error) {
	r := f.r
	topic := r.cfg.SettingsTopic
	b := r.store.NewBatch()
	defer b.Close()
	var dlq dlqMsgs
	staged := map[string]state.BotSettings{}
	for i := range recs {
		rec := &recs[i]
		bot := string(rec.Key)
		log := r.log.With().Str("topic", topic).Int("partition", p).Int64("offset", rec.Offset).Str("bot_id", bot).Logger()
		if rec.Value == nil {
			if bot == "" {
				r.metrics.settingsApplied.WithLabelValues("invalid").Inc()
				log.Warn().Msg("settings tombstone without a key; ignored")
				continue
			}
			if bs, c := r.settings.stage(staged, bot, quota.Settings{}, true); c == applied {
				b.PutSettings(bot, bs)
				log.Info().Int64("floor", bs.Floor).Msg("settings deleted (tombstone): limit disabled")
			}
			r.metrics.settingsApplied.WithLabelValues("tombstone").Inc()
			continue
		}
		ev, err := events.DecodeSettings(rec.Value)
		if err == nil && ev.BotID != bot {
			err = &events.Error{Field: "key", Msg: fmt.Sprintf("must be the bot_id %q, got %q", ev.BotID, truncate(rec.Key))}
		}
		if err != nil {
			r.metrics.settingsApplied.WithLabelValues("invalid").Inc()
			log.Warn().Err(err).Msg("invalid settings event: settings unchanged; dead-lettered")
			dlq.add(r.cfg.DLQTopic, rec, err.Error(), topic, int32(p))
			continue
		}
		bs, c := r.settings.stage(staged, bot, ev.Settings, false)
		if c != applied {
			r.metrics.settingsApplied.WithLabelValues("stale").Inc()
			log.Info().Int64("version", ev.Settings.Version).Int64("in_force", bs.Floor).Msg("settings version not newer than the one in force; ignored")
			continue
		}
		b.PutSettings(bot, bs)
		r.metrics.settingsApplied.WithLabelValues("applied").Inc()
		log.Info().Int64("version", ev.Settings.Version).Bool("limit_enabled", ev.Settings.Enabled).
			Int("max_per_contact", ev.Settings.Max).Int64("window_seconds", ev.Settings.WindowSeconds()).
			Str("scope", ev.Settings.Scope.String()).Msg("settings applied")
	}
	next := recs[len(recs)-1].Offset + 1
	if len(dlq) > 0 {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.ShutdownTimeout)
		err := r.publish(pctx, dlq)
		cancel()
		if err != nil {
			// Not committed: the records are read again.
			return recs[0].Offset, nil
		}
		r.metrics.dlq.WithLabelValues(topic).Add(float64(len(dlq)))
	}
	b.PutSettingsOffset(int32(p), next)
	if err := b.Commit(); err != nil {
		return 0, fmt.Errorf("settings partition %d: commit up to offset %d: %w", p, next, err)
	}
	r.settings.commit(staged)
	f.advance(p, next)
	return next, nil
}

// reset moves partition p's applied offset back to off (the topic was
// recreated): catchUp must wait for the new log.
func (f *follower) reset(p int, off int64) {
	f.mu.Lock()
	f.applied[p] = off
	f.mu.Unlock()
}

// advance records that partition p is applied up to next.
func (f *follower) advance(p int, next int64) {
	f.mu.Lock()
	if next > f.applied[p] {
		f.applied[p] = next
	}
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

// catchUp returns once every settings record acknowledged by Kafka before it
// was called has been applied.
func (f *follower) catchUp(ctx context.Context) error {
	ends, err := f.latestEnds(ctx)
	if err != nil {
		return err
	}
	return f.catchUpTo(ctx, ends)
}

// catchUpTo returns once every settings partition is applied up to its
// offset in ends: with ends read by the broker after a fetch of attempts
// (fetchWatching), every settings record acknowledged before those
// attempts were read applies to them.
func (f *follower) catchUpTo(ctx context.Context, ends map[int]int64) error {
	for {
		f.mu.Lock()
		behind := false
		for p, e := range ends {
			if f.applied[p] < e {
				behind = true
				break
			}
		}
		ch := f.changed
		f.mu.Unlock()
		if !behind {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// watch returns what a fetch of attempts watches of the settings topic:
// its partitions, from the offsets applied so far.
func (f *follower) watch() *watch {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &watch{topic: f.r.cfg.SettingsTopic, offsets: make(map[int]int64, len(f.applied))}
	for p, off := range f.applied {
		w.offsets[p] = off
	}
	return w
}

// latestEnds lists the settings topic's end offsets with a request sent no
// earlier than the call, sharing one request among concurrent callers.
func (f *follower) latestEnds(ctx context.Context) (map[int]int64, error) {
	t0 := time.Now()
	f.callMu.Lock()
	if c := f.call; c != nil && !c.started.Before(t0) {
		f.callMu.Unlock()
		select {
		case <-c.done:
			return c.ends, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c := &endsCall{started: time.Now(), done: make(chan struct{})}
	f.call = c
	f.callMu.Unlock()
	_, c.ends, c.err = f.r.kafka.offsets(ctx, f.r.cfg.SettingsTopic, f.parts)
	close(c.done)
	return c.ends, c.err
}
