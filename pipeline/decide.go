package pipeline

import (
	"fmt"
	"hash/maphash"

	"github.com/rs/zerolog"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
	"github.com/sendgate/sendgate/state"
)

// deciderDeps are what a decider uses besides its partition's state: the
// store it reads (it never writes: its work is committed by the partition
// worker), the settings in force, the partitions of the topics it writes,
// its configuration, metrics and log.
type deciderDeps struct {
	store      *state.Store
	settings   func(bot string) quota.Settings
	partitions func(topic string) []int
	cfg        deciderConfig
	metrics    *metrics
	log        zerolog.Logger
}

// deciderConfig is the part of Config a decider needs.
type deciderConfig struct {
	attemptsTopic, verdictsTopic, dlqTopic string
	// retentionMs is the least time an attempt id is remembered.
	retentionMs int64
}

// deciderDeps returns the decider dependencies of the runner.
func (r *Runner) deciderDeps() deciderDeps {
	return deciderDeps{store: r.store, settings: r.settings.get, partitions: r.partitionsOf, metrics: r.metrics, log: r.log,
		cfg: deciderConfig{attemptsTopic: r.cfg.AttemptsTopic, verdictsTopic: r.cfg.VerdictsTopic, dlqTopic: r.cfg.DLQTopic,
			retentionMs: r.cfg.VerdictRetention.Milliseconds()}}
}

// newDecider returns the decider of attempts partition partition, caching
// the histories of up to cacheContacts contacts.
func newDecider(deps deciderDeps, partition int32, cacheContacts int) decider {
	return decider{deciderDeps: deps, partition: partition, topic: deps.cfg.attemptsTopic, cache: newHistoryCache(cacheContacts), sweep: newSweeper()}
}

// decider decides the records of one partition. It is not safe for
// concurrent use; one partition worker owns it.
type decider struct {
	deciderDeps
	partition int32
	topic     string
	vbuf      []byte
	dbuf      []byte
	// cache holds committed histories of recent contacts; filter knows
	// every attempt id with a stored verdict (no false negatives).
	cache  *historyCache
	filter *idFilter
	// out is reused batch after batch: its messages and arena are only
	// referenced until the batch is published.
	out output
	// forwardFrom is the first offset whose records are forwarded (those
	// before it were, when the batch is read again to re-publish its
	// verdicts).
	forwardFrom int64
	// warned is when each producer was last warned about (forwarding).
	warned map[int64]int64
	// cutDeadLetters cuts large dead letters: the broker refused this
	// batch's whole ones (see deadletter.go).
	cutDeadLetters bool
	// sweep schedules the expiry sweep of the partition's state; it
	// advances only when a batch commits.
	sweep sweeper
}

// decideBatch decides recs (ascending offsets) starting from pos. Records with
// offset < publishFrom change state but publish nothing (their verdicts were
// published before: a rebuild). It returns the batch's work and output; an
// error is a storage failure.
func (d *decider) decideBatch(recs []record, pos state.Position, publishFrom int64, nowMs int64) (*work, *output, error) {
	if d.filter == nil || d.filter.full() {
		if err := d.loadFilter(); err != nil {
			return nil, nil, err
		}
	}
	w := newWork()
	w.hwm = pos.HWM
	out := &d.out
	out.reset(len(recs))
	parts := d.partitions(d.topic)
	for i := range recs {
		rec := &recs[i]
		if target, ok := keyPartition(rec.Key, parts); ok && target != d.partition {
			// Not this partition's: decided on its key's, where this
			// copy goes in the batch's transaction. It does not move
			// this partition's decision time.
			w.next = rec.Offset + 1
			if rec.Offset >= max(publishFrom, d.forwardFrom) {
				d.forward(out, rec, target, nowMs)
			}
			continue
		}
		t := quota.DecisionTime(rec.TimeMs, nowMs, w.hwm)
		w.hwm = t
		w.next = rec.Offset + 1
		publish := rec.Offset >= publishFrom
		out.newestMs = max(out.newestMs, rec.TimeMs)
		if err := d.decideOne(w, out, rec, t, publish); err != nil {
			return nil, nil, err
		}
	}
	return w, out, nil
}

