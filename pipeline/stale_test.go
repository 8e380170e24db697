package pipeline_test

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
)

// The new owner's group offset commits do not land (a kill -9 between two
// of its group commits, simulated by refusing OffsetCommit). The old owner
// gets the partition back with a local offset at the group offset, but the
// changelog was written since its last write: it restores instead of using
// its stale state. No attempt gets two different verdicts; the limit holds.
func TestStaleLocalStateIsRestoredFromTheChangelog(t *testing.T) {
	e := newEnv(t, 1)
	e.settings("bot1", limit(1, 2, day, quota.ScopeContact))
	var refuse atomic.Bool
	e.cluster.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		e.cluster.KeepControl()
		if !refuse.Load() {
			return nil, nil, false
		}
		r := req.(*kmsg.OffsetCommitRequest)
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		resp.Version = r.Version
		for _, tp := range r.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = tp.Topic
			for _, p := range tp.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = 7 // REQUEST_TIMED_OUT
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	dirA := t.TempDir()
	t0 := base()
	a := e.instance(dirA)
	e.waitFor("A ready", a.r.Ready)
	e.attempt("a1", "bot1", "c1", "ana", t0)
	e.verdict("a1")
	a.stop(t)

	b := e.instance(t.TempDir())
	e.waitFor("B ready", b.r.Ready)
	refuse.Store(true)
	e.attempt("a2", "bot1", "c1", "ana", t0.Add(time.Second))
	_, first := e.verdictN("a2", 1)
	e.settings("bot1", limit(2, 1, day, quota.ScopeContact)) // admin lowers the limit
	b.stop(t)
	refuse.Store(false)

	a = e.instance(dirA) // local offset == group offset: stale local state is used
	e.waitFor("A ready again", a.r.Ready)
	e.settings("bot1", limit(3, 2, day, quota.ScopeContact)) // and raises it back
	e.attempt("a3", "bot1", "c1", "ana", t0.Add(2*time.Second))
	v3 := e.verdict("a3")
	n := e.verdictCount("a2")
	var second []byte
	if n >= 2 {
		_, second = e.verdictN("a2", 2)
	}
	a.stop(t)
	if n >= 2 && !bytes.Equal(first, second) {
		t.Errorf("a2 got two different verdicts")
	}
	if v3.Outcome == events.Allowed {
		t.Errorf("a3 allowed: a1, a2 (allowed by B) and a3 = 3 sends with limit 2")
	}
}
