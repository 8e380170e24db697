package e2e

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sendgate/sendgate/internal/kafkatest"
)

// makeRun is one run of scripts/run.sh (what `make run` starts).
type makeRun struct {
	cmd   *exec.Cmd
	out   *kafkatest.LockedBuf // stdout and stderr
	ready chan struct{}
	done  chan struct{}
}

// runEnv is the environment of scripts/run.sh: ours, with its settings.
func runEnv(bin, dataDir, broker, httpAddr, desk string) []string {
	set := map[string]string{"GO": "go", "BIN": bin, "DATA_DIR": dataDir, "BROKER_ADDR": broker,
		"PROCESSOR_HTTP": httpAddr, "DESK_ADDR": desk, "DESK_BOT": "support@bots"}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); set[k] == "" {
			env = append(env, kv)
		}
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env
}

// startRun starts scripts/run.sh; ready closes when it printed its banner.
func startRun(t *testing.T, env []string) *makeRun {
	t.Helper()
	r := &makeRun{out: &kafkatest.LockedBuf{}, ready: make(chan struct{}), done: make(chan struct{})}
	r.cmd = exec.Command("bash", "scripts/run.sh")
	r.cmd.Dir = ".."
	r.cmd.Env = env
	pr, pw := io.Pipe()
	r.cmd.Stdout, r.cmd.Stderr = pw, pw
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		var once sync.Once
		for sc.Scan() {
			r.out.Write(append(sc.Bytes(), '\n'))
			if strings.Contains(sc.Text(), "Press Ctrl-C to stop both") {
				once.Do(func() { close(r.ready) })
			}
		}
	}()
	go func() {
		_ = r.cmd.Wait()
		pw.Close()
		close(r.done)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// waitReady waits for the banner (the first run builds every binary).
func (r *makeRun) waitReady(t *testing.T) {
	t.Helper()
	select {
	case <-r.ready:
	case <-r.done:
		t.Fatalf("run.sh exited before it was ready:\n%s", r.out.String())
	case <-time.After(10 * time.Minute):
		t.Fatalf("run.sh not ready after 10 minutes:\n%s", r.out.String())
	}
}

// stop is Ctrl-C: the script stops both and exits 0.
func (r *makeRun) stop(t *testing.T) {
	t.Helper()
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
		t.Errorf("run.sh did not stop within 30 s of SIGINT:\n%s", r.out.String())
	}
}

// runOnce runs scripts/run.sh expecting it to give up at once.
func runOnce(t *testing.T, env []string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "scripts/run.sh")
	cmd.Dir = ".."
	cmd.Env = env
	out, _ := cmd.CombinedOutput()
	return string(out), cmd.ProcessState.ExitCode()
}

