package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sendgate/sendgate/contract"
	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/internal/kafkatest"
)

var screenshot = flag.String("screenshot", "", "TestBrowser writes a screenshot of the blocked state here (e.g. ../../docs/desk.png)")

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

// chromium finds the browser: $DESK_CHROMIUM, chromium on the PATH, or
// Debian's /usr/bin/chromium.
func chromium() (string, error) {
	if p := os.Getenv("DESK_CHROMIUM"); p != "" {
		return exec.LookPath(p)
	}
	for _, name := range []string{"chromium", "/usr/bin/chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium not found")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startProcessor builds the processor and runs it on its embedded broker, as
// `make run` does; it returns the broker and HTTP addresses once /readyz is
// 200.
func startProcessor(t *testing.T) (brokerAddr, httpURL string) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "processor")
	build := exec.Command("go", "build", "-o", bin, "github.com/sendgate/sendgate/cmd/processor")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the processor: %v\n%s", err, out)
	}
	brokerAddr, httpAddr := freeAddr(t), freeAddr(t)
	logs := &kafkatest.LockedBuf{}
	cmd := exec.Command(bin, "--data-dir", filepath.Join(dir, "data"), "--embedded-addr", brokerAddr,
		"--http-addr", httpAddr, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("processor output:\n%s", logs.String())
		}
	})
	httpURL = "http://" + httpAddr
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(httpURL + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return brokerAddr, httpURL
			}
		}
		select {
		case <-done:
			t.Fatalf("the processor exited during start:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the processor is not ready after 30 s:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// verdictLog reads the verdicts topic on its own, to check the page against.
type verdictLog struct {
	mu sync.Mutex
	m  map[string]events.Verdict
}

func watchVerdicts(t *testing.T, broker string) *verdictLog {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics(contract.VerdictsTopic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	l := &verdictLog{m: map[string]events.Verdict{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				if v, err := events.DecodeVerdict(r.Value); err == nil {
					l.mu.Lock()
					l.m[v.AttemptID] = v
					l.mu.Unlock()
				}
			})
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		cl.Close()
	})
	return l
}

func (l *verdictLog) get(t *testing.T, id string) events.Verdict {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		l.mu.Lock()
		v, ok := l.m[id]
		l.mu.Unlock()
		if ok {
			return v
		}
	}
	t.Fatalf("verdict of attempt %s not seen on the verdicts topic", id)
	return events.Verdict{}
}

