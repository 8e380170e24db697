package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sendgate/sendgate/contract"
	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/pipeline"
	"github.com/sendgate/sendgate/quota"
	"github.com/sendgate/sendgate/state"
)

const (
	attemptsTopic  = contract.AttemptsTopic
	settingsTopic  = contract.SettingsTopic
	verdictsTopic  = contract.VerdictsTopic
	dlqTopic       = contract.DLQTopic
	changelogTopic = contract.GroupID + contract.ChangelogSuffix
)

// env is an in-process Kafka (kfake, spoken to over TCP), a Pebble store on
// disk and a Runner, plus a franz-go client playing the send pipeline, the
// settings service and the verdict consumers.
type env struct {
	t       *testing.T
	cluster *kfake.Cluster
	addr    string
	dir     string
	cl      *kgo.Client

	runner *pipeline.Runner
	store  *state.Store
	cancel context.CancelFunc
	done   chan error

	mu       sync.Mutex
	verdicts map[string][][]byte // attempt id -> every verdict value seen, in order
	dlq      []*kgo.Record
}

func newEnv(t *testing.T, partitions int32) *env {
	t.Helper()
	return newEnvWith(t, partitions, nil, nil)
}

// runningEnv is newEnv with a runner started, stopped when the test ends,
// after bot1's settings (none: the limit disabled) are published.
func runningEnv(t *testing.T, partitions int32, bot1 ...quota.Settings) *env {
	t.Helper()
	e := newEnv(t, partitions)
	for _, s := range bot1 {
		e.settings("bot1", s)
	}
	e.start()
	t.Cleanup(e.stop)
	return e
}

// newEnvWith is newEnv with more broker options (SASL, TLS) and the
// matching client options.
func newEnvWith(t *testing.T, partitions int32, brokerOpts []kfake.Opt, clientOpts []kgo.Opt) *env {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1),
		kfake.SeedTopics(partitions, attemptsTopic, verdictsTopic, changelogTopic),
		kfake.SeedTopics(1, settingsTopic, dlqTopic)}, brokerOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	e := &env{t: t, cluster: c, addr: c.ListenAddrs()[0], dir: t.TempDir(), verdicts: map[string][][]byte{}}
	e.cl, err = kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(e.addr), kgo.ConsumeTopics(verdictsTopic, dlqTopic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.ProducerLinger(0),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil))}, clientOpts...)...) // murmur2 on the key, as Kafka's default
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.cl.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go e.collect(ctx)
	return e
}

// collect reads the verdict and dead-letter topics.
func (e *env) collect(ctx context.Context) {
	for ctx.Err() == nil {
		fs := e.cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			e.mu.Lock()
			defer e.mu.Unlock()
			if r.Topic == dlqTopic {
				e.dlq = append(e.dlq, r)
				return
			}
			v, err := events.DecodeVerdict(r.Value)
			if err != nil {
				e.t.Errorf("verdict at offset %d does not decode: %v: %s", r.Offset, err, r.Value)
				return
			}
			e.verdicts[v.AttemptID] = append(e.verdicts[v.AttemptID], r.Value)
			if string(r.Key) != v.BotID+"/"+v.ContactID && v.Outcome != events.Rejected {
				e.t.Errorf("verdict of %s has key %q", v.AttemptID, r.Key)
			}
		})
	}
}

type runOpt func(*pipeline.Config)

// start opens the store and runs a Runner until it is ready.
func (e *env) start(opts ...runOpt) {
	e.t.Helper()
	e.launch(opts...)
	e.waitFor("runner ready", e.runner.Ready)
}

// launch opens the store and runs a Runner.
func (e *env) launch(opts ...runOpt) {
	e.t.Helper()
	st, err := state.Open(e.dir, state.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := pipeline.Config{Brokers: []string{e.addr}, SessionTimeout: 6 * time.Second, FetchMaxWait: 50 * time.Millisecond,
		Logger: zerolog.New(zerolog.NewTestWriter(e.t)).Level(testLogLevel())}
	for _, o := range opts {
		o(&cfg)
	}
	r, err := pipeline.New(cfg, st, prometheus.NewRegistry())
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.runner, e.store, e.cancel, e.done = r, st, cancel, make(chan error, 1)
	go func() { e.done <- r.Run(ctx) }()
}

// stop shuts the runner down gracefully and closes the store.
func (e *env) stop() {
	e.t.Helper()
	if e.runner == nil {
		return
	}
	e.cancel()
	select {
	case err := <-e.done:
		if err != nil {
			e.t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		e.t.Fatal("runner did not stop")
	}
	if err := e.store.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.runner = nil
}

func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) produce(topic string, key, value []byte, ts time.Time) {
	e.t.Helper()
	e.produceRecords(&kgo.Record{Topic: topic, Key: key, Value: value, Timestamp: ts})
}

// produceRecords produces rs, in as few requests as the client makes of them.
func (e *env) produceRecords(rs ...*kgo.Record) {
	e.t.Helper()
	if err := e.cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		e.t.Fatalf("produce to %s: %v", rs[0].Topic, err)
	}
}

// attemptRecord is the record of an attempt as the send pipeline produces
// it: keyed bot/contact, stamped ts.
func attemptRecord(id, bot, contact, agent string, ts time.Time) *kgo.Record {
	return &kgo.Record{Topic: attemptsTopic, Key: []byte(bot + "/" + contact), Timestamp: ts,
		Value: events.AppendAttempt(nil, id, bot, contact, agent, ts.UnixMilli())}
}

