package pipeline_test

import (
	"bytes"
	"context"
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
	cancel context.CancelFunc
	done   chan error
}

func (e *env) instance(dir string) *instance {
	e.t.Helper()
	return e.instanceWith(dir, nil)
}

func (e *env) instanceWith(dir string, mod func(*pipeline.Config)) *instance {
	e.t.Helper()
	st, err := state.Open(dir, state.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := pipeline.Config{Brokers: []string{e.addr}, SessionTimeout: 6 * time.Second,
		FetchMaxWait: 50 * time.Millisecond, Logger: zerolog.New(zerolog.NewTestWriter(e.t)).Level(zerolog.WarnLevel)}
	if mod != nil {
		mod(&cfg)
	}
	r, err := pipeline.New(cfg, st, prometheus.NewRegistry())
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{r: r, st: st, cancel: cancel, done: make(chan error, 1)}
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
	t0 := base()
	contacts := []string{"c1", "c2", "c3", "c4", "c5", "c6"}
	step := 0
	send := func(phase string) {
		for _, c := range contacts {
			e.attempt(phase+"-"+c, "bot1", c, "ana", t0.Add(time.Duration(step)*time.Second))
			step++
		}
	}
	check := func(phase string, want events.Outcome, used int) {
		t.Helper()
		for _, c := range contacts {
			if v := e.verdict(phase + "-" + c); v.Outcome != want || v.Used != used {
				t.Fatalf("%s-%s: %+v, want %v used=%d", phase, c, v, want, used)
			}
		}
	}
	a := e.instance(dirA)
	e.waitFor("A ready", a.r.Ready)
	send("p1")
	check("p1", events.Allowed, 1)

	b := e.instance(dirB) // the group rebalances: B gets some partitions, with no state
	e.waitFor("B ready", b.r.Ready)
	send("p2")
	check("p2", events.Allowed, 2)

	a.stop(t) // B owns everything; A's state goes stale
	send("p3")
	check("p3", events.Blocked, 2)

	a = e.instance(dirA) // A gets partitions back, behind the group
	e.waitFor("A ready again", a.r.Ready)
	send("p4")
	check("p4", events.Blocked, 2)
	a.stop(t)
	b.stop(t)

	e.mu.Lock()
	defer e.mu.Unlock()
	for id, vs := range e.verdicts {
		for _, v := range vs[1:] {
			if !bytes.Equal(v, vs[0]) {
				t.Errorf("attempt %s has verdicts that differ:\n%s\n%s", id, vs[0], v)
			}
		}
	}
}
