package e2e

import (
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
)

// SIGTERM exits 0 within 10 s having committed what it took: a restart
// publishes nothing again. The HTTP API answers per the contract.
func TestSigtermAndHTTP(t *testing.T) {
	k := newCluster(t, 4)
	k.publishSettings("support@bots", quota.Settings{Version: 42, Enabled: true, Max: 2, WindowMs: 86_400_000})
	dataDir := t.TempDir()
	p := startProc(t, dataDir, "--brokers", k.addr)

	t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	contact := "5531999990000@wa/x" // a slash: URL-escaped in the path
	k.produce(attempt("a1", "support@bots", contact, "ana@acme", t0),
		attempt("a2", "support@bots", contact, "ana@acme", t0.Add(time.Minute)),
		attempt("a3", "support@bots", contact, "ana@acme", t0.Add(2*time.Minute)))
	k.waitVerdicts(3, 30*time.Second)
	if n := k.verdictCount(); n != 3 {
		t.Fatalf("%d verdicts, want 3", n)
	}

	if code, _ := p.get(t, "/healthz"); code != 200 {
		t.Fatalf("/healthz %d", code)
	}
	code, body := p.get(t, "/v1/bots/support%40bots/settings")
	if code != 200 || !strings.Contains(body, `"version":42`) || !strings.Contains(body, `"max_per_contact":2`) {
		t.Fatalf("settings: %d %s", code, body)
	}
	at := t0.Add(3 * time.Minute).UTC().Format(time.RFC3339Nano)
	code, body = p.get(t, "/v1/bots/support@bots/contacts/"+url.PathEscape(contact)+"/quota?at="+url.QueryEscape(at))
	var q map[string]any
	if err := json.Unmarshal([]byte(body), &q); code != 200 || err != nil {
		t.Fatalf("quota: %d %s", code, body)
	}
	wantRetry := string(events.AppendTime(nil, t0.Add(24*time.Hour).UnixMilli()))
	if q["used"] != 2.0 || q["remaining"] != 0.0 || q["limit"] != 2.0 || q["retry_at"] != wantRetry || q["contact_id"] != contact {
		t.Fatalf("quota: %s (want retry_at %s)", body, wantRetry)
	}
	if code, body := p.get(t, "/v1/bots/b/contacts/c/quota?at=yesterday"); code != 400 || !strings.Contains(body, `"error"`) {
		t.Fatalf("bad at: %d %s", code, body)
	}
	if code, body = p.get(t, "/metrics"); code != 200 {
		t.Fatalf("/metrics %d", code)
	}
	for _, m := range []string{`sendgate_verdicts_total{reason="within_limit",verdict="allowed"} 2`,
		`sendgate_verdicts_total{reason="limit_reached",verdict="blocked"} 1`, "sendgate_consumer_lag", "sendgate_decision_latency_seconds", `sendgate_transactions_total{result="committed"}`, "sendgate_transaction_seconds_bucket"} {
		if !strings.Contains(body, m) {
			t.Fatalf("metrics lack %q:\n%s", m, body)
		}
	}

	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("no exit within 10 s of SIGTERM")
	}
	if p.cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", p.cmd.ProcessState.ExitCode(), p.stderr.String())
	}
	t.Logf("SIGTERM to exit: %s", time.Since(start))

	// Restart: everything was committed, so nothing is published again.
	startProc(t, dataDir, "--brokers", k.addr)
	k.produce(attempt("a4", "support@bots", contact, "ana@acme", t0.Add(4*time.Minute)))
	k.waitVerdicts(4, 30*time.Second)
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, id := range []string{"a1", "a2", "a3", "a4"} {
		if n := len(k.verdicts[id]); n != 1 {
			t.Errorf("attempt %s has %d verdicts, want 1", id, n)
		}
	}
}

// Without --brokers the processor starts its embedded broker, creates the
// topics and decides: `make run`.
func TestEmbeddedBroker(t *testing.T) {
	dataDir := t.TempDir()
	p := startProc(t, dataDir, "--embedded-addr", "127.0.0.1:0")
	addr := p.broker
	if !strings.Contains(p.stderr.String(), "single-machine development mode") {
		t.Fatalf("no development-mode line in the log:\n%s", p.stderr.String())
	}
	k := connect(t, addr)
	k.produce(attempt("emb-1", "bot", "contact", "agent", time.Now()))
	k.waitVerdicts(1, 30*time.Second)
	k.mu.Lock()
	vs := k.verdicts["emb-1"]
	k.mu.Unlock()
	if len(vs) == 0 {
		t.Fatalf("no verdict from the embedded broker:\n%s", p.stderr.String())
	}
	if v, err := events.DecodeVerdict(vs[0]); err != nil || v.Outcome != events.Allowed || v.Reason != events.LimitDisabled {
		t.Fatalf("verdict %s (%v), want allowed, limit disabled", vs[0], err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	if p.cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("exit code %d", p.cmd.ProcessState.ExitCode())
	}
}

// Bad flags fail at start with an error naming the flag.
func TestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--session-timeout", "0s"}, "--session-timeout"},
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"--attempts-topic", "x", "--verdicts-topic", "x"}, "--verdicts-topic"},
		{[]string{"--http-addr", "nonsense"}, "http-addr"},
	} {
		out, err := runProcessor(append(tc.args, "--data-dir", t.TempDir(), "--brokers", "127.0.0.1:1")...)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("%v: err=%v, output:\n%s", tc.args, err, out)
		}
	}
}

// A setting that cannot work fails --check-config, naming the flag (or the
// variable): a typo in --brokers must never become the embedded development
// broker. An unknown SENDGATE_* variable is only warned about.
func TestCheckConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"--brokers", ",,"}, "", `--brokers: no broker in ",,"`},
		{nil, "SENDGATE_BROKERS= ", `SENDGATE_BROKERS (--brokers): no broker in " "`},
		{[]string{"--brokers", "kafka:notaport"}, "", `--brokers: "kafka:notaport"`},
		{[]string{"--brokers", "http://kafka:9092"}, "", `--brokers: "http://kafka:9092"`},
		{[]string{"--http-addr", "nonsense"}, "", `--http-addr: "nonsense"`},
		{[]string{"--embedded-addr", ":99999"}, "", `--embedded-addr: ":99999"`},
		{[]string{"--attempts-topic", ""}, "", `--attempts-topic: must not be empty`},
		{[]string{"--dlq-topic", ""}, "", `--dlq-topic: must not be empty`},
	} {
		cmd := exec.Command(processorBin, append(tc.args, "--check-config", "--data-dir", t.TempDir())...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		if tc.env != "" {
			cmd.Env = append(cmd.Env, tc.env)
		}
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), tc.want) {
			t.Errorf("%q %q --check-config: %v, want exit 2 and %q; output:\n%s", tc.env, tc.args, err, tc.want, out)
		}
	}
	cmd := exec.Command(processorBin, "--check-config", "--brokers", "kafka:9092", "--data-dir", t.TempDir())
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SENDGATE_BROKER=kafka:9092"}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SENDGATE_BROKER is not a processor setting") || !strings.Contains(string(out), "configuration is valid") {
		t.Errorf("SENDGATE_BROKER (unknown) with --check-config: %v, want a warning naming it and a valid configuration; output:\n%s", err, out)
	}
}
