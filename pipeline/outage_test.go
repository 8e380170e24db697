package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
)

// While the broker refuses the verdict writes, the runner retries with
// backoff and reports not ready; once it accepts them again the batch is
// published and committed: nothing lost, nothing counted twice.
func TestBrokerOutageLosesNothing(t *testing.T) {
	e := runningEnv(t, 2, limit(1, 1, day, quota.ScopeContact))

	down, refused := e.refuseProduce(verdictsTopic)
	down.Store(true)
	t0 := base()
	e.attempt("a1", "bot1", "c1", "ana", t0)
	e.attempt("a2", "bot1", "c1", "ana", t0.Add(time.Second))
	e.waitFor("verdict writes refused", func() bool { return refused.Load() >= 2 })
	e.waitFor("not ready during the outage", func() bool { return !e.runner.Ready() })
	if n := e.verdictCount("a1"); n != 0 {
		t.Fatalf("a verdict got through the outage")
	}
	down.Store(false)
	if v := e.verdict("a1"); v.Outcome != events.Allowed {
		t.Fatalf("a1: %+v", v)
	}
	if v := e.verdict("a2"); v.Outcome != events.Blocked || v.Used != 1 {
		t.Fatalf("a2: %+v", v)
	}
	e.waitFor("ready again", e.runner.Ready)
	e.attempt("a3", "bot1", "c1", "ana", t0.Add(2*time.Second))
	if v := e.verdict("a3"); v.Outcome != events.Blocked || v.Used != 1 {
		t.Fatalf("a3: %+v", v)
	}
	if e.verdictCount("a1") != 1 || e.verdictCount("a2") != 1 {
		t.Fatalf("verdicts duplicated: a1 %d, a2 %d", e.verdictCount("a1"), e.verdictCount("a2"))
	}
}

// A topic recreated while the processor was down: the stored offset is past
// the new log's end. The processor reads the new log from its start and
// keeps the state it had.
func TestRecreatedTopicKeepsState(t *testing.T) {
	e := newEnv(t, 1)
	e.settings("bot1", limit(1, 2, day, quota.ScopeContact))
	e.start()
	t0 := base()
	for i, id := range []string{"a1", "a2", "a3"} {
		e.attempt(id, "bot1", "c1", "ana", t0.Add(time.Duration(i)*time.Second))
	}
	e.verdict("a3")
	e.stop()
	if err := e.cluster.DeleteTopic(attemptsTopic); err != nil {
		t.Fatal(err)
	}
	if err := e.cluster.CreateTopic(attemptsTopic, 1, nil); err != nil {
		t.Fatal(err)
	}
	// A new client: the old one knows the deleted topic's id.
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.addr), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ts := t0.Add(4 * time.Second)
	if err := cl.ProduceSync(context.Background(), attemptRecord("a4", "bot1", "c1", "ana", ts)).FirstErr(); err != nil {
		t.Fatal(err)
	}
	e.start()
	defer e.stop()
	if v := e.verdict("a4"); v.Outcome != events.Blocked || v.Used != 2 {
		t.Fatalf("a4 after the topic was recreated: %+v (state lost?)", v)
	}
}

// A backlog larger than a produce request may carry (Kafka's
// message.max.bytes) drains: verdict batches are split, not refused.
func TestBacklogDrains(t *testing.T) {
	e := newEnv(t, 2)
	t0 := base()
	var recs []*kgo.Record
	const n = 6000
	for i := range n {
		id := fmt.Sprintf("b%05d", i)
		contact := fmt.Sprintf("c%d", i%500)
		ts := t0.Add(time.Duration(i) * time.Millisecond)
		recs = append(recs, attemptRecord(id, "bot1", contact, "ana", ts))
	}
	e.produceRecords(recs...)
	e.start()
	defer e.stop()
	e.waitFor("every verdict", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return len(e.verdicts) == n
	})
	// A large dead letter goes in a produce batch of its own, whole.
	big := append([]byte(`{"id":"x","pad":"`), bytes.Repeat([]byte("x"), 900<<10)...)
	e.produce(attemptsTopic, []byte("bot1/c1"), big, t0.Add(time.Hour))
	dl := e.dlqN(1)
	if h := header(dl[0], "sendgate-truncated"); h != "" || !bytes.Equal(dl[0].Value, big) {
		t.Fatalf("large dead letter: truncated header %q, value %d bytes, want the record's %d", h, len(dl[0].Value), len(big))
	}
}

// While a batch's transaction fails again and again, a backlog builds up
// behind it; the worker starts over from the committed position each time:
// every attempt decided once, in order.
func TestBacklogBehindAFailingCommitIsDecidedOnce(t *testing.T) {
	e := runningEnv(t, 1, limit(1, 5, day, quota.ScopeContact))
	down, refused := e.refuseProduce(changelogTopic)
	down.Store(true)
	t0 := base()
	e.attempt("a0", "bot1", "c1", "ana", t0)
	e.waitFor("changelog writes refused", func() bool { return refused.Load() >= 1 })
	for i := 1; i < 20; i++ { // queued behind the failing batch
		e.attempt(fmt.Sprintf("a%d", i), "bot1", "c1", "ana", t0.Add(time.Duration(i)*time.Second))
	}
	e.waitFor("more changelog writes refused", func() bool { return refused.Load() >= 3 })
	down.Store(false)
	for i := range 20 {
		id := fmt.Sprintf("a%d", i)
		v := e.verdict(id)
		want, used := events.Allowed, min(i+1, 5)
		if i >= 5 {
			want = events.Blocked
		}
		if v.Outcome != want || v.Used != used {
			t.Errorf("%s: %s with %d used, want %s with %d", id, v.Outcome, v.Used, want, used)
		}
	}
	e.sameVerdicts()
	for i := range 20 {
		if n := e.verdictCount(fmt.Sprintf("a%d", i)); n != 1 {
			t.Errorf("a%d: %d verdicts, want 1", i, n)
		}
	}
}
