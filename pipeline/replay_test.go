package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/pipeline"
	"github.com/sendgate/sendgate/quota"
)

// A transaction that outlives its deadline (a verdict produce stalled) is
// aborted, and the batch is read again and decided again, here under newer
// settings. A read_committed consumer sees exactly one verdict: the aborted
// one never becomes visible, whatever the stalled request did.
func TestAbandonedTransactionLeavesOneVerdict(t *testing.T) {
	e := newEnv(t, 1)
	e.settings("bot1", limit(1, 1, day, quota.ScopeContact))
	e.start(func(c *pipeline.Config) { c.ShutdownTimeout = 300 * time.Millisecond })
	defer e.stop()
	var stalled atomic.Bool
	e.cluster.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		e.cluster.KeepControl()
		for _, tp := range kreq.(*kmsg.ProduceRequest).Topics {
			if tp.Topic == verdictsTopic && stalled.CompareAndSwap(false, true) {
				e.cluster.SleepControl(func() { time.Sleep(1500 * time.Millisecond) })
			}
		}
		return nil, nil, false
	})
	e.attempt("a1", "bot1", "c1", "ana", base())
	e.waitFor("the first verdict publish stalled", stalled.Load)
	e.settings("bot1", limit(2, 5, day, quota.ScopeContact))
	v := e.verdict("a1")
	if v.SettingsVersion != 2 || v.Outcome != events.Allowed {
		t.Fatalf("a1 decided again after the abort: %+v, want allowed under settings version 2", v)
	}
	// A later attempt is decided after a1's verdict: its verdict, once
	// seen, means a1's partition has nothing else to show.
	e.attempt("a2", "bot1", "c1", "ana", base().Add(time.Second))
	if v := e.verdict("a2"); v.Used != 2 {
		t.Fatalf("a2: %+v, want used 2 (a1 counted once)", v)
	}
	if n := e.verdictCount("a1"); n != 1 {
		t.Fatalf("a1 has %d committed verdicts, want 1", n)
	}
}

// A history whose stored expiry has passed counts as gone whether or not
// the sweep deleted it yet, and whether or not the processor restarted: the
// verdict is the same both ways.
func TestExpiredHistoryIsGoneWithOrWithoutRestart(t *testing.T) {
	var verdicts [2]events.Verdict
	for i, restart := range []bool{false, true} {
		t.Run(fmt.Sprint("restart=", restart), func(t *testing.T) {
			e := newEnv(t, 1)
			e.settings("bot1", limit(1, 1, time.Minute, quota.ScopeContact))
			e.start()
			t0 := base()
			e.attempt("a1", "bot1", "c1", "ana", t0)
			e.verdict("a1")
			e.attempt("x", "bot1", "c2", "ana", t0.Add(61*time.Second)) // sweeps c1's history
			e.verdict("x")
			e.settings("bot1", limit(2, 1, 2*time.Minute, quota.ScopeContact)) // the window grows
			e.waitFor("v2", func() bool { return e.runner.Settings("bot1").Version == 2 })
			if restart {
				e.stop()
				e.start()
			}
			e.attempt("a2", "bot1", "c1", "ana", t0.Add(62*time.Second))
			verdicts[i] = e.verdict("a2")
			e.stop()
		})
	}
	if verdicts[0].Outcome != verdicts[1].Outcome || verdicts[0].Used != verdicts[1].Used {
		t.Fatalf("verdict depends on a restart:\nwithout: %+v\nwith:    %+v", verdicts[0], verdicts[1])
	}
	if verdicts[0].Outcome != events.Allowed {
		t.Fatalf("a send forgotten when it left the shorter window still counts: %+v", verdicts[0])
	}
}

