package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Several processors in one consumer group: any of them answers for every
// contact, and partitions move between them (a rolling restart, a stalled
// instance, a killed one with standby copies) without a verdict changing.

// TestAnyInstanceAnswers runs three processors in one group. Every
// contact's quota, asked of every instance, is the owner's answer: an
// instance that does not own the contact's partition forwards the query to
// the one that does (found from the group's member metadata).
func TestAnyInstanceAnswers(t *testing.T) {
	skipShort(t)
	const contacts = 30
	k := newCluster(t, 8)
	publishCrashSettings(k)
	var procs []*proc
	for range 3 {
		procs = append(procs, startProc(t, t.TempDir(), "--brokers", k.addr))
	}
	t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	recs := quietAttempts(contacts, t0)
	k.produce(recs...)
	k.waitVerdicts(len(recs), time.Minute)
	deadline := time.Now().Add(time.Minute)
	// Every instance ready, and the group settled: all three own partitions.
	for i, p := range procs {
		for code, _ := p.get(t, "/readyz"); code != 200; code, _ = p.get(t, "/readyz") {
			if time.Now().After(deadline) {
				t.Fatalf("instance %d not ready", i)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for c := range contacts {
		path, want := quietQuota(c, t0)
		var first string
		for i, p := range procs {
			code, body := p.get(t, path)
			for code == 503 && time.Now().Before(deadline) { // a rebalance still settling
				time.Sleep(100 * time.Millisecond)
				code, body = p.get(t, path)
			}
			if code != 200 || !strings.Contains(body, want) {
				t.Fatalf("%s from instance %d: %d %s, want 200 with %s", path, i, code, body, want)
			}
			if first == "" {
				first = body
			} else if body != first {
				t.Fatalf("%s: instance %d answered %s, instance 0 %s", path, i, body, first)
			}
		}
	}
}

// TestRollingRestart runs three processors and restarts each in turn with
// SIGTERM while attempts flow. Each exits 0 within 10 s; every verdict
// read committed equals the reference model and no attempt id gets two
// different verdicts; and all along, a quota query to any running instance
// about contacts whose sends are all decided is right, or 503 with a
// Retry-After header while their partition moves, never a wrong number.
func TestRollingRestart(t *testing.T) {
	skipShort(t)
	k := newCluster(t, 8)
	publishCrashSettings(k)
	// Quiet contacts of bot-a (limit 3 per 24 h): n sends each, decided
	// before the instances restart.
	const quiet = 12
	t0 := time.Now().Add(-3 * time.Hour).Truncate(time.Millisecond)
	w := newWorkload(k)
	w.step = 200
	recs := quietAttempts(quiet, t0)
	k.produce(recs...)
	w.ignore = "q-" // the quiet contacts' attempts: outside the workload's model
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	args := []string{"--brokers", k.addr}
	procs := make([]*proc, 3)
	for i := range procs {
		procs[i] = startProc(t, dirs[i], args...)
	}
	k.waitVerdicts(len(recs), time.Minute)
	answers, unavailable := 0, 0
	checkQuiet := func(p *proc) {
		for c := range quiet {
			path, want := quietQuota(c, t0)
			resp, err := http.Get("http://" + p.http + path)
			if err != nil {
				continue // the instance is stopping
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch resp.StatusCode {
			case 200:
				answers++
				if !strings.Contains(string(body), want) {
					t.Errorf("%s from %s: %s, want %s", path, p.http, string(body), want)
				}
			case 503:
				unavailable++
				if resp.Header.Get("Retry-After") == "" {
					t.Errorf("%s from %s: 503 without Retry-After: %s", path, p.http, string(body))
				}
			default:
				t.Errorf("%s from %s: %d %s", path, p.http, resp.StatusCode, string(body))
			}
		}
	}
	flow := func(d time.Duration, queried ...*proc) {
		for end := time.Now().Add(d); time.Now().Before(end); {
			w.produce(50)
			for _, p := range queried {
				checkQuiet(p)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	flow(2*time.Second, procs...)
	for i := range procs {
		others := []*proc{procs[(i+1)%3], procs[(i+2)%3]}
		start := time.Now()
		if err := procs[i].cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { <-procs[i].done; close(exited) }()
		for stopped := false; !stopped; {
			select {
			case <-exited:
				stopped = true
			default:
				if time.Since(start) > 10*time.Second {
					t.Fatalf("instance %d did not exit within 10 s of SIGTERM", i)
				}
				flow(100*time.Millisecond, others...)
			}
		}
		if code := procs[i].cmd.ProcessState.ExitCode(); code != 0 {
			t.Fatalf("instance %d exited %d after SIGTERM:\n%s", i, code, tail(procs[i].stderr.String(), 20))
		}
		t.Logf("instance %d: SIGTERM to exit %s", i, time.Since(start).Round(time.Millisecond))
		procs[i] = startProc(t, dirs[i], args...)
		flow(2*time.Second, procs...)
	}
	w.each()
	w.checkRule(t)
	t.Logf("quota queries during the restarts: %d answered, %d 503 with Retry-After", answers, unavailable)
	if answers == 0 {
		t.Fatal("no quota query was answered")
	}
}

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
	skipShort(t)
	const session = 6 * time.Second // kfake's least (group.min.session.timeout.ms)
	k := newCluster(t, 8)
	publishCrashSettings(k)
	args := []string{"--brokers", k.addr, "--session-timeout", session.String()}
	a := startProc(t, t.TempDir(), args...)
	bDir := t.TempDir()
	b := startProc(t, bDir, args...)
	w := newWorkload(k)
	w.step = 200            // about 25,000 records over 5,000 s of record time
	w.flow(2 * time.Second) // both instances deciding (after the rebalance)
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	w.flow(session + 3*time.Second) // B takes A's partitions over
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	w.flow(2 * time.Second) // A comes back, is fenced, rejoins
	b.kill()
	w.flow(session + 2*time.Second) // A takes everything back
	w.each()
	w.checkRule(t)
	logs := a.stderr.String()
	if !strings.Contains(logs, "caught up from the changelog") && !strings.Contains(logs, "restored from the changelog") {
		t.Errorf("A did not restore B's decisions from the changelog when it took the partitions back:\n%s", tail(logs, 40))
	}
	t.Logf("A fenced: %v", strings.Contains(logs, "fenced"))
}

// TestStandbyTakeoverAfterKill9 runs two processors with --standby-replicas
// 1 on 8 partitions while attempts flow, then kills A with SIGKILL. B,
// which kept a warm copy of A's partitions, takes them over once the
// session timeout passes by catching up only the tail of their changelog:
// no partition is restored whole. Every verdict read committed equals the
// reference model.
func TestStandbyTakeoverAfterKill9(t *testing.T) {
	skipShort(t)
	const session = 6 * time.Second
	k := newCluster(t, 8)
	publishCrashSettings(k)
	args := []string{"--brokers", k.addr, "--session-timeout", session.String(), "--standby-replicas", "1"}
	a := startProc(t, t.TempDir(), args...)
	b := startProc(t, t.TempDir(), args...)
	w := newWorkload(k)
	w.step = 200
	w.flow(2 * time.Second) // both deciding (after the rebalance)
	deadline := time.Now().Add(30 * time.Second)
	for !containsMetric(metrics(t, b), "sendgate_standby_partitions 4") {
		if time.Now().After(deadline) {
			t.Fatalf("B holds no standby copy of A's 4 partitions:\n%s", tail(b.stderr.String(), 40))
		}
		w.flow(200 * time.Millisecond)
	}
	w.flow(time.Second) // B's copies follow A's decisions
	killed := len(b.stderr.String())
	a.kill()
	w.flow(session + 3*time.Second) // B takes A's partitions over
	w.each()
	w.checkRule(t)

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

// quietAttempts are c%5 attempts (0 to 4) for each of n contacts q00, q01,
// ... of bot-a (limit 3 per 24 h), a few milliseconds after t0, with ids
// q-<contact>-<i>.
func quietAttempts(n int, t0 time.Time) []*kgo.Record {
	var recs []*kgo.Record
	for c := range n {
		contact := fmt.Sprintf("q%02d", c)
		for i := range c % 5 {
			ts := t0.Add(time.Duration(c*10+i) * time.Millisecond)
			recs = append(recs, attempt(fmt.Sprintf("q-%s-%d", contact, i), "bot-a", contact, "ana", ts))
		}
	}
	return recs
}

// quietQuota is the quota query of quiet contact c a minute after t0, and
// what its answer must hold once the contact's attempts are decided: used
// min(c%5, 3), some contacts at the limit.
func quietQuota(c int, t0 time.Time) (path, want string) {
	at := url.QueryEscape(t0.Add(time.Minute).UTC().Format(time.RFC3339Nano))
	return fmt.Sprintf("/v1/bots/bot-a/contacts/q%02d/quota?at=%s", c, at), fmt.Sprintf(`"used":%d`, min(c%5, 3))
}