// TestRunTwice: a second `make run` while one runs names what is in use and
// exits non-zero before it builds, starts or opens anything, leaving the
// running instance and its files alone; a later run keeps the previous
// run's logs as *.log.1.
func TestRunTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds every binary and runs scripts/run.sh")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	bin, dataDir := t.TempDir(), t.TempDir()
	broker, httpAddr, desk := freeAddr(t), freeAddr(t), freeAddr(t)
	env := runEnv(bin, dataDir, broker, httpAddr, desk)
	first := startRun(t, env)
	first.waitReady(t)
	// A bare "building…" for minutes looks hung: the script says what it
	// does and how long that takes.
	if want := "building sendgate (a first build compiles every dependency: about 3 minutes on 2 cores; later builds take seconds)…"; !strings.Contains(first.out.String(), want) {
		t.Errorf("run.sh output has no %q:\n%s", want, first.out.String())
	}
	lock := filepath.Join(dataDir, "run.pid")
	pid := strconv.Itoa(first.cmd.Process.Pid)
	logs := []string{filepath.Join(dataDir, "processor.log"), filepath.Join(dataDir, "desk.log")}
	sizes := map[string]int{}
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil || len(b) == 0 {
			t.Fatalf("%s: %d bytes, %v", l, len(b), err)
		}
		sizes[l] = len(b)
	}
	// untouched checks that the first run and its files are as they were.
	untouched := func(what string) {
		t.Helper()
		for _, l := range logs {
			b, err := os.ReadFile(l)
			if err != nil || len(b) < sizes[l] || bytes.IndexByte(b, 0) >= 0 {
				t.Fatalf("%s: %s of the running instance truncated or overwritten (%d bytes, was %d, NUL at %d, %v)",
					what, l, len(b), sizes[l], bytes.IndexByte(b, 0), err)
			}
		}
		if b, err := os.ReadFile(lock); err != nil || strings.TrimSpace(string(b)) != pid {
			t.Fatalf("%s: %s now %q, %v; want the first run's pid %s", what, lock, b, err, pid)
		}
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			t.Fatalf("%s: the first run's processor: %v", what, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: the first run's processor: /readyz %d", what, resp.StatusCode)
		}
	}
	// gaveUp checks a run that must stop before building or starting.
	gaveUp := func(what, out string, code int, want ...string) {
		t.Helper()
		if code == 0 {
			t.Fatalf("%s: exit 0, want non-zero:\n%s", what, out)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output does not contain %q:\n%s", what, w, out)
			}
		}
		for _, bad := range []string{"Desk console:", "Press Ctrl-C", "building", "starting the processor", "address already in use"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s: output contains %q:\n%s", what, bad, out)
			}
		}
		untouched(what)
	}

	out, code := runOnce(t, env)
	gaveUp("same data dir and ports", out, code,
		"another run (pid "+pid+") is using "+dataDir,
		broker+" (BROKER_ADDR", httpAddr+" (PROCESSOR_HTTP", desk+" (DESK_ADDR")

	otherDir := t.TempDir()
	out, code = runOnce(t, runEnv(bin, otherDir, broker, httpAddr, desk))
	gaveUp("other data dir, same ports", out, code, broker+" (BROKER_ADDR", httpAddr+" (PROCESSOR_HTTP", desk+" (DESK_ADDR")
	if strings.Contains(out, "another run") {
		t.Errorf("other data dir: reports another run:\n%s", out)
	}
	if entries, _ := os.ReadDir(otherDir); len(entries) != 0 {
		t.Errorf("a run that gave up left %d files in its data dir (%s...)", len(entries), entries[0].Name())
	}

	out, code = runOnce(t, runEnv(bin, dataDir, freeAddr(t), freeAddr(t), freeAddr(t)))
	gaveUp("same data dir, other ports", out, code, "another run (pid "+pid+") is using "+dataDir)
	if strings.Contains(out, "is in use") {
		t.Errorf("free ports reported in use:\n%s", out)
	}

	// Ctrl-C: the first run stops and removes its lock.
	first.stop(t)
	if code := first.cmd.ProcessState.ExitCode(); code != 0 || !strings.Contains(first.out.String(), "stopped") {
		t.Fatalf("first run: exit %d after SIGINT:\n%s", code, first.out.String())
	}
	if _, err := os.Stat(lock); !os.IsNotExist(err) {
		t.Fatalf("%s after the run stopped: %v", lock, err)
	}
	prev := map[string][]byte{}
	for _, l := range logs {
		prev[l], _ = os.ReadFile(l)
	}

	// A stale lock (its process is gone) does not stop the next run, which
	// keeps the previous logs as *.log.1.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lock, []byte(strconv.Itoa(gone.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	next := startRun(t, env)
	next.waitReady(t)
	for _, l := range logs {
		if b, err := os.ReadFile(l + ".1"); err != nil || !bytes.Equal(b, prev[l]) {
			t.Errorf("%s.1: %d bytes (%v), want the previous run's %s (%d bytes)", l, len(b), err, filepath.Base(l), len(prev[l]))
		}
	}
	next.stop(t)
	if code := next.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("second run: exit %d after SIGINT:\n%s", code, next.out.String())
	}
}

// TestRunModuleDownload: on a machine without the modules, run.sh says it is
// downloading them before the long silence. (Offline here: the download
// fails at once, after the message.)
func TestRunModuleDownload(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	env := append(runEnv(t.TempDir(), t.TempDir(), freeAddr(t), freeAddr(t), freeAddr(t)),
		"GOMODCACHE="+t.TempDir(), "GOPROXY=off", "GOFLAGS=-modcacherw")
	out, code := runOnce(t, env)
	if code == 0 || !strings.Contains(out, "downloading the Go modules sendgate needs (first run only; a minute or so)…") {
		t.Fatalf("exit %d, want non-zero after the download message:\n%s", code, out)
	}
	if strings.Contains(out, "building") {
		t.Fatalf("built after a failed download:\n%s", out)
	}
}

// freeAddr is a port that was free a moment ago, for scripts/run.sh, which
// takes fixed addresses (and says when one is in use). Another process may
// take it in between: the processor's tests use port 0 instead (startProc).
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
