package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sendgate/sendgate/events"
)

// Run publishes the settings of the workload's bots, then its attempts,
// duplicates and send failures at cfg.Rate, consumes the verdicts, waits
// until every attempt record has its verdict (or cfg.Timeout passes without
// a new one), reads the attempts topic back and checks every verdict against
// a model of the rule.
//
// The error is about the run itself (flags, Kafka, ctx); a run that
// completed returns its Report, whose OK says whether every verdict arrived
// and matched the model.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	startWall := time.Now()
	p := newPlan(&cfg, newRunID(), startWall.UnixMilli())

	cl, err := kgo.NewClient(
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), // murmur2 by key, as the contract requires
		kgo.ProducerLinger(cfg.Linger),
		kgo.MaxBufferedRecords(cfg.MaxBuffered),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		// No RecordDeliveryTimeout: kgo measures it from the record's
		// timestamp, which is simulated and in the past.
	)
	if err != nil {
		return nil, fmt.Errorf("loadgen: client: %w", err)
	}
	defer cl.Close()

	attemptParts, err := partitions(ctx, cl, cfg.AttemptsTopic)
	if err != nil {
		return nil, err
	}
	verdictParts, err := partitions(ctx, cl, cfg.VerdictsTopic)
	if err != nil {
		return nil, err
	}
	if _, err := partitions(ctx, cl, cfg.SettingsTopic); err != nil {
		return nil, err
	}
	verdictsFrom, err := endOffsets(ctx, cl, cfg.VerdictsTopic, verdictParts)
	if err != nil {
		return nil, err
	}
	attemptsFrom, err := endOffsets(ctx, cl, cfg.AttemptsTopic, attemptParts)
	if err != nil {
		return nil, err
	}

	// Settings first: acknowledged before any attempt, so they apply to all.
	var settings []*kgo.Record
	for i, b := range p.bots {
		ev := events.SettingsChanged{ID: fmt.Sprintf("%s-s%d", p.run, i), BotID: b.id, ChangedBy: "loadgen", Settings: b.settings}
		settings = append(settings, &kgo.Record{Topic: cfg.SettingsTopic, Key: []byte(b.id),
			Value: events.AppendSettingsEvent(nil, &ev, startWall.UnixMilli())})
	}
	if err := cl.ProduceSync(ctx, settings...).FirstErr(); err != nil {
		return nil, fmt.Errorf("loadgen: publish settings: %w", err)
	}
	logf("run %s: settings of %d bots published; %d records to publish over %d partitions",
		p.run, len(p.bots), len(p.recs), len(attemptParts))

	// The verdict consumer, from the verdicts' end before the first attempt.
	offsets := map[int32]kgo.Offset{}
	for part, off := range verdictsFrom {
		offsets[part] = kgo.NewOffset().At(off)
	}
	cons, err := readCommitted(cfg.Brokers, cfg.VerdictsTopic, offsets)
	if err != nil {
		return nil, fmt.Errorf("loadgen: consumer: %w", err)
	}
	defer cons.Close()

	origin := time.Now()
	since := func() int64 { return int64(time.Since(origin)) }
	col := &collector{p: p, since: since, seen: make([]uint16, len(p.attempts)), logf: logf}
	cctx, stopConsumer := context.WithCancel(ctx)
	defer stopConsumer()
	var consumerDone sync.WaitGroup
	consumerDone.Go(func() { col.run(cctx, cons) })

	var produced, producedAttempts, acked, failed atomic.Int64
	expected := int64(0) // attempt records: each gets one verdict
	for i := range p.recs {
		if p.recs[i].kind != kindFailed {
			expected++
		}
	}
	prog := &progress{w: cfg.Progress, since: since, total: int64(len(p.recs)), expected: expected,
		produced: &produced, attempts: &producedAttempts, verdicts: &col.matched}
	pctx, stopProgress := context.WithCancel(ctx)
	defer stopProgress()
	var progressDone sync.WaitGroup
	if cfg.Progress != nil {
		progressDone.Go(func() { prog.run(pctx) })
	}

	// Produce: pipelined; Produce blocks only when MaxBuffered records wait.
	for j := range p.recs {
		if cfg.Rate > 0 {
			due := time.Duration(float64(j) / cfg.Rate * float64(time.Second))
			if d := due - time.Since(origin); d > 200*time.Microsecond {
				time.Sleep(d)
			}
		}
		if ctx.Err() != nil {
			break
		}
		r := &p.recs[j]
		c := p.attempts[r.attempt].contact
		rec := &kgo.Record{Topic: cfg.AttemptsTopic, Key: p.key(c), Value: p.value(j), Timestamp: time.UnixMilli(r.tsMs)}
		cl.Produce(ctx, rec, func(kr *kgo.Record, err error) {
			r.partition, r.offset, r.ackNs, r.err = kr.Partition, kr.Offset, since(), err
			if err != nil {
				failed.Add(1)
			}
			acked.Add(1)
		})
		if r.kind != kindFailed {
			producedAttempts.Add(1)
		}
		produced.Add(1)
	}
	if err := cl.Flush(ctx); err != nil {
		return nil, fmt.Errorf("loadgen: flush: %w", err)
	}
	for acked.Load() < produced.Load() { // Flush returns once promises ran; be sure
		time.Sleep(time.Millisecond)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	produceNs := since()
	if n := failed.Load(); n > 0 {
		expected = 0
		for i := range p.recs {
			if p.recs[i].kind != kindFailed && p.recs[i].err == nil {
				expected++
			}
		}
		logf("%d records could not be published (first: %v)", n, firstErr(p.recs))
	}

	// Wait for the verdicts: give up after Timeout without a new one.
	last, lastAt := col.matched.Load(), time.Now()
	timedOut := false
	for col.matched.Load() < expected {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		if n := col.matched.Load(); n != last {
			last, lastAt = n, time.Now()
		} else if time.Since(lastAt) > cfg.Timeout {
			timedOut = true
			break
		}
	}
	// Verdicts of the last records may still come in twice (a redelivery):
	// not waited for.
	stopConsumer()
	consumerDone.Wait()
	stopProgress()
	progressDone.Wait()
	if timedOut {
		logf("timed out: no verdict for %s while %d are missing", cfg.Timeout, expected-col.matched.Load())
	} else {
		logf("all %d verdicts in after %.2fs; checking", expected, float64(since())/1e9)
	}
	checkStart := time.Now()

	// Read the attempts topic back: the timestamps the processor saw, and
	// other producers' records, which move a partition's decision time too.
	var log map[int32][]logEntry
	tsSource := "produced"
	if !cfg.NoReadBack {
		ends, err := endOffsets(ctx, cl, cfg.AttemptsTopic, attemptParts)
		if err != nil {
			return nil, err
		}
		log, err = readBack(ctx, &cfg, attemptsFrom, ends, p)
		if err != nil {
			return nil, err
		}
		tsSource = "read back"
	}

	rep := newReport(&cfg, p, len(attemptParts))
	rep.TimestampSource = tsSource
	rep.TimedOut = timedOut
	rep.ProduceSeconds = float64(produceNs) / 1e9
	rep.ForeignVerdicts = col.foreign
	rep.check(p, log, col.extra)
	rep.finish()
	logf("read back and checked in %.2fs", time.Since(checkStart).Seconds())
	return rep, nil
}

