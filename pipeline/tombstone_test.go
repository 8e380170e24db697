package pipeline_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/pipeline"
	"github.com/sendgate/sendgate/quota"
)

// A batch sweeps a contact's expired history and writes it again; changelog
// produce requests fail now and then. The changelog must end with the value,
// not the deletion: an instance taking over then restores the history.
func TestSweepAndRewriteOfOneKeyKeepTheirOrderInTheChangelog(t *testing.T) {
	e := newEnv(t, 1)
	e.settings("bot1", limit(1, 1, time.Minute, quota.ScopeContact))
	armed, _ := e.refuseProduceAtMost(changelogTopic, 3)
	mod := func(c *pipeline.Config) { c.ExpirePerBatch = 1; c.VerdictRetention = time.Minute }
	dirA := t.TempDir()
	a := e.instanceWith(dirA, mod)
	e.waitFor("A ready", a.r.Ready)
	t0 := base()
	produceMany := func(ts time.Time, ids, contacts []string) {
		var recs []*kgo.Record
		for i := range ids {
			recs = append(recs, attemptRecord(ids[i], "bot1", contacts[i], "ana", ts))
		}
		e.produceRecords(recs...)
	}
	var ids, cs []string
	ids, cs = append(ids, "old-a0"), append(cs, "a0")
	for i := 0; i < 300; i++ {
		ids, cs = append(ids, fmt.Sprintf("old-x%03d", i)), append(cs, fmt.Sprintf("x%03d", i))
	}
	produceMany(t0, ids, cs)
	e.verdict("old-x299")
	a.stop(t)

	ids, cs = []string{"new-a0"}, []string{"a0"}
	for i := 0; i < 299; i++ {
		ids, cs = append(ids, fmt.Sprintf("new-x%03d", i)), append(cs, fmt.Sprintf("x%03d", i))
	}
	produceMany(t0.Add(2*time.Minute), ids, cs)
	armed.Store(true)
	a = e.instanceWith(dirA, mod)
	if v := e.verdict("new-a0"); v.Outcome != events.Allowed {
		t.Fatalf("new-a0: %+v", v)
	}
	e.verdict("new-x298")
	a.stop(t)

	b := e.instanceWith(t.TempDir(), mod) // takes over, restores from the changelog
	e.waitFor("B ready", b.r.Ready)
	e.attempt("third-a0", "bot1", "a0", "ana", t0.Add(2*time.Minute+time.Second))
	v := e.verdict("third-a0")
	b.stop(t)
	if v.Outcome != events.Blocked {
		t.Fatalf("after takeover, a0 (limit 1, new-a0 allowed 1s earlier) got %v used=%d: history lost to a reordered tombstone", v.Outcome, v.Used)
	}
}
