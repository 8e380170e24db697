package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sendgate/sendgate/contract"
)

// newTestServer returns a console whose Kafka and processor are unreachable:
// enough for the checks made before either is used.
func newTestServer(t *testing.T) *Server {
	t.Helper()
	s, err := New(Config{Brokers: []string{"127.0.0.1:1"}, ProcessorURL: "http://127.0.0.1:1", Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.ln.Close()
		s.kafka.Close()
	})
	return s
}

func do(t *testing.T, h http.Handler, method, path, role, ctype, body string) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if role != "" {
		r.Header.Set("X-Desk-Role", role)
	}
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %q", method, path, w.Code, w.Body.String())
	}
	return w.Code, m
}

// The save endpoint needs the "edit bot general settings" permission and
// validates before it publishes anything.
func TestSaveSettingsChecks(t *testing.T) {
	h := newTestServer(t).Handler()
	good := `{"limit_enabled":true,"max_per_contact":2,"window_seconds":86400,"scope":"contact"}`
	for _, c := range []struct {
		role, ctype, body string
		code              int
		msg               string
	}{
		{"", "application/json", good, 403, "edit bot general settings"},
		{"agent", "application/json", good, 403, "edit bot general settings"},
		{"root", "application/json", good, 403, "edit bot general settings"},
		{"admin", "text/plain", good, 415, "application/json"},
		{"admin", "application/json", `{"limit_enabled":true,"max_per_contact":0}`, 400, "quota: max 0 out of range 1..1000"},
		{"admin", "application/json", `{"limit_enabled":true,"max_per_contact":1001}`, 400, "quota: max 1001 out of range 1..1000"},
		{"admin", "application/json", `{"limit_enabled":true,"max_per_contact":2,"window_seconds":59}`, 400, "quota: window 59 s out of range 60..2592000"},
		{"admin", "application/json", `{"limit_enabled":true,"max_per_contact":2,"scope":"team"}`, 400, "scope"},
		{"admin", "application/json", `{"limit_enabled":true,"max":2}`, 400, "unknown field"},
		// Valid: fails only when it asks the processor for the version.
		{"admin", "application/json", good, 502, "is the processor running?"},
	} {
		code, m := do(t, h, "PUT", "/api/settings", c.role, c.ctype, c.body)
		if msg, _ := m["error"].(string); code != c.code || !strings.Contains(msg, c.msg) {
			t.Errorf("role %q %s %s: %d %v; want %d and an error with %q", c.role, c.ctype, c.body, code, m, c.code, c.msg)
		}
	}
	if code, m := do(t, h, "POST", "/api/send", "", "application/json", `{"agent_id":"ana@acme","contact_id":"nobody"}`); code != 400 || !strings.Contains(m["error"].(string), "unknown contact") {
		t.Errorf("send to an unknown contact: %d %v", code, m)
	}
	if code, m := do(t, h, "GET", "/api/config", "", "", ""); code != 200 || m["bot_id"] != DefaultBot {
		t.Errorf("config: %d %v", code, m)
	}
}

func TestFlags(t *testing.T) {
	env := map[string]string{"DESK_BOT": "sales@bots", "DESK_ADDR": "127.0.0.1:9999"}
	cfg, err := parseFlags([]string{"--addr", "127.0.0.1:1234", "--brokers", "a:1, b:2"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Bot != "sales@bots" || cfg.Addr != "127.0.0.1:1234" || strings.Join(cfg.Brokers, ",") != "a:1,b:2" ||
		cfg.ProcessorURL != "http://127.0.0.1:8080" || cfg.VerdictsTopic != contract.VerdictsTopic {
		t.Errorf("got %+v", cfg)
	}
	for _, args := range [][]string{{"--processor-url", "127.0.0.1:8080"}, {"--brokers", ""}, {"--verdict-timeout", "0s"}, {"extra"}} {
		if _, err := parseFlags(args, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

// formatWait is the page's formatWait (static/desk.js).
func formatWait(d time.Duration) string {
	s := max(1, d.Milliseconds()/1000)
	h, m, sec := s/3600, s%3600/60, s%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh %dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm %ds", m, sec)
	}
	return fmt.Sprintf("%ds", sec)
}

// waits returns what the page may show for a wait until retryAt, read by a
// countdown last rendered somewhere in [from, to].
func waits(retryAt, from, to time.Time) []string {
	var out []string
	for t := from; ; t = t.Add(100 * time.Millisecond) {
		if t.After(to) {
			t = to
		}
		if s := formatWait(retryAt.Sub(t)); len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
		if t.Equal(to) {
			return out
		}
	}
}

func TestFormatWait(t *testing.T) {
	for d, want := range map[time.Duration]string{
		24 * time.Hour: "24h 0m", 24*time.Hour - time.Millisecond: "23h 59m", 24*time.Hour - time.Minute: "23h 59m",
		24*time.Hour - time.Minute - time.Millisecond: "23h 58m", time.Hour: "1h 0m", time.Hour - time.Millisecond: "59m 59s",
		61 * time.Second: "1m 1s", time.Minute - time.Millisecond: "59s", time.Second: "1s", time.Millisecond: "1s", 0: "1s",
		-time.Second: "1s",
	} {
		if got := formatWait(d); got != want {
			t.Errorf("formatWait(%v) = %q, want %q", d, got, want)
		}
	}
}

// checkWait checks that text is prefix + a wait + suffix, the wait being
// what the page shows for retryAt at some instant in [from, to].
func checkWait(t *testing.T, what, text, prefix, suffix string, retryAt, from, to time.Time) {
	t.Helper()
	ok := waits(retryAt, from, to)
	for _, w := range ok {
		if text == prefix+w+suffix {
			return
		}
	}
	t.Fatalf("%s: %q, want %q + one of %q + %q (retry_at %s)", what, text, prefix, ok, suffix, retryAt.UTC().Format(time.RFC3339Nano))
}