func (d *decider) decideOne(w *work, out *output, rec *record, t int64, publish bool) error {
	log := d.log
	in, err := events.DecodeInbound(rec.Value)
	if err != nil && in.ID == "" {
		// Unreadable: dead-letter only.
		log.Warn().Str("topic", d.topic).Int32("partition", d.partition).Int64("offset", rec.Offset).
			Err(err).Msg("unreadable attempts record; dead-lettered")
		if publish {
			d.deadLetter(out, rec, err.Error())
		}
		return nil
	}
	if err == nil && !keyMatches(rec.Key, in.BotID, in.ContactID) {
		err = &events.Error{Field: "key", Msg: fmt.Sprintf("must be %q (bot_id/contact_id), got %q", in.BotID+"/"+in.ContactID, truncate(rec.Key))}
		if in.Failed {
			log.Warn().Str("topic", d.topic).Int32("partition", d.partition).Int64("offset", rec.Offset).
				Err(err).Msg("send-failed event with a wrong key; dead-lettered")
			if publish {
				d.deadLetter(out, rec, err.Error())
			}
			return nil
		}
	}
	if in.Failed {
		h, err := d.history(w, in.BotID, in.ContactID, t)
		if err != nil {
			return err
		}
		var ok bool
		h.own()
		h.sends, ok = quota.Release(h.sends, in.AttemptID)
		if ok {
			h.dirty = true
			d.metrics.failedReleased.WithLabelValues("released").Inc()
		} else {
			d.metrics.failedReleased.WithLabelValues("unknown").Inc()
			log.Debug().Str("topic", d.topic).Int32("partition", d.partition).Int64("offset", rec.Offset).
				Str("attempt_id", in.AttemptID).Msg("send-failed for an attempt with no counted send; ignored")
		}
		return nil
	}

	// An attempt, valid or not: exactly one verdict per attempt id.
	stored, found, serr := d.storedVerdict(w, in.ID, t)
	if serr != nil {
		return serr
	}
	if found {
		var v events.Verdict
		if err := v.UnmarshalBinary(stored); err != nil {
			return fmt.Errorf("partition %d: stored verdict of attempt %q: %w", d.partition, in.ID, err)
		}
		d.metrics.duplicates.Inc()
		log.Debug().Str("topic", d.topic).Int32("partition", d.partition).Int64("offset", rec.Offset).
			Str("attempt_id", in.ID).Msg("duplicate attempt; stored verdict re-emitted")
		if publish {
			d.emit(out, rec, &v)
			if err != nil {
				// An invalid record read again (a replayed batch, or the
				// producer sending it twice) is dead-lettered again: its
				// first copy may never have been acknowledged.
				d.deadLetter(out, rec, err.Error())
			}
		}
		return nil
	}

	var v events.Verdict
	var retain int64
	if err != nil {
		v = events.Verdict{
			AttemptID: in.ID, BotID: in.BotID, ContactID: in.ContactID, AgentID: in.AgentID,
			Outcome: events.Rejected, Reason: events.InvalidRequest, Error: err.Error(), DecidedAt: t,
		}
		retain = d.cfg.retentionMs
		log.Warn().Str("topic", d.topic).Int32("partition", d.partition).Int64("offset", rec.Offset).
			Str("attempt_id", in.ID).Err(err).Msg("invalid attempt; rejected and dead-lettered")
		if publish {
			d.deadLetter(out, rec, err.Error())
		}
	} else {
		s := d.settings(in.BotID)
		h, err := d.history(w, in.BotID, in.ContactID, t)
		if err != nil {
			return err
		}
		horizon := s.HorizonMs()
		if quota.Expires(h.sends, horizon, t) {
			h.own()
			h.sends = quota.Expire(h.sends, horizon, t)
			h.dirty = true
		}
		dec := quota.Decide(h.sends, s, in.AgentID, in.Category, t)
		if dec.Outcome == quota.Allowed && dec.Reason != quota.Exempt {
			h.own()
			h.sends = quota.Record(h.sends, quota.Send{At: t, Agent: in.AgentID, Attempt: in.ID, Category: in.Category})
			h.dirty = true
		}
		// A history is written when its sends changed, or when the
		// bot's horizon changed its expiry; a blocked decision on an
		// unchanged history writes nothing of it.
		h.window = horizon
		if !h.dirty && quota.ExpiresAt(h.sends, horizon) != h.expireAt {
			h.dirty = true
		}
		if publish {
			out.countRules(&dec)
		}
		v = events.FromDecision(in, dec, s, t)
		retain = max(s.WindowMs, d.cfg.retentionMs)
	}
	d.vbuf = v.AppendBinary(d.vbuf[:0])
	w.verdicts[in.ID] = append([]byte(nil), d.vbuf...)
	d.filter.add(in.ID)
	w.expiry[in.ID] = t + retain
	if publish {
		d.emit(out, rec, &v)
	}
	return nil
}

