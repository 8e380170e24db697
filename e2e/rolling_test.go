package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sendgate/sendgate/events"
)

// TestRollingRestart runs three processors and restarts each in turn with
// SIGTERM while attempts flow. Each exits 0 within 10 s; every verdict
// read committed equals the reference model and no attempt id gets two
// different verdicts; and all along, a quota query to any running instance
// about contacts whose sends are all decided is right, or 503 with a
// Retry-After header while their partition moves, never a wrong number.
func TestRollingRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test; run without -short")
	}
	k := newCluster(t, 8)
	publishCrashSettings(k)
	// Quiet contacts of bot-a (limit 3 per 24 h): n sends each, decided
	// before the instances restart.
	const quiet = 12
	t0 := time.Now().Add(-3 * time.Hour).Truncate(time.Millisecond)
	w := newWorkload(k)
	w.step = 200
	var recs []*kgo.Record
	for c := range quiet {
		contact := fmt.Sprintf("q%02d", c)
		for i := range c % 5 {
			ts := t0.Add(time.Duration(c*10+i) * time.Millisecond)
			recs = append(recs, &kgo.Record{Topic: attemptsTopic, Key: []byte("bot-a/" + contact), Timestamp: ts,
				Value: events.AppendAttempt(nil, fmt.Sprintf("q-%s-%d", contact, i), "bot-a", contact, "ana", ts.UnixMilli())})
		}
	}
	k.produce(recs...)
	w.ignore = "q-" // the quiet contacts' attempts: outside the workload's model
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	args := []string{"--brokers", k.addr}
	procs := make([]*proc, 3)
	for i := range procs {
		procs[i] = startProc(t, dirs[i], args...)
	}
	deadline := time.Now().Add(60 * time.Second)
	for k.verdictCount() < len(recs) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	at := t0.Add(time.Minute).UTC().Format(time.RFC3339Nano)
	answers, unavailable := 0, 0
	checkQuiet := func(p *proc) {
		for c := range quiet {
			resp, err := http.Get("http://" + p.http + "/v1/bots/bot-a/contacts/" + fmt.Sprintf("q%02d", c) + "/quota?at=" + at)
			if err != nil {
				continue // the instance is stopping
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch want := fmt.Sprintf(`"used":%d`, min(c%5, 3)); resp.StatusCode {
			case 200:
				answers++
				if !strings.Contains(string(body), want) {
					t.Errorf("q%02d from %s: %s, want %s", c, p.http, string(body), want)
				}
			case 503:
				unavailable++
				if resp.Header.Get("Retry-After") == "" {
					t.Errorf("q%02d from %s: 503 without Retry-After: %s", c, p.http, string(body))
				}
			default:
				t.Errorf("q%02d from %s: %d %s", c, p.http, resp.StatusCode, string(body))
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
	allowed, blocked := w.check(t)
	if allowed == 0 || blocked == 0 {
		t.Fatalf("workload did not exercise the rule: allowed %d blocked %d", allowed, blocked)
	}
	t.Logf("quota queries during the restarts: %d answered, %d 503 with Retry-After", answers, unavailable)
	if answers == 0 {
		t.Fatal("no quota query was answered")
	}
}
