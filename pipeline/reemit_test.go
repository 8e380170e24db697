package pipeline_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/sendgate/sendgate/pipeline"
	"github.com/sendgate/sendgate/quota"
)

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