// settings publishes a settings-changed event.
func (e *env) settings(bot string, s quota.Settings) {
	e.t.Helper()
	ev := events.SettingsChanged{ID: fmt.Sprintf("set-%s-%d", bot, s.Version), BotID: bot, ChangedBy: "admin@acme", Settings: s}
	e.produce(settingsTopic, []byte(bot), events.AppendSettingsEvent(nil, &ev, time.Now().UnixMilli()), time.Now())
}

func (e *env) tombstone(bot string) {
	e.t.Helper()
	e.produce(settingsTopic, []byte(bot), nil, time.Now())
}

func (e *env) attempt(id, bot, contact, agent string, ts time.Time) {
	e.t.Helper()
	e.produceRecords(attemptRecord(id, bot, contact, agent, ts))
}

func (e *env) failed(id, bot, contact, attempt string, ts time.Time) {
	e.t.Helper()
	e.produce(attemptsTopic, []byte(bot+"/"+contact), events.AppendFailed(nil, id, bot, contact, attempt, ts.UnixMilli()), ts)
}

// verdict waits for the n-th (1-based) verdict of an attempt id.
func (e *env) verdictN(id string, n int) (events.Verdict, []byte) {
	e.t.Helper()
	var raw []byte
	e.waitFor("verdict of "+id, func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		if vs := e.verdicts[id]; len(vs) >= n {
			raw = vs[n-1]
			return true
		}
		return false
	})
	v, err := events.DecodeVerdict(raw)
	if err != nil {
		e.t.Fatal(err)
	}
	return v, raw
}

func (e *env) verdict(id string) events.Verdict {
	e.t.Helper()
	v, _ := e.verdictN(id, 1)
	return v
}

func (e *env) verdictCount(id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.verdicts[id])
}

// dlqN waits for at least n dead letters and returns them.
func (e *env) dlqN(n int) []*kgo.Record {
	e.t.Helper()
	var out []*kgo.Record
	e.waitFor(fmt.Sprintf("%d dead letters", n), func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		out = append(out[:0], e.dlq...)
		return len(out) >= n
	})
	return out
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func limit(version int64, max int, window time.Duration, scope quota.Scope) quota.Settings {
	return quota.Settings{Version: version, Enabled: true, Max: max, WindowMs: window.Milliseconds(), Scope: scope}
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// refuseProduce makes the broker refuse (close the connection on) produce
// requests to topic while the returned flag is set, counting them.
func (e *env) refuseProduce(topic string) (down *atomic.Bool, refused *atomic.Int64) {
	return e.refuseProduceAtMost(topic, math.MaxInt64)
}

// refuseProduceAtMost is refuseProduce for the first n such requests only:
// once n were refused, the broker accepts the others.
func (e *env) refuseProduceAtMost(topic string, n int64) (down *atomic.Bool, refused *atomic.Int64) {
	down, refused = new(atomic.Bool), new(atomic.Int64)
	e.cluster.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		e.cluster.KeepControl()
		if !down.Load() {
			return nil, nil, false
		}
		for _, tp := range req.(*kmsg.ProduceRequest).Topics {
			if tp.Topic == topic && refused.Load() < n {
				refused.Add(1)
				return nil, errors.New(topic + " unavailable"), true
			}
		}
		return nil, nil, false
	})
	return down, refused
}

// countListOffsets counts the ListOffsets requests the broker gets that
// ask about topic.
func (e *env) countListOffsets(topic string) *atomic.Int64 {
	n := new(atomic.Int64)
	e.cluster.ControlKey(int16(kmsg.ListOffsets), func(req kmsg.Request) (kmsg.Response, error, bool) {
		e.cluster.KeepControl()
		for _, lt := range req.(*kmsg.ListOffsetsRequest).Topics {
			if lt.Topic == topic {
				n.Add(1)
			}
		}
		return nil, nil, false
	})
	return n
}

// testLogLevel is the runners' log level: warn, or SENDGATE_TEST_LOG (e.g.
// debug) to see more of a failing test.
func testLogLevel() zerolog.Level {
	if l, err := zerolog.ParseLevel(os.Getenv("SENDGATE_TEST_LOG")); err == nil && l != zerolog.NoLevel {
		return l
	}
	return zerolog.WarnLevel
}

// phases plays rounds of attempts over contacts of bot1, by ana, one second
// apart from t0: send publishes one attempt per contact, named
// phase-contact; check waits for their verdicts and wants each to be want
// with used counted sends.
type phases struct {
	e        *env
	contacts []string
	t0       time.Time
	step     int
}

func (e *env) phases(contacts []string, t0 time.Time) *phases {
	return &phases{e: e, contacts: contacts, t0: t0}
}

func (ph *phases) send(phase string) {
	ph.e.t.Helper()
	for _, c := range ph.contacts {
		ph.e.attempt(phase+"-"+c, "bot1", c, "ana", ph.t0.Add(time.Duration(ph.step)*time.Second))
		ph.step++
	}
}

func (ph *phases) check(phase string, want events.Outcome, used int) {
	ph.e.t.Helper()
	for _, c := range ph.contacts {
		if v := ph.e.verdict(phase + "-" + c); v.Outcome != want || v.Used != used {
			ph.e.t.Fatalf("%s-%s: %+v, want %v used=%d", phase, c, v, want, used)
		}
	}
}

// contactNames returns c0 … c(n-1).
func contactNames(n int) []string {
	cs := make([]string, n)
	for i := range cs {
		cs[i] = fmt.Sprintf("c%d", i)
	}
	return cs
}

// sameVerdicts checks that no attempt id got verdicts with different data.
func (e *env) sameVerdicts() {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, vs := range e.verdicts {
		for _, v := range vs[1:] {
			if !bytes.Equal(v, vs[0]) {
				e.t.Errorf("attempt %s has verdicts that differ:\n%s\n%s", id, vs[0], v)
			}
		}
	}
}