// history returns the batch's working copy of a contact's history, loading it
// from the store on first use.
func (d *decider) history(w *work, bot, contact string, t int64) (*history, error) {
	k := contactKey{bot, contact}
	if h, ok := w.hist[k]; ok {
		return h, nil
	}
	sends, expireAt, ok := d.cache.get(k)
	shared := ok // the cache's own array, until h.own copies it
	if !ok {
		var err error
		sends, expireAt, err = d.store.HistoryExpiry(d.partition, bot, contact, nil)
		if err != nil {
			return nil, fmt.Errorf("partition %d: load history of %s/%s: %w", d.partition, bot, contact, err)
		}
	}
	st := d.settings(bot)
	h := &history{existed: len(sends) > 0, window: st.HorizonMs(), expireAt: expireAt, shared: shared}
	// A stored history whose expiry has passed may have been swept or not,
	// depending on the sweep's progress: it counts as gone either way, so
	// that a decision never depends on when the sweep ran (or on a restart).
	if expireAt == 0 || expireAt > t {
		h.sends = sends
	}
	w.hist[k] = h
	return h, nil
}

// storedVerdict returns the verdict of attempt id still remembered at
// decision time t: stored (in this batch or before) with an expiry after t.
// An expired one counts as forgotten whether or not the sweep deleted it
// yet, so that a redelivery's fate depends only on the decision times (the
// contract's "Exactly one verdict per attempt id").
func (d *decider) storedVerdict(w *work, id string, t int64) ([]byte, bool, error) {
	if v, ok := w.verdicts[id]; ok {
		return v, w.expiry[id] > t, nil
	}
	if !d.filter.mayContain(id) {
		return nil, false, nil
	}
	v, expireAt, ok, err := d.store.Verdict(d.partition, id, d.dbuf[:0])
	if err != nil {
		return nil, false, fmt.Errorf("partition %d: load verdict of attempt %q: %w", d.partition, id, err)
	}
	if ok {
		d.dbuf = v
	}
	return v, ok && expireAt > t, nil
}

// loadFilter (re)builds the filter of attempt ids from the store.
func (d *decider) loadFilter() error {
	var hs []uint64
	if err := d.store.EachVerdictID(d.partition, func(id []byte) error {
		hs = append(hs, maphash.Bytes(filterSeed, id))
		return nil
	}); err != nil {
		return fmt.Errorf("partition %d: load attempt ids: %w", d.partition, err)
	}
	f := newIDFilter(2 * len(hs))
	for _, h := range hs {
		f.addHash(h)
	}
	d.filter = f
	return nil
}

// committed moves the batch's histories, now committed, into the cache.
func (d *decider) committed(w *work) {
	for k, h := range w.hist {
		d.cache.put(k, h.sends, h.expireAt)
	}
}

// Produce batches stay under maxBatchBytes (Kafka refuses a batch over
// message.max.bytes, about 1 MB by default, whole); a record larger than
// that goes in a batch of its own. Verdict keys are cut at maxVerdictKey
// (only a rejected attempt can have a longer one).
const (
	maxBatchBytes = 1_000_000
	maxVerdictKey = 16 << 10
)

// keyMatches reports whether key is "{bot}/{contact}".
func keyMatches(key []byte, bot, contact string) bool {
	return len(key) == len(bot)+1+len(contact) &&
		string(key[:len(bot)]) == bot && key[len(bot)] == '/' && string(key[len(bot)+1:]) == contact
}

func truncate(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}
