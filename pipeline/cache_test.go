package pipeline

import (
	"testing"
	"time"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
	"github.com/sendgate/sendgate/state"
)

// The history cache holds committed state only: a batch that changes a
// cached history (here a send-failed event releasing its send) and is then
// dropped (its transaction aborted) leaves the cache as it was, and the
// batch decided again sees the committed history.
func TestDroppedBatchLeavesTheCacheCommitted(t *testing.T) {
	st, err := state.Open(t.TempDir(), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := quota.Settings{Version: 1, Enabled: true, Max: 1, WindowMs: 86_400_000}
	d := newDecider(testDeciderDeps(st, s, 24*time.Hour), 0, 16)
	t0 := time.Now().Add(-time.Hour).UnixMilli()
	rec := func(off int64, value []byte) record {
		return record{Offset: off, TimeMs: t0 + off, Key: []byte("bot/c1"), Value: value}
	}
	decide := func(pos state.Position, recs ...record) (*work, []events.Verdict) {
		t.Helper()
		w, out, err := d.decideBatch(recs, pos, 0, t0+1000)
		if err != nil {
			t.Fatal(err)
		}
		out.finish()
		var vs []events.Verdict
		for _, m := range out.msgs {
			v, err := events.DecodeVerdict(m.Value)
			if err != nil {
				t.Fatal(err)
			}
			vs = append(vs, v)
		}
		return w, vs
	}
	commit := func(w *work) state.Position {
		t.Helper()
		b := st.NewBatch()
		if _, _, err := w.write(b, 0, nil, 0); err != nil {
			t.Fatal(err)
		}
		if err := b.CommitNoSync(); err != nil {
			t.Fatal(err)
		}
		d.committed(w)
		return state.Position{Offset: w.next, HWM: w.hwm}
	}
	w, vs := decide(state.Position{}, rec(0, events.AppendAttempt(nil, "a1", "bot", "c1", "ana", t0)))
	if vs[0].Outcome != events.Allowed {
		t.Fatalf("a1: %+v", vs[0])
	}
	pos := commit(w) // c1's history [a1] is now cached
	again := []record{rec(1, events.AppendFailed(nil, "f1", "bot", "c1", "a1", t0+1)),
		rec(2, events.AppendAttempt(nil, "a2", "bot", "c1", "ana", t0+2))}
	_, vs = decide(pos, again...) // a1's send released: a2 allowed; then dropped
	if len(vs) != 1 || vs[0].Outcome != events.Allowed {
		t.Fatalf("a2 after a1's release: %+v", vs)
	}
	// a2 alone, decided from the committed state: the history still
	// holds a1.
	_, vs = decide(pos, again[1])
	if len(vs) != 1 || vs[0].Outcome != events.Blocked || vs[0].Used != 1 {
		t.Fatalf("a2 decided again from the committed state: %+v, want blocked with 1 used", vs)
	}
}
