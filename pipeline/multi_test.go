package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/pipeline"
	"github.com/sendgate/sendgate/quota"
	"github.com/sendgate/sendgate/state"
)

// instance is a second runner in the same consumer group, with its own
// data dir.
type instance struct {
	r      *pipeline.Runner
	st     *state.Store
	reg    *prometheus.Registry // the runner's metrics
	cancel context.CancelFunc
	done   chan error
}

func (e *env) instance(dir string) *instance {
	e.t.Helper()
	return e.instanceWith(dir, nil)
}

// readyInstance is instance, once its runner is ready (what names that in
// a time-out).
func (e *env) readyInstance(dir, what string) *instance {
	e.t.Helper()
	i := e.instance(dir)
	e.waitFor(what, i.r.Ready)
	return i
}

func (e *env) instanceWith(dir string, mod func(*pipeline.Config)) *instance {
	e.t.Helper()
	st, err := state.Open(dir, state.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := pipeline.Config{Brokers: []string{e.addr}, SessionTimeout: 6 * time.Second,
		FetchMaxWait: 50 * time.Millisecond, Logger: zerolog.New(zerolog.NewTestWriter(e.t)).Level(testLogLevel())}
	if mod != nil {
		mod(&cfg)
	}
	reg := prometheus.NewRegistry()
	r, err := pipeline.New(cfg, st, reg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{r: r, st: st, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- r.Run(ctx) }()
	return in
}

func (in *instance) stop(t *testing.T) {
	in.cancel()
	if err := <-in.done; err != nil {
		t.Fatal(err)
	}
	in.st.Close()
}

// Partitions move between instances with their own data dirs: the new
// owner rebuilds the state from the topic, and an instance that gets a
// partition back drops its stale state. Every contact keeps its exact count.
func TestPartitionsMoveBetweenInstances(t *testing.T) {
	e := newEnv(t, 4)
	e.settings("bot1", limit(1, 2, day, quota.ScopeContact))
	dirA, dirB := t.TempDir(), t.TempDir()
	ph := e.phases(contactNames(6), base())
	send, check := ph.send, ph.check
	a := e.readyInstance(dirA, "A ready")
	send("p1")
	check("p1", events.Allowed, 1)

	b := e.readyInstance(dirB, "B ready") // the group rebalances: B gets some partitions, with no state
	send("p2")
	check("p2", events.Allowed, 2)

	a.stop(t) // B owns everything; A's state goes stale
	send("p3")
	check("p3", events.Blocked, 2)

	a = e.readyInstance(dirA, "A ready again") // A gets partitions back, behind the group
	send("p4")
	check("p4", events.Blocked, 2)
	a.stop(t)
	b.stop(t)

	e.sameVerdicts()
}

// The instance that takes a partition over restores its state from the
// changelog instead of deciding its history again: a redelivered attempt
// gets the verdict published before, even after the settings changed, and
// the count carries over exactly.
func TestTakeoverRestoresDecisionsFromTheChangelog(t *testing.T) {
	e := newEnv(t, 1)
	a := e.readyInstance(t.TempDir(), "A ready")
	t0 := base()
	for i := 1; i <= 5; i++ { // limit disabled: all allowed and counted
		e.attempt(fmt.Sprintf("att-%d", i), "bot1", "c1", "ana", t0.Add(time.Duration(i)*time.Second))
	}
	_, first4 := e.verdictN("att-4", 1)
	e.verdict("att-5")
	e.settings("bot1", limit(1, 3, day, quota.ScopeContact))
	e.waitFor("A has v1", func() bool { return a.r.Settings("bot1").Version == 1 })
	a.stop(t)

	// No local state: B restores from the changelog.
	b := e.readyInstance(t.TempDir(), "B ready")
	e.attempt("att-4", "bot1", "c1", "ana", t0.Add(4*time.Second)) // redelivered
	e.attempt("att-6", "bot1", "c1", "ana", t0.Add(10*time.Second))
	if _, again := e.verdictN("att-4", 2); !bytes.Equal(again, first4) {
		t.Fatalf("att-4 re-emitted differently after the takeover:\n%s\n%s", first4, again)
	}
	// Five sends counted at t0+1s..5s, limit 3: blocked until the third
	// newest (t0+3s) leaves the window.
	if v := e.verdict("att-6"); v.Outcome != events.Blocked || v.Used != 5 || v.RetryAt != ms(t0.Add(3*time.Second).Add(day)) {
		t.Fatalf("att-6: %+v", v)
	}
	b.stop(t)
}

// A batch whose changelog records are refused is one failed transaction:
// none of its verdicts becomes visible, it is retried until the changelog
// takes it, and an instance that takes over afterwards restores every
// decision.
func TestChangelogRefusedAbortsTheBatch(t *testing.T) {
	e := newEnv(t, 1)
	e.settings("bot1", limit(1, 2, day, quota.ScopeContact))
	down, refused := e.refuseProduce(changelogTopic)
	a := e.instanceWith(t.TempDir(), func(c *pipeline.Config) { c.ShutdownTimeout = 300 * time.Millisecond })
	e.waitFor("A ready", a.r.Ready)
	down.Store(true)
	t0 := base()
	e.attempt("a1", "bot1", "c1", "ana", t0)
	e.attempt("a2", "bot1", "c1", "ana", t0.Add(time.Second))
	e.waitFor("the transaction tried three times", func() bool { return refused.Load() >= 3 })
	if n := e.verdictCount("a1"); n != 0 {
		t.Fatalf("%d verdicts of a1 visible while its changelog records were refused", n)
	}
	down.Store(false)
	e.verdict("a2")
	a.stop(t)
	if n := e.verdictCount("a1"); n != 1 {
		t.Fatalf("a1 has %d committed verdicts, want 1", n)
	}

	b := e.readyInstance(t.TempDir(), "B ready")
	e.attempt("a3", "bot1", "c1", "ana", t0.Add(2*time.Second))
	if v := e.verdict("a3"); v.Outcome != events.Blocked || v.Used != 2 {
		t.Fatalf("a3 after the takeover: %+v (decisions missing from the changelog?)", v)
	}
	b.stop(t)
}