// TestReemitLastBatchKeepsDecisionTimes: with ReemitLastBatch (the embedded
// broker's mode), a restart reads the last committed batch again and
// publishes its verdicts again. It is decided from the high-water mark the
// batch started at, so a redelivered attempt in it is judged at its own
// decision time: one whose id was remembered then is still a duplicate, even
// though the batch's later records moved the partition's high-water mark past
// the id's expiry.
func TestReemitLastBatchKeepsDecisionTimes(t *testing.T) {
	e := newEnv(t, 1)
	e.settings("bot1", limit(1, 5, time.Minute, quota.ScopeContact))
	t0 := base()
	// One batch: a1, its redelivery 59.999 s later (a duplicate: a1 is
	// remembered until t0+60 s), then b1 at t0+61 s.
	e.attempt("a1", "bot1", "c1", "ana", t0)
	e.attempt("a1", "bot1", "c1", "ana", t0.Add(time.Minute-time.Millisecond))
	e.attempt("b1", "bot1", "c1", "ana", t0.Add(time.Minute+time.Second))
	opts := []runOpt{func(c *pipeline.Config) { c.ReemitLastBatch, c.VerdictRetention = true, time.Minute }}
	e.start(opts...)
	e.verdictN("b1", 1)
	e.stop()

	e.start(opts...)
	t.Cleanup(e.stop)
	e.verdictN("b1", 2) // the batch was published again
	for _, id := range []string{"a1", "b1"} {
		n := e.verdictCount(id)
		_, first := e.verdictN(id, 1)
		for i := 2; i <= n; i++ {
			if _, v := e.verdictN(id, i); !bytes.Equal(v, first) {
				t.Fatalf("%s: verdict %d of %d differs from the first:\n%s\n%s", id, i, n, first, v)
			}
		}
	}
	if v := e.verdict("b1"); v.Used != 1 {
		t.Fatalf("b1: used %d, want 1 (a1 left the window, counted once)", v.Used)
	}
}

// A graceful stop commits the group offset of the batch in hand (workers run
// under the generation, so its connection is still open).
func TestGracefulStopCommitsGroupOffset(t *testing.T) {
	e := newEnv(t, 1)
	a := e.readyInstance(t.TempDir(), "A ready")
	t0 := base()
	for i := range 100 {
		e.attempt(fmt.Sprintf("r-%d", i), "bot1", fmt.Sprintf("c%d", i), "ana", t0.Add(time.Duration(i)*time.Millisecond))
	}
	e.verdict("r-99")
	a.stop(t)
	if got := e.groupOffsets(1)[0]; got != 100 {
		t.Fatalf("group offset after a graceful stop: %d, want 100", got)
	}
}

// An instance rebuilding a partition it has no state for is not ready (and
// answers no quota) until the rebuild reached what was published.
func TestReadyOnlyAfterRebuild(t *testing.T) {
	e := newEnv(t, 1)
	e.settings("bot1", limit(1, 1000, day, quota.ScopeContact))
	a := e.readyInstance(t.TempDir(), "A ready")
	t0 := base()
	const n = 300
	for i := range n {
		e.attempt(fmt.Sprintf("r-%d", i), "bot1", "c1", "ana", t0.Add(time.Duration(i)*time.Millisecond))
	}
	e.verdict(fmt.Sprintf("r-%d", n-1))
	a.stop(t)
	b := e.instanceWith(t.TempDir(), func(c *pipeline.Config) { c.MaxBatch = 1 })
	e.waitFor("B ready", b.r.Ready)
	d, _, err := b.r.Quota("bot1", "c1", "", "", t0.Add(time.Hour))
	if err != nil || d.Used != n {
		t.Fatalf("quota as soon as B is ready: used %d, err %v; want %d", d.Used, err, n)
	}
	b.stop(t)
}

// An invalid attempt with a key too large for a verdict record does not
// hold up its partition.
func TestHugeKeyDoesNotBlockThePartition(t *testing.T) {
	e := runningEnv(t, 1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.addr), kgo.ProducerBatchMaxBytes(2<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	key := bytes.Repeat([]byte("k"), 900<<10)
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: attemptsTopic, Key: key, Value: []byte(`{"id":"big"}`),
		Timestamp: base()}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	e.attempt("after", "bot1", "c1", "ana", base().Add(time.Second))
	if v := e.verdict("big"); v.Outcome != events.Rejected {
		t.Fatalf("big: %+v", v)
	}
	if v := e.verdict("after"); v.Outcome != events.Allowed {
		t.Fatalf("after: %+v", v)
	}
}

