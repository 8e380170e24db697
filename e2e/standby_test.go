package e2e

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestStandbyTakeoverAfterKill9 runs two processors with --standby-replicas
// 1 on 8 partitions while attempts flow, then kills A with SIGKILL. B,
// which kept a warm copy of A's partitions, takes them over once the
// session timeout passes by catching up only the tail of their changelog:
// no partition is restored whole. Every verdict read committed equals the
// reference model.
func TestStandbyTakeoverAfterKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test; run without -short")
	}
	const session = 6 * time.Second
	k := newCluster(t, 8)
	publishCrashSettings(k)
	args := []string{"--brokers", k.addr, "--session-timeout", session.String(), "--standby-replicas", "1"}
	a := startProc(t, t.TempDir(), args...)
	b := startProc(t, t.TempDir(), args...)
	w := newWorkload(k)
	w.step = 200
	flow := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); {
			w.produce(50)
			time.Sleep(50 * time.Millisecond)
		}
	}
	flow(2 * time.Second) // both deciding (after the rebalance)
	deadline := time.Now().Add(30 * time.Second)
	for !containsMetric(metrics(t, b), "sendgate_standby_partitions 4") {
		if time.Now().After(deadline) {
			t.Fatalf("B holds no standby copy of A's 4 partitions:\n%s", tail(b.stderr.String(), 40))
		}
		flow(200 * time.Millisecond)
	}
	flow(time.Second) // B's copies follow A's decisions
	killed := len(b.stderr.String())
	a.kill()
	flow(session + 3*time.Second) // B takes A's partitions over
	w.each()
	allowed, blocked := w.check(t)
	if blocked == 0 || allowed == 0 {
		t.Fatalf("workload did not exercise the rule: allowed %d blocked %d", allowed, blocked)
	}

	// B's plans in the generation that gave it all 8 partitions.
	plans := map[string]int{}
	records := 0
	sc := bufio.NewScanner(strings.NewReader(b.stderr.String()[killed:]))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			Message    string
			Partitions []int
			Plan, Role string
			Records    int
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		switch {
		case l.Message == "consumer group generation" && len(l.Partitions) == 8:
			clear(plans)
			records = 0
		case l.Plan != "" && l.Role != "standby":
			plans[l.Plan]++
			records += l.Records
		}
	}
	if plans["use-local"]+plans["catch-up"] != 8 || len(plans) > 2 {
		t.Fatalf("B resumed the partitions with plans %v, want use-local or catch-up for all 8:\n%s", plans, tail(b.stderr.String(), 60))
	}
	if records > 1000 {
		t.Errorf("B caught up %d changelog records when it took over, want a tail", records)
	}
	t.Logf("takeover plans %v, %d changelog records caught up", plans, records)
}

func metrics(t *testing.T, p *proc) string {
	t.Helper()
	_, body := p.get(t, "/metrics")
	return body
}
