package pipeline_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
)

// While a batch's transaction fails again and again, the next batch is
// fetched ahead each time; the worker starts over from the committed
// position, dropping it: every attempt decided once, in order.
func TestFetchAheadIsDroppedWhenTheCommitFails(t *testing.T) {
	e := runningEnv(t, 1, limit(1, 5, day, quota.ScopeContact))
	down, refused := e.refuseProduce(changelogTopic)
	down.Store(true)
	t0 := base()
	e.attempt("a0", "bot1", "c1", "ana", t0)
	e.waitFor("changelog writes refused", func() bool { return refused.Load() >= 1 })
	for i := 1; i < 20; i++ { // fetched ahead of the failing batch
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