// An invalid attempt read again is dead-lettered again with its stored
// verdict: a first dead letter that was never acknowledged is not lost.
func TestInvalidAttemptReadAgainIsDeadLetteredAgain(t *testing.T) {
	e := runningEnv(t, 1)
	bad := []byte(`{"specversion":"1.0","id":"bad1","source":"/x","type":"desk.active_message.requested","time":"2026-11-26T10:00:00Z","data":{"bot_id":"b","contact_id":"c"}}`)
	e.produce(attemptsTopic, []byte("b/c"), bad, base())
	e.produce(attemptsTopic, []byte("b/c"), bad, base())
	_, v1 := e.verdictN("bad1", 1)
	_, v2 := e.verdictN("bad1", 2)
	if !bytes.Equal(v1, v2) {
		t.Fatalf("verdicts differ:\n%s\n%s", v1, v2)
	}
	if dl := e.dlqN(2); string(dl[0].Value) != string(bad) || string(dl[1].Value) != string(bad) {
		t.Fatalf("dead letters: %q / %q", dl[0].Value, dl[1].Value)
	}
}

// setTopicConfig sets one configuration entry of a topic.
func (e *env) setTopicConfig(topic, name, value string) {
	e.t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, topic
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Name, c.Value = name, &value
	res.Configs = append(res.Configs, c)
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(context.Background(), e.cl)
	if err != nil || resp.Resources[0].ErrorCode != 0 {
		e.t.Fatalf("set %s=%s on %s: %v %+v", name, value, topic, err, resp)
	}
}

// An invalid attempt of 1 MiB − 4 KiB reaches the DLQ byte for byte. One
// larger than the DLQ topic accepts (max.message.bytes) is refused: the
// batch is then decided again with a cut copy, whose headers give the
// original sizes; the attempt still gets its rejected verdict once.
func TestDeadLettersByteForByte(t *testing.T) {
	e := newEnv(t, 1)
	e.setTopicConfig(attemptsTopic, "max.message.bytes", "4194304")
	e.start()
	defer e.stop()
	big := func(id string, n int) []byte {
		v := events.AppendAttempt(nil, id, "bot1", "c1", "", base().UnixMilli()) // agent_id empty: invalid
		return append(v[:len(v)-1], append([]byte(`,"pad":"`+strings.Repeat("x", n-len(v)-10)), '"', '}')...)
	}
	whole := big("w1", 1<<20-4<<10)
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.addr), kgo.ProducerBatchMaxBytes(4<<20), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: attemptsTopic, Key: []byte("bot1/c1"), Value: whole}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if v := e.verdict("w1"); v.Outcome != events.Rejected {
		t.Fatalf("w1: %+v", v)
	}
	dl := e.dlqN(1)[0]
	if !bytes.Equal(dl.Value, whole) || header(dl, "sendgate-truncated") != "" {
		t.Fatalf("dead letter of %d bytes (truncated header %q), want the %d bytes of the record", len(dl.Value), header(dl, "sendgate-truncated"), len(whole))
	}
	tooBig := big("t1", 2<<20)
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: attemptsTopic, Key: []byte("bot1/c1"), Value: tooBig}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if v := e.verdict("t1"); v.Outcome != events.Rejected {
		t.Fatalf("t1: %+v", v)
	}
	dl = e.dlqN(2)[1]
	if header(dl, "sendgate-truncated") != fmt.Sprint(len(tooBig)) || len(dl.Value) > 512<<10 || !bytes.Equal(dl.Value, tooBig[:len(dl.Value)]) {
		t.Fatalf("cut dead letter: %d bytes, sendgate-truncated %q; want a prefix of at most 512 KiB and the original size %d",
			len(dl.Value), header(dl, "sendgate-truncated"), len(tooBig))
	}
	if n := e.verdictCount("t1"); n != 1 {
		t.Fatalf("t1 has %d verdicts", n)
	}
}