func firstErr(recs []record) error {
	for i := range recs {
		if recs[i].err != nil {
			return recs[i].err
		}
	}
	return nil
}

// extraVerdict is a verdict beyond the records of its attempt: a re-emission
// (after a processor restart, say). It must equal the model's too.
type extraVerdict struct {
	attempt int32
	value   []byte
}

// collector consumes the verdicts topic and matches each verdict to the
// next record of its attempt without a verdict.
type collector struct {
	p     *plan
	since func() int64
	logf  func(string, ...any)

	matched atomic.Int64
	// Owned by run until it returns.
	seen    []uint16
	extra   []extraVerdict
	foreign int
	errors  int
}

func (c *collector) run(ctx context.Context, cl *kgo.Client) {
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		now := c.since()
		fs.EachError(func(topic string, part int32, err error) {
			if !errors.Is(err, context.Canceled) {
				c.errors++
				if c.errors <= 5 {
					c.logf("fetching %s partition %d: %v", topic, part, err)
				}
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			a, ok := c.p.attemptOf(r.Value)
			if !ok {
				c.foreign++
				return
			}
			k := int(c.seen[a])
			if k < 65535 {
				c.seen[a]++
			}
			j := c.p.recordOf(a, k)
			if j < 0 {
				c.extra = append(c.extra, extraVerdict{a, r.Value})
				return
			}
			rec := &c.p.recs[j]
			rec.recvNs, rec.verdict = now, r.Value
			c.matched.Add(1)
		})
	}
}
