package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStalledInstanceIsFenced runs two processors in one group on 8
// partitions while attempts flow. Instance A is frozen with SIGSTOP for
// longer than the session timeout (a long GC or VM pause): B takes its
// partitions over and decides them. A is resumed with SIGCONT: whatever it
// was doing, the broker fences it. Then B is killed with SIGKILL and A takes
// every partition back, catching up from the changelog what B decided.
// Every verdict read committed equals the reference model, no attempt id
// has two different verdicts, and one more attempt per contact at the end
// is decided exactly.
func TestStalledInstanceIsFenced(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end stall test; run without -short")
	}
	const session = 6 * time.Second // kfake's least (group.min.session.timeout.ms)
	k := newCluster(t, 8)
	publishCrashSettings(k)
	args := []string{"--brokers", k.addr, "--session-timeout", session.String()}
	a := startProc(t, t.TempDir(), args...)
	bDir := t.TempDir()
	b := startProc(t, bDir, args...)
	w := newWorkload(k)
	w.step = 200 // about 25,000 records over 5,000 s of record time
	// flow produces for d, 50 records every 50 ms.
	flow := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); {
			w.produce(50)
			time.Sleep(50 * time.Millisecond)
		}
	}
	flow(2 * time.Second) // both instances deciding (after the rebalance)
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	flow(session + 3*time.Second) // B takes A's partitions over
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	flow(2 * time.Second) // A comes back, is fenced, rejoins
	b.kill()
	flow(session + 2*time.Second) // A takes everything back
	w.each()
	allowed, blocked := w.check(t)
	if blocked == 0 || allowed == 0 {
		t.Fatalf("workload did not exercise the rule: allowed %d blocked %d", allowed, blocked)
	}
	logs := a.stderr.String()
	if !strings.Contains(logs, "caught up from the changelog") && !strings.Contains(logs, "restored from the changelog") {
		t.Errorf("A did not restore B's decisions from the changelog when it took the partitions back:\n%s", tail(logs, 40))
	}
	t.Logf("A fenced: %v", strings.Contains(logs, "fenced"))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}
