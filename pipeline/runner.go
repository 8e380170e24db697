package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/sendgate/sendgate/state"
)

// Runner is the sendgate processor: see the package documentation.
type Runner struct {
	cfg      Config
	store    *state.Store
	log      zerolog.Logger
	metrics  *metrics
	kafka    *kafkaClient
	conns    *connections
	writer   *kafka.Writer
	settings *settingsTable
	follower *follower
	owners   owners

	mu            sync.Mutex
	parts         map[int32]*partition // owned attempts partitions
	attemptsParts []int                // every partition of the attempts topic
	outParts      map[string][]int     // partitions of the topics written: attempts (forwarding), verdicts, DLQ
	settingsReady atomic.Bool
	joined        atomic.Bool
	stopping      atomic.Bool
	brokerErrAt   atomic.Int64 // unix ns of the last broker error
	brokerOKAt    atomic.Int64 // unix ns of the last broker success
	histories     atomic.Int64 // state keys, for the sendgate_state_keys metric
	verdictKeys   atomic.Int64
}

// New returns a Runner over store, registering its metrics with reg. The
// caller keeps ownership of store and closes it after Run returns.
func New(cfg Config, store *state.Store, reg prometheus.Registerer) (*Runner, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	conns, err := newConnections(&cfg)
	if err != nil {
		return nil, err
	}
	r := &Runner{
		cfg:      cfg,
		store:    store,
		log:      cfg.Logger,
		metrics:  newMetrics(reg),
		settings: newSettingsTable(),
		parts:    map[int32]*partition{},
		outParts: map[string][]int{},
		owners:   owners{refresh: 2 * time.Second},
	}
	r.conns = conns
	r.kafka = newKafkaClient(&r.cfg, conns.transport)
	// The writer only writes the dead letters of the settings topic (outside
	// any attempts transaction); everything else goes through the
	// partitions' transactions.
	r.writer = &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		BatchSize:    256,
		// Kafka rejects a produce batch over message.max.bytes (~1 MB by
		// default) as a whole: keep every batch under it.
		BatchBytes:   maxBatchBytes,
		BatchTimeout: 100 * time.Microsecond, // a batch is handed over whole: no reason to wait
		MaxAttempts:  3,
		WriteTimeout: 10 * time.Second,
		Transport:    conns.transport,
	}
	r.follower = newFollower(r)
	return r, nil
}

// Run processes until ctx is done, then finishes and commits the batches in
// hand and returns nil. It returns an error for a failure it cannot retry
// (storage).
func (r *Runner) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer r.writer.Close()

	if err := r.setup(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	// The settings follower outlives consume: a batch finishing after a
	// shutdown signal may still need to catch up on settings.
	fctx, fcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer fcancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := r.follower.run(fctx); err != nil {
			cancel(err)
		}
	}()
	// Settings are caught up before the first decision.
	for {
		err := r.follower.catchUp(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			fcancel()
			wg.Wait()
			return stopCause(ctx)
		}
		r.noteBrokerError(err)
		sleep(ctx, time.Second)
	}
	r.settingsReady.Store(true)
	r.updateReady()
	r.log.Info().Msg("settings caught up")
	context.AfterFunc(ctx, func() {
		r.stopping.Store(true)
		r.updateReady()
	})
	r.consume(ctx, cancel)
	fcancel()
	wg.Wait()
	return stopCause(ctx)
}

