package e2e

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sendgate/sendgate/contract"
	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/internal/kafkatest"
	"github.com/sendgate/sendgate/quota"
)

var processorBin string

// skipShort skips a long end-to-end test under -short.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("long end-to-end test; run without -short")
	}
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sendgate-e2e")
	if err != nil {
		panic(err)
	}
	processorBin = filepath.Join(dir, "processor")
	args := []string{"build", "-o", processorBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "../cmd/processor")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the processor:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	attemptsTopic = contract.AttemptsTopic
	settingsTopic = contract.SettingsTopic
	verdictsTopic = contract.VerdictsTopic
	dlqTopic      = contract.DLQTopic
)

// cluster is an in-process broker with the four topics and a client.
type cluster struct {
	t    *testing.T
	addr string
	cl   *kgo.Client

	mu       sync.Mutex
	verdicts map[string][][]byte
}

func newCluster(t *testing.T, partitions int32) *cluster {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, attemptsTopic, verdictsTopic),
		kfake.SeedTopics(1, settingsTopic, dlqTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return connect(t, c.ListenAddrs()[0])
}

// connect is a client of the broker at addr that collects every verdict.
func connect(t *testing.T, addr string) *cluster {
	k := &cluster{t: t, addr: addr, verdicts: map[string][][]byte{}}
	var err error
	k.cl, err = kgo.NewClient(kgo.SeedBrokers(k.addr), kgo.ConsumeTopics(verdictsTopic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.ProducerLinger(time.Millisecond),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.cl.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			k.cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				v, err := events.DecodeVerdict(r.Value)
				if err != nil {
					t.Errorf("undecodable verdict: %v: %s", err, r.Value)
					return
				}
				k.mu.Lock()
				k.verdicts[v.AttemptID] = append(k.verdicts[v.AttemptID], r.Value)
				k.mu.Unlock()
			})
		}
	}()
	return k
}

func (k *cluster) produce(rs ...*kgo.Record) {
	k.t.Helper()
	if err := k.cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		k.t.Fatal(err)
	}
}

// attempt is the record of an attempt as the send pipeline produces it:
// keyed bot/contact, stamped ts.
func attempt(id, bot, contact, agent string, ts time.Time) *kgo.Record {
	return &kgo.Record{Topic: attemptsTopic, Key: []byte(bot + "/" + contact), Timestamp: ts,
		Value: events.AppendAttempt(nil, id, bot, contact, agent, ts.UnixMilli())}
}

// publishSettings produces a settings event giving bot the settings s.
func (k *cluster) publishSettings(bot string, s quota.Settings) {
	k.t.Helper()
	ev := events.SettingsChanged{ID: "set-" + bot, BotID: bot, ChangedBy: "admin", Settings: s}
	k.produce(&kgo.Record{Topic: settingsTopic, Key: []byte(bot), Value: events.AppendSettingsEvent(nil, &ev, time.Now().UnixMilli())})
}

func (k *cluster) verdictCount() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.verdicts)
}

// waitVerdicts waits until verdicts of n attempt ids have been read, or d
// has passed.
func (k *cluster) waitVerdicts(n int, d time.Duration) {
	for deadline := time.Now().Add(d); k.verdictCount() < n && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}

// proc is one run of the processor binary.
type proc struct {
	cmd    *exec.Cmd
	http   string // the address its HTTP API listens on, as it logged it
	broker string // the embedded broker's, as it logged it; "" with --brokers
	done   chan struct{}
	err    error
	stderr *kafkatest.LockedBuf
}

// startProc runs the processor with its HTTP API on a port of its own
// choosing (--http-addr 127.0.0.1:0), learns the port from its log and
// waits for /readyz 200. A test that wants the embedded broker passes
// --embedded-addr 127.0.0.1:0 and finds its address in p.broker.
func startProc(t *testing.T, dataDir string, args ...string) *proc {
	t.Helper()
	p := &proc{done: make(chan struct{}), stderr: &kafkatest.LockedBuf{}}
	p.cmd = exec.Command(processorBin, append([]string{"--data-dir", dataDir, "--http-addr", "127.0.0.1:0",
		"--session-timeout", "6s", "--log-level", cmp.Or(os.Getenv("E2E_LOG_LEVEL"), "info")}, args...)...)
	pr, pw := io.Pipe()
	p.cmd.Stderr = pw
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{}) // p.http and p.broker are set
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			fmt.Fprintln(p.stderr, sc.Text())
			var line struct{ Message, HTTP, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			switch line.Message {
			case "sendgate starting": // logged once the API listens
				p.http = line.HTTP
				close(started)
			default:
				if strings.HasPrefix(line.Message, "no --brokers: started the embedded") {
					p.broker = line.Addr
				}
			}
		}
	}()
	go func() {
		p.err = p.cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })
	deadline := time.After(60 * time.Second)
	select {
	case <-started:
	case <-p.done:
		t.Fatalf("processor exited during start: %v\n%s", p.err, p.stderr.String())
	case <-deadline:
		t.Fatalf("processor did not log its HTTP address:\n%s", p.stderr.String())
	}
	for {
		if resp, err := http.Get("http://" + p.http + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("processor exited during start: %v\n%s", p.err, p.stderr.String())
		case <-deadline:
			t.Fatalf("processor not ready:\n%s", p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *proc) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + p.http + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func runProcessor(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, processorBin, args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// metrics is p's /metrics page.
func metrics(t *testing.T, p *proc) string {
	t.Helper()
	_, body := p.get(t, "/metrics")
	return body
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}
