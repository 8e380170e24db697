package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sendgate/sendgate/contract"
	"github.com/sendgate/sendgate/internal/kafkatest"
)

// What the browser tests share: Chromium, the processor, the console, the
// verdicts topic read on its own, and a page to drive.

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
	m  map[string]verdictJSON
}

func watchVerdicts(t *testing.T, broker string) *verdictLog {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics(contract.VerdictsTopic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	l := &verdictLog{m: map[string]verdictJSON{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				if v, err := decodeVerdict(r.Value); err == nil {
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

func (l *verdictLog) get(t *testing.T, id string) verdictJSON {
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
	return verdictJSON{}
}

// startConsole runs a console for broker and the processor at procURL until
// the test ends; it returns the console's URL.
func startConsole(t *testing.T, broker, procURL string) string {
	t.Helper()
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
	return "http://" + s.Addr() + "/"
}

// page is a headless Chromium tab; its methods fail the test on error.
type page struct {
	t   *testing.T
	ctx context.Context
}

// newPage starts Chromium (the test fails when it cannot be found: see
// chromium) and opens a tab that lives until the test ends, at most 60 s.
// Under -short it skips the test: call it before anything slow.
func newPage(t *testing.T) *page {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the browser tests are skipped")
	}
	browser, err := chromium()
	if err != nil {
		t.Fatal(err.Error() + ": the browser tests need Chromium: install it (Debian/Ubuntu: apt-get install -y chromium), " +
			"or set DESK_CHROMIUM to a Chrome/Chromium binary, or run go test -short to leave them out")
	}
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
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	bctx, tcancel := context.WithTimeout(bctx, 60*time.Second)
	t.Cleanup(func() {
		tcancel()
		bcancel()
		acancel()
	})
	return &page{t: t, ctx: bctx}
}

// inZone makes the page's clock read in zone, from the next navigation.
func inZone(zone string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: zone})
		return err
	})
}

// reducedMotion makes the page prefer reduced motion: no animation (a
// toast's entrance) is caught half-way.
func reducedMotion() chromedp.Action[chromedp.Void] {
	reduce := emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: "reduce"}}}
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, reduce)
		return err
	})
}

func (p *page) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates js, whose value is a string.
func (p *page) eval(what, js string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// poll waits (up to 30 s) until js is true.
func (p *page) poll(what, js string) {
	p.t.Helper()
	p.run(what, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(25*time.Millisecond),
			chromedp.WithPollingTimeout(30*time.Second))(ctx, tg)
		return err
	}))
}

// setRole switches the page's role ("agent" or "admin").
func (p *page) setRole(role string) {
	p.t.Helper()
	p.eval("switch to "+role, `(() => { const r = document.querySelector('#role'); r.value = '`+role+`'; r.dispatchEvent(new Event('change')); return r.value; })()`)
}