// stopCause is the error that stopped the processor: nil for a shutdown.
func stopCause(ctx context.Context) error {
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// setup creates the topics (when configured) and loads the settings,
// retrying while the broker is unreachable.
func (r *Runner) setup(ctx context.Context) error {
	bo := newBackoff()
	for {
		err := r.trySetup(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var se *setupError
		if errors.As(err, &se) {
			return se.err
		}
		if permanent(err) {
			return fmt.Errorf("pipeline: connecting to Kafka %v: %w (check the TLS and SASL flags)", r.cfg.Brokers, err)
		}
		r.noteBrokerError(err)
		r.log.Warn().Err(err).Dur("retry_in", bo.peek()).Msg("cannot reach Kafka at start; retrying")
		sleep(ctx, bo.next())
	}
}

type setupError struct{ err error }

func (e *setupError) Error() string { return e.err.Error() }

func (r *Runner) trySetup(ctx context.Context) error {
	if err := r.probe(ctx); err != nil {
		return err
	}
	if err := r.kafka.checkTransactions(ctx); err != nil {
		return err
	}
	if r.cfg.CreateTopics {
		if err := r.kafka.ensureTopics(ctx); err != nil {
			return err
		}
	}
	warnings, err := r.kafka.checkTopics(ctx)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		r.log.Warn().Msg(w)
	}
	if err := r.loadPartitions(ctx); err != nil {
		return err
	}
	if err := r.follower.init(ctx); err != nil {
		return err
	}
	r.noteBrokerOK()
	return nil
}

// probe opens one connection to a bootstrap broker with the TLS and SASL
// settings, so that rejected credentials or certificates are told apart from
// an unreachable broker (some brokers just close the connection on a failed
// SASL authentication; the dialer reports that as a SASL failure).
func (r *Runner) probe(ctx context.Context) error {
	var errs []error
	for _, b := range r.cfg.Brokers {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		conn, err := r.conns.dialer.DialContext(dctx, "tcp", b)
		cancel()
		if err == nil {
			return conn.Close()
		}
		errs = append(errs, fmt.Errorf("broker %s: %w", b, err))
	}
	return errors.Join(errs...)
}

// publish writes msgs and waits for their acknowledgement, retrying failed
// messages with backoff until ctx is done.
func (r *Runner) publish(ctx context.Context, msgs []kafka.Message) error {
	bo := newBackoff()
	for len(msgs) > 0 {
		err := r.writer.WriteMessages(ctx, msgs...)
		if err == nil {
			return nil
		}
		var werrs kafka.WriteErrors
		if errors.As(err, &werrs) && len(werrs) == len(msgs) {
			failed := msgs[:0:0]
			for i, e := range werrs {
				if e != nil {
					failed = append(failed, msgs[i])
				}
			}
			msgs = failed
		}
		r.metrics.publishRetries.Inc()
		r.noteBrokerError(err)
		r.log.Warn().Err(err).Int("messages", len(msgs)).Dur("retry_in", bo.peek()).Msg("publish failed; retrying")
		if !sleep(ctx, bo.next()) {
			return err
		}
	}
	return nil
}

func (r *Runner) noteBrokerError(err error) {
	r.brokerErrAt.Store(time.Now().UnixNano())
	r.updateReady()
}

func (r *Runner) noteBrokerOK() {
	r.brokerOKAt.Store(time.Now().UnixNano())
	r.updateReady()
}

func (r *Runner) addStateKeys(d stateDelta) {
	h := r.histories.Add(int64(d.histories))
	v := r.verdictKeys.Add(int64(d.verdicts))
	r.metrics.stateKeys.WithLabelValues("history").Set(float64(max(h, 0)))
	r.metrics.stateKeys.WithLabelValues("verdict").Set(float64(max(v, 0)))
}

// loadPartitions reads the partitions of the attempts topic and of the
// output topics. Partitions added to the attempts topic need their
// changelog partitions first: a record routed elsewhere would be lost to a
// restore.
func (r *Runner) loadPartitions(ctx context.Context) error {
	all, err := r.kafka.partitions(ctx, r.cfg.AttemptsTopic)
	if err != nil {
		return err
	}
	cl, err := r.kafka.partitions(ctx, r.cfg.ChangelogTopic)
	if err != nil {
		return err
	}
	if len(cl) < len(all) {
		return &setupError{fmt.Errorf("pipeline: changelog-topic: %q has %d partitions, the attempts topic %d: add partitions to the changelog topic (same count), then restart", r.cfg.ChangelogTopic, len(cl), len(all))}
	}
	out := map[string][]int{r.cfg.AttemptsTopic: all}
	for _, t := range []string{r.cfg.VerdictsTopic, r.cfg.DLQTopic} {
		if out[t], err = r.kafka.partitions(ctx, t); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.attemptsParts, r.outParts = all, out
	r.mu.Unlock()
	return nil
}

func (r *Runner) updateReady() {
	if r.Ready() {
		r.metrics.ready.Set(1)
	} else {
		r.metrics.ready.Set(0)
	}
}
