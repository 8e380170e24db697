package pipeline_test

import (
	"fmt"
	"strings"
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

// The expiry sweep rests while nothing can have expired (sweep.go), and
// still deletes every entry once its expiry passed, without a restart:
// entries written during the rest too, and none that has not expired.
func TestSweepDeletesWhatExpiredAfterItRested(t *testing.T) {
	e := newEnv(t, 1)
	e.settings("bot1", limit(1, 5, time.Minute, quota.ScopeContact))
	e.start(func(c *pipeline.Config) { c.ExpirePerBatch = 1; c.VerdictRetention = time.Minute })
	t.Cleanup(e.stop)
	t0 := base()
	round := func(prefix string, n int, at time.Time) {
		for i := range n {
			e.attempt(fmt.Sprintf("%s-%d", prefix, i), "bot1", fmt.Sprintf("%s%d", prefix, i), "ana", at)
		}
		e.verdict(fmt.Sprintf("%s-%d", prefix, n-1))
	}
	// The first batches sweep an empty partition: the sweep then rests
	// until t0+60s, when the first verdicts and histories expire.
	round("old", 20, t0)
	round("mid", 20, t0.Add(10*time.Second)) // written while it rests: expire at t0+70s
	live := func(prefix string) (histories, verdicts int) {
		ids := map[string]bool{}
		if err := e.store.EachVerdictID(0, func(id []byte) error { ids[string(id)] = true; return nil }); err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			sends, err := e.store.History(0, "bot1", fmt.Sprintf("%s%d", prefix, i), nil)
			if err != nil {
				t.Fatal(err)
			}
			histories += min(len(sends), 1)
		}
		for id := range ids {
			if strings.HasPrefix(id, prefix+"-") {
				verdicts++
			}
		}
		return histories, verdicts
	}
	// Traffic at t0+61s: the sweep examines two entries per record, new
	// ones ahead of its cursor included, so a pass takes a few rounds.
	for i := 0; ; i++ {
		if i == 10 {
			h, v := live("old")
			t.Fatalf("after %d attempts at t0+61s, %d histories and %d verdicts that expired at t0+60s are left", 20*i, h, v)
		}
		round(fmt.Sprintf("late%d-", i), 20, t0.Add(61*time.Second))
		if h, v := live("old"); h+v == 0 {
			break
		}
	}
	if h, v := live("mid"); h != 20 || v != 20 {
		t.Fatalf("entries that expire at t0+70s: %d histories and %d verdicts left at t0+61s, want 20 and 20", h, v)
	}
}

// A blocked attempt changes no send, but after the bot's window grew it
// rewrites the contact's history with the later expiry: the sweep must not
// forget, when the shorter window ends, a send the longer one still counts.
func TestBlockedAttemptKeepsHistoryForAGrownWindow(t *testing.T) {
	e := newEnv(t, 1)
	e.settings("bot1", limit(1, 1, time.Minute, quota.ScopeContact))
	e.start(func(c *pipeline.Config) { c.ExpirePerBatch = 1 })
	t.Cleanup(e.stop)
	t0 := base()
	e.attempt("a1", "bot1", "c1", "ana", t0)
	e.verdict("a1")
	e.settings("bot1", limit(2, 1, 10*time.Minute, quota.ScopeContact))
	e.waitFor("v2", func() bool { return e.runner.Settings("bot1").Version == 2 })
	e.attempt("a2", "bot1", "c1", "ana", t0.Add(30*time.Second))
	if v := e.verdict("a2"); v.Outcome != events.Blocked {
		t.Fatalf("a2: %+v", v)
	}
	// Past the first window's end, with sweeps of the whole partition.
	for i := range 20 {
		e.attempt(fmt.Sprintf("x%d", i), "bot1", fmt.Sprintf("x%d", i), "ana", t0.Add(2*time.Minute))
	}
	e.verdict("x19")
	e.attempt("a3", "bot1", "c1", "ana", t0.Add(3*time.Minute))
	if v := e.verdict("a3"); v.Outcome != events.Blocked || v.Used != 1 {
		t.Fatalf("a3, 3 minutes after a1 under a 10-minute window: %s with %d used, want blocked with 1", v.Outcome, v.Used)
	}
}
