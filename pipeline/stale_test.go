package pipeline_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
)

// copyDir copies a stopped instance's data dir (a Pebble store) to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A transaction committed, then the instance lost its local commit (a crash
// between EndTxn and the local commit; a power loss taking the unsynced
// tail of the local store). Simulated by putting back a copy of the data
// dir from before: its state reflects less of the changelog than the
// changelog holds, and the next start catches up from it. The decisions of
// the lost local commits count, and are not published again.
func TestLostLocalCommitIsCaughtUpFromTheChangelog(t *testing.T) {
	e := newEnv(t, 1)
	e.settings("bot1", limit(1, 3, day, quota.ScopeContact))
	dir, before := t.TempDir(), t.TempDir()
	t0 := base()
	a := e.readyInstance(dir, "A ready")
	e.attempt("a1", "bot1", "c1", "ana", t0)
	e.verdict("a1")
	a.stop(t)
	copyDir(t, dir, before)

	a = e.readyInstance(dir, "A ready")
	e.attempt("a2", "bot1", "c1", "ana", t0.Add(time.Second))
	e.attempt("a3", "bot1", "c1", "ana", t0.Add(2*time.Second))
	e.verdict("a3")
	a.stop(t)

	a = e.readyInstance(before, "A ready on the older state") // a2 and a3 are in the changelog, not in this state
	e.attempt("a4", "bot1", "c1", "ana", t0.Add(3*time.Second))
	if v := e.verdict("a4"); v.Outcome != events.Blocked || v.Used != 3 {
		t.Fatalf("a4: %+v, want blocked with 3 used (a1..a3 counted once)", v)
	}
	a.stop(t)
	for _, id := range []string{"a1", "a2", "a3", "a4"} {
		if n := e.verdictCount(id); n != 1 {
			t.Errorf("%s has %d committed verdicts, want 1", id, n)
		}
	}
}

// An instance gets a partition back after another owner decided on it: its
// local state is older than the changelog, and it applies what the other
// owner wrote (catch-up), instead of deciding on its stale state. No
// attempt gets two verdicts; the limit holds under settings changed
// meanwhile.
func TestStaleLocalStateIsCaughtUpFromTheChangelog(t *testing.T) {
	e := newEnv(t, 1)
	e.settings("bot1", limit(1, 2, day, quota.ScopeContact))
	dirA := t.TempDir()
	t0 := base()
	a := e.readyInstance(dirA, "A ready")
	e.attempt("a1", "bot1", "c1", "ana", t0)
	e.verdict("a1")
	a.stop(t)

	b := e.readyInstance(t.TempDir(), "B ready")
	e.attempt("a2", "bot1", "c1", "ana", t0.Add(time.Second))
	e.verdict("a2")
	e.settings("bot1", limit(2, 1, day, quota.ScopeContact)) // admin lowers the limit
	b.stop(t)

	a = e.readyInstance(dirA, "A ready again")
	e.settings("bot1", limit(3, 2, day, quota.ScopeContact)) // and raises it back
	e.attempt("a3", "bot1", "c1", "ana", t0.Add(2*time.Second))
	e.attempt("a2", "bot1", "c1", "ana", t0.Add(3*time.Second)) // a redelivery
	v3 := e.verdict("a3")
	_, a2 := e.verdictN("a2", 2)
	a.stop(t)
	if v3.Outcome != events.Blocked || v3.Used != 2 {
		t.Errorf("a3: %+v, want blocked with 2 used (a1 by A, a2 by B)", v3)
	}
	_, first := e.verdictN("a2", 1)
	if string(first) != string(a2) {
		t.Errorf("a2's redelivery re-emitted another verdict:\n%s\n%s", first, a2)
	}
}