// TestBrowser drives the console in headless Chromium against the real
// processor: the admin enables a limit of 2, an agent sends three active
// messages to one contact, and the third shows the error toast, the warning
// icon and the tooltip with the time left until the verdict's retry_at.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the browser test is skipped")
	}
	browser, err := chromium()
	if err != nil {
		t.Fatal(err.Error() + ": the browser test needs Chromium: install it (Debian/Ubuntu: apt-get install -y chromium), " +
			"or set DESK_CHROMIUM to a Chrome/Chromium binary, or run go test -short to leave this test out")
	}
	broker, procURL := startProcessor(t)
	verdicts := watchVerdicts(t, broker)

	// The processor's settings answers wait until the test has seen the
	// page before its data (the loading state).
	target, err := url.Parse(procURL)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseSettings := func() { releaseOnce.Do(func() { close(release) }) }
	proxy := httputil.NewSingleHostReverseProxy(target)
	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/settings") {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(gate.Close)
	t.Cleanup(releaseSettings)
	procURL = gate.URL

	s, err := New(Config{Brokers: []string{broker}, ProcessorURL: procURL, Addr: "127.0.0.1:0", Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("console: %v", err)
		}
	})
	consoleURL := "http://" + s.Addr() + "/"

	actx, acancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(browser),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1100),
	)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	defer bcancel()
	bctx, tcancel := context.WithTimeout(bctx, 60*time.Second)
	defer tcancel()

	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(what, js string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
	poll := func(what, js string) {
		t.Helper()
		run(what, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(25*time.Millisecond),
				chromedp.WithPollingTimeout(30*time.Second))(ctx, tg)
			return err
		}))
	}
	const contact = "5531999990000@wa"
	row := `li[data-contact-id="` + contact + `"]`

	// An agent sees the settings read-only.
	run("open the console", chromedp.EmulateViewport(1280, 960), chromedp.Navigate(consoleURL), chromedp.WaitVisible(`body[data-ready="true"]`))
	// Before the first settings answer nothing in the form passes for the
	// settings in force: the card is busy, says it is loading, shows no
	// values and cannot be edited, even by an admin.
	eval("switch to Admin while loading", `(() => { const r = document.querySelector('#role'); r.value = 'admin'; r.dispatchEvent(new Event('change')); return r.value; })()`)
	loading := `[document.querySelector('#settings-card').getAttribute('aria-busy'), document.querySelector('#settings-card').classList.contains('loading'),
		document.querySelector('#settings-status').textContent, JSON.stringify(document.querySelector('#max').value), JSON.stringify(document.querySelector('#window').value),
		document.querySelector('#settings-fields').disabled, document.querySelectorAll('input[name=scope]:checked').length].join(' | ')`
	if got, want := eval("loading state", loading), `true | true | Loading the settings in force… | "" | "" | true | 0`; got != want {
		t.Fatalf("settings card before its data:\n got %s\nwant %s", got, want)
	}
	releaseSettings()
	poll("settings loaded", `document.querySelector('#settings-status').textContent.includes('version 0')`)
	if got := eval("loaded", `document.querySelector('#settings-card').getAttribute('aria-busy') + ' ' + document.querySelector('#settings-card').classList.contains('loading') + ' ' + document.querySelector('#max').value`); got != "false false 3" {
		t.Fatalf("settings card after its data: aria-busy, loading, max = %s, want false false 3", got)
	}
	eval("back to Agent", `(() => { const r = document.querySelector('#role'); r.value = 'agent'; r.dispatchEvent(new Event('change')); return r.value; })()`)
	if got := eval("agent view", `String(document.querySelector('#settings-fields').disabled) + ' ' + document.querySelector('#readonly-note').hidden`); got != "true false" {
		t.Fatalf("as Agent, settings disabled / note hidden = %s, want true false", got)
	}

	// The admin enables a limit of 2 per customer in a 24 h window.
	eval("switch to Admin", `(() => { const r = document.querySelector('#role'); r.value = 'admin'; r.dispatchEvent(new Event('change')); return r.value; })()`)
	run("edit the settings",
		chromedp.WaitEnabled(`#save`),
		chromedp.Click(`label.switch`),
		chromedp.WaitEnabled(`#max`),
		chromedp.Clear(`#max`),
		chromedp.SendKeys(`#max`, "2"),
	)
	if got := eval("form", `[document.querySelector('#limit-enabled').checked, document.querySelector('#max').value, document.querySelector('#window').value, document.querySelector('#window-unit').value, document.querySelector('input[name=scope]:checked').value].join(' ')`); got != "true 2 24 3600 contact" {
		t.Fatalf("settings form: %q, want enabled, max 2, 24 hours, scope contact", got)
	}
	run("save", chromedp.Click(`#save`))
	// "Saved: version 1 is in force." or, once reloaded, "Version 1 in force."
	poll("saved", `/ersion 1 (is )?in force/.test(document.querySelector('#settings-status').textContent)`)

	// The agent sends three active messages to Maria.
	run("choose the contact", chromedp.Click(row), chromedp.WaitVisible(row+`[aria-checked="true"]`))
	var sent3 time.Time
	for n := 1; n <= 3; n++ {
		if n == 3 {
			sent3 = time.Now()
		}
		run(fmt.Sprintf("send %d", n), chromedp.WaitEnabled(`#send`), chromedp.Click(`#send`),
			chromedp.WaitVisible(fmt.Sprintf(`#log tbody tr:nth-child(%d)`, n)), chromedp.WaitEnabled(`#send`))
	}
	got := eval("verdict log", `[...document.querySelectorAll('#log tbody tr')].map(r => r.dataset.verdict).join(' ')`)
	if got != "blocked allowed allowed" {
		t.Fatalf("verdict log, newest first: %q, want blocked allowed allowed", got)
	}
	blockedID := eval("blocked attempt", `document.querySelector('#log tbody tr').dataset.attemptId`)
	v := verdicts.get(t, blockedID)
	if v.Outcome != events.Blocked || v.Reason != events.LimitReached || v.ContactID != contact || v.RetryAt == 0 {
		t.Fatalf("verdict of the third send: %+v", v)
	}
	retryAt := time.UnixMilli(v.RetryAt)

	// The error toast names the reason and the wait.
	toast := eval("error toast", `(document.querySelector('.toast.error strong') || {}).textContent || ''`)
	// The toast was rendered when the verdict came, then ticked: what it
	// shows was computed between the click and the read.
	checkWait(t, "error toast", toast, "Active message limit reached for this contact. Try again in ", ".", retryAt, sent3.Add(-5*time.Millisecond), time.Now().Add(5*time.Millisecond))
	// The toasts (up to three: the two sends' and this one) cover nothing
	// of the settings card's text and controls (that are shown: the closed
	// "more rules" panel's are not).
	overlap := eval("toasts over the settings card", `(() => {
		const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
		const toasts = [...document.querySelectorAll('#toasts .toast')].map((t) => t.getBoundingClientRect());
		const out = [];
		for (const e of document.querySelectorAll('#settings-card :is(h2, .hint, label, legend, small, input, select, button, #settings-status)')) {
			const r = e.getBoundingClientRect();
			if (r.width && e.checkVisibility() && toasts.some((t) => hit(t, r))) out.push(e.id || e.tagName.toLowerCase() + ':' + e.textContent.trim().slice(0, 30));
		}
		return toasts.length + ' toasts; covered: ' + out.join(', ');
	})()`)
	if !strings.HasSuffix(overlap, "covered: ") || strings.HasPrefix(overlap, "0 ") {
		t.Fatalf("%s", overlap)
	}

	// The warning icon is on the contact's row and on the selection button;
	// hovering it shows the tooltip.
	run("warning icons", chromedp.WaitVisible(row+` .warn svg`), chromedp.WaitVisible(`#contact-button .warn svg`))
	if n := eval("other rows", `String(document.querySelectorAll('#contacts .warn').length)`); n != "1" {
		t.Fatalf("%s contact rows have a warning icon, want 1", n)
	}
	xy := eval("icon position", `(() => { const r = document.querySelector('`+row+` .warn').getBoundingClientRect(); return (r.x + r.width/2) + ' ' + (r.y + r.height/2); })()`)
	var x, y float64
	if _, err := fmt.Sscan(xy, &x, &y); err != nil {
		t.Fatalf("icon position %q: %v", xy, err)
	}
	// Opening the tooltip re-renders the countdown, which then ticks every
	// second: what it shows was computed between the hover and the read
	// (with a few ms for the page clock's whole milliseconds).
	before := time.Now()
	run("hover the icon", chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x, y), chromedp.WaitVisible(row+` .warn .tooltip`))
	tip := eval("tooltip", `document.querySelector('`+row+` .warn .tooltip').textContent`)
	after := time.Now()
	checkWait(t, "tooltip", tip, "You can send a new active message to this contact in ", "", retryAt, before.Add(-5*time.Millisecond), after.Add(5*time.Millisecond))
	if until := eval("countdown target", `document.querySelector('`+row+` .warn .tooltip [data-until]').dataset.until`); until != strconv.FormatInt(v.RetryAt, 10) {
		t.Fatalf("the tooltip counts down to %s, the verdict's retry_at is %d", until, v.RetryAt)
	}

	if *screenshot != "" {
		// No toast half-way through its entrance animation.
		reduce := emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: "reduce"}}}
		run("reduce motion", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, reduce)
			return err
		}))
		png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*screenshot, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", *screenshot)
	}

	// Keyboard focus on the send button, while the contact is at its limit,
	// shows the same tooltip (hover is not the only way), which describes
	// the button, with a focus ring in the warning colour.
	if got := eval("send tooltip hidden", `getComputedStyle(document.querySelector('#send-tip')).display`); got != "none" {
		t.Fatalf("the send button's tooltip shows before the button has focus (display %s)", got)
	}
	if got := eval("send described", `document.querySelector('#send').getAttribute('aria-describedby')`); got != "send-tip" {
		t.Fatalf("#send aria-describedby=%q, want send-tip", got)
	}
	run("move the mouse away", chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 5, 5))
	eval("focus the contact button", `(() => { document.querySelector('#contact-button').focus(); return document.activeElement.id; })()`)
	before = time.Now()
	run("tab to the send button", chromedp.KeyEvent("\t"), chromedp.WaitVisible(`#send-tip`))
	tip = eval("send tooltip", `document.activeElement.id + ': ' + document.querySelector('#send-tip').textContent`)
	after = time.Now()
	checkWait(t, "send button tooltip", tip, "send: You can send a new active message to this contact in ", "", retryAt, before.Add(-5*time.Millisecond), after.Add(5*time.Millisecond))
	if got := eval("focus ring", `(() => { const s = getComputedStyle(document.querySelector('#send')); return s.outlineStyle + ' ' + s.outlineColor; })()`); got != "solid rgb(246, 167, 33)" {
		t.Fatalf("focused send button outline %q, want solid rgb(246, 167, 33) (--warn)", got)
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
