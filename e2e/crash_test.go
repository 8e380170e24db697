package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
)

// sent is one record produced to the attempts topic, as the model sees it.
type sent struct {
	partition int32
	offset    int64
	tsMs      int64
	failed    bool
	id        string // attempt id (or failed event id)
	bot       string
	contact   string
	agent     string
	released  string // failed: the attempt released
}

var crashSettings = map[string]quota.Settings{
	"bot-a": {Version: 1, Enabled: true, Max: 3, WindowMs: 86_400_000, Scope: quota.ScopeContact},
	"bot-b": {Version: 4, Enabled: true, Max: 2, WindowMs: 3_600_000, Scope: quota.ScopeAgentContact},
	// bot-c has no settings: limit disabled, still recorded.
}

// TestKill9 runs thousands of attempts over 8 partitions through the real
// binary while killing it with SIGKILL at random moments, and checks every
// verdict against a reference model: no attempt counted twice, none
// without a verdict, every re-emitted verdict identical.
func TestKill9(t *testing.T) {
	skipShort(t)
	k := newCluster(t, 8)
	publishCrashSettings(k)
	dataDir := t.TempDir()
	crashWorkload(t, k, dataDir, 4000, 3, func() *proc { return startProc(t, dataDir, "--brokers", k.addr) })
}

// TestKill9Embedded is TestKill9 in the single-machine mode (`make run`):
// SIGKILL takes the embedded broker down with the processor, and both come
// back from the data dir.
func TestKill9Embedded(t *testing.T) {
	skipShort(t)
	// The first start picks the broker's port; restarts keep it, for the
	// clients.
	addr, dataDir := "127.0.0.1:0", t.TempDir()
	start := func() *proc { return startProc(t, dataDir, "--embedded-addr", addr, "--partitions", "4") }
	p := start()
	addr = p.broker
	k := connect(t, addr)
	publishCrashSettings(k)
	p.kill()
	crashWorkload(t, k, dataDir, 1500, 2, start)
}

func publishCrashSettings(k *cluster) {
	for bot, s := range crashSettings {
		k.publishSettings(bot, s)
	}
}

// workload makes the attempts topic's records: attempts over 40 contacts
// of three bots, with redeliveries and send failures, and remembers what it
// sent for the model.
type workload struct {
	k    *cluster
	rng  *rand.Rand
	base int64
	// step is the time between two records' timestamps, ms: n records
	// span n*step, which must stay within the two hours before now (the
	// contract clamps later timestamps).
	step int64
	// ignore is the prefix of attempt ids produced outside the workload,
	// whose verdicts check leaves alone.
	ignore     string
	n          int
	log        []sent
	allowedIDs []string
}

func newWorkload(k *cluster) *workload {
	return &workload{k: k, rng: rand.New(rand.NewPCG(7, 9)), base: time.Now().Add(-2 * time.Hour).UnixMilli(), step: 500}
}

// produce sends n more records and waits for their acknowledgement.
func (w *workload) produce(n int) {
	bots := []string{"bot-a", "bot-b", "bot-c"}
	agents := []string{"ana", "bob", "cid"}
	rng := w.rng
	var batch []*kgo.Record
	var meta []sent
	for range n {
		i := w.n
		w.n++
		ts := w.base + int64(i)*w.step
		s := sent{tsMs: ts, bot: bots[rng.IntN(3)], contact: fmt.Sprintf("c%02d", rng.IntN(40)), agent: agents[rng.IntN(3)]}
		s.id = fmt.Sprintf("att-%05d", i)
		switch r := rng.IntN(100); {
		case r < 4 && len(w.log) > 0: // a redelivered attempt
			prev := w.log[rng.IntN(len(w.log))]
			if !prev.failed {
				s.id, s.bot, s.contact, s.agent = prev.id, prev.bot, prev.contact, prev.agent
			}
		case r < 8 && len(w.allowedIDs) > 0: // a send that failed
			s.failed = true
			s.released = w.allowedIDs[rng.IntN(len(w.allowedIDs))]
			s.id = fmt.Sprintf("fail-%05d", i)
		}
		var val []byte
		if s.failed {
			// The released attempt's contact: look it up.
			for _, l := range w.log {
				if l.id == s.released && !l.failed {
					s.bot, s.contact = l.bot, l.contact
					break
				}
			}
			val = events.AppendFailed(nil, s.id, s.bot, s.contact, s.released, ts)
		} else {
			val = events.AppendAttempt(nil, s.id, s.bot, s.contact, s.agent, ts)
			w.allowedIDs = append(w.allowedIDs, s.id)
		}
		batch = append(batch, &kgo.Record{Topic: attemptsTopic, Key: []byte(s.bot + "/" + s.contact), Value: val,
			Timestamp: time.UnixMilli(ts)})
		meta = append(meta, s)
	}
	w.k.produce(batch...)
	for j, r := range batch {
		meta[j].partition, meta[j].offset = r.Partition, r.Offset
	}
	w.log = append(w.log, meta...)
}

// flow produces for d, 50 records every 50 ms.
func (w *workload) flow(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		w.produce(50)
		time.Sleep(50 * time.Millisecond)
	}
}

// each produces one more attempt for every contact of every bot.
func (w *workload) each() {
	var batch []*kgo.Record
	var meta []sent
	for _, bot := range []string{"bot-a", "bot-b", "bot-c"} {
		for c := range 40 {
			i := w.n
			w.n++
			ts := w.base + int64(i)*w.step
			s := sent{tsMs: ts, bot: bot, contact: fmt.Sprintf("c%02d", c), agent: "ana", id: fmt.Sprintf("last-%05d", i)}
			batch = append(batch, attempt(s.id, s.bot, s.contact, s.agent, time.UnixMilli(ts)))
			meta = append(meta, s)
		}
	}
	w.k.produce(batch...)
	for j, r := range batch {
		meta[j].partition, meta[j].offset = r.Partition, r.Offset
	}
	w.log = append(w.log, meta...)
}

// check waits for a verdict of every attempt id and compares every verdict
// read (committed) with the model: no attempt counted twice, none without a
// verdict, no attempt id with two different verdicts.
func (w *workload) check(t *testing.T) (allowed, blocked int) {
	t.Helper()
	k := w.k
	want := model(w.log)
	// Wait for a verdict of every attempt of the model (the cluster may
	// hold verdicts of other attempts too, e.g. a test's quiet contacts).
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		k.mu.Lock()
		n := 0
		for id := range want {
			if len(k.verdicts[id]) > 0 {
				n++
			}
		}
		k.mu.Unlock()
		if n == len(want) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	var reemitted int
	missing := map[int32][]int64{}
	for _, s := range w.log {
		if _, ok := want[s.id]; ok && len(k.verdicts[s.id]) == 0 && !s.failed {
			missing[s.partition] = append(missing[s.partition], s.offset)
		}
	}
	for p, offs := range missing {
		t.Errorf("partition %d: %d attempts without a verdict, offsets %d..%d", p, len(offs), slices.Min(offs), slices.Max(offs))
	}
	for id, wv := range want {
		got := k.verdicts[id]
		if len(got) == 0 {
			continue
		}
		reemitted += len(got) - 1
		for n, raw := range got {
			v, err := events.DecodeVerdict(raw)
			if err != nil {
				t.Fatal(err)
			}
			if v.Outcome != wv.Outcome || v.Reason != wv.Reason || v.Used != wv.Used || v.Remaining != wv.Remaining ||
				v.RetryAt != wv.RetryAt || v.DecidedAt != wv.DecidedAt || v.SettingsVersion != wv.SettingsVersion {
				t.Errorf("attempt %s verdict #%d:\n got %+v\nwant %+v", id, n+1, v, wv)
			}
		}
		switch wv.Outcome {
		case events.Allowed:
			allowed++
		case events.Blocked:
			blocked++
		}
	}
	for id := range k.verdicts {
		if _, ok := want[id]; !ok && (w.ignore == "" || !strings.HasPrefix(id, w.ignore)) {
			t.Errorf("verdict for unknown attempt %s", id)
		}
	}
	t.Logf("%d records, %d attempt ids: allowed %d, blocked %d, verdicts read again (redeliveries) %d", len(w.log), len(want), allowed, blocked, reemitted)
	return allowed, blocked
}

// checkRule is check, failing the test when no attempt was allowed or none
// blocked.
func (w *workload) checkRule(t *testing.T) {
	t.Helper()
	if allowed, blocked := w.check(t); allowed == 0 || blocked == 0 {
		t.Fatalf("workload did not exercise the rule: allowed %d blocked %d", allowed, blocked)
	}
}

// crashWorkload produces total attempts (with redeliveries and send
// failures) while killing the processor with SIGKILL at least minKills
// times, then checks the attempts topic and every verdict against the
// model. On failure, with E2E_KEEP_DIR set, it writes there the log of
// every run (run-NN.log; E2E_LOG_LEVEL=debug adds each committed batch),
// the records as the model has them (sent.txt: partition, offset, id, key)
// and a copy of dataDir.
func crashWorkload(t *testing.T, k *cluster, dataDir string, total, minKills int, start func() *proc) {
	p := start()
	runs := []*proc{p}
	w := newWorkload(k)
	rng := rand.New(rand.NewPCG(3, 5))
	kills := 0
	for w.n < total {
		w.produce(min(100, total-w.n))
		if rng.IntN(10) == 0 || (kills < minKills && w.n >= (kills+1)*total/(minKills+1)) {
			time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
			p.kill()
			kills++
			p = start()
			runs = append(runs, p)
		}
	}
	w.checkLog(t)
	allowed, blocked := w.check(t)
	if t.Failed() {
		t.Logf("the last processor's log:\n%s", tail(p.stderr.String(), 60))
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	if dir := os.Getenv("E2E_KEEP_DIR"); dir != "" && t.Failed() {
		keep(t, dir, runs, w, dataDir)
	}
	t.Logf("%d kills", kills)
	if blocked == 0 || allowed == 0 || kills < minKills {
		t.Fatalf("workload did not exercise the rule: allowed %d blocked %d kills %d", allowed, blocked, kills)
	}
}

// checkLog compares the attempts topic with what its producer was
// acknowledged: every record at the offset its produce returned, and no
// other record. The model decides the records in that order; a broker
// that appended a producer's batch twice, or out of its order (it lost the
// producer's sequence state in a crash), makes the verdicts differ from
// the model while the processor decided exactly the log it was given.
func (w *workload) checkLog(t *testing.T) {
	t.Helper()
	type at struct {
		partition int32
		offset    int64
	}
	want := map[at]string{}
	for _, s := range w.log {
		want[at{s.partition, s.offset}] = s.id
	}
	var extra []string
	eachCommitted(t, w.k.addr, attemptsTopic, func(r *kgo.Record) {
		in, _ := events.DecodeInbound(r.Value)
		if w.ignore != "" && strings.HasPrefix(in.ID, w.ignore) {
			return
		}
		if id, ok := want[at{r.Partition, r.Offset}]; !ok || id != in.ID {
			extra = append(extra, fmt.Sprintf("%d/%d %s (acknowledged there: %q)", r.Partition, r.Offset, in.ID, id))
		}
	})
	if len(extra) > 0 {
		t.Errorf("the attempts topic holds %d records where its producer was not acknowledged for them (the broker appended a batch twice or out of order), e.g. %s",
			len(extra), strings.Join(extra[:min(len(extra), 5)], ", "))
	}
}

// keep writes the diagnostics of a failed crash workload to dir.
func keep(t *testing.T, dir string, runs []*proc, w *workload, dataDir string) {
	for i, p := range runs {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("run-%02d.log", i)), []byte(p.stderr.String()), 0o644); err != nil {
			t.Log(err)
		}
	}
	var b strings.Builder
	for _, s := range w.log {
		fmt.Fprintf(&b, "%d %d %s %s/%s\n", s.partition, s.offset, s.id, s.bot, s.contact)
	}
	if err := os.WriteFile(filepath.Join(dir, "sent.txt"), []byte(b.String()), 0o644); err != nil {
		t.Log(err)
	}
	if err := os.CopyFS(filepath.Join(dir, "data"), os.DirFS(dataDir)); err != nil {
		t.Log(err)
	}
	t.Logf("diagnostics kept in %s", dir)
}

// model decides the produced records as the contract says, partition by
// partition in offset order: the reference the processor must match.
func model(log []sent) map[string]events.Verdict {
	byPart := map[int32][]sent{}
	for _, s := range log {
		byPart[s.partition] = append(byPart[s.partition], s)
	}
	want := map[string]events.Verdict{}
	for _, recs := range byPart {
		slices.SortFunc(recs, func(a, b sent) int { return int(a.offset - b.offset) })
		hist := map[string][]quota.Send{}
		var hwm int64
		for _, s := range recs {
			t := max(s.tsMs, hwm)
			hwm = t
			key := s.bot + "/" + s.contact
			if s.failed {
				hist[key], _ = quota.Release(hist[key], s.released)
				continue
			}
			if _, dup := want[s.id]; dup {
				continue
			}
			st, ok := crashSettings[s.bot]
			if !ok {
				st = quota.Disabled()
			}
			// The reference keeps every send; it never forgets.
			var live []quota.Send
			for _, x := range hist[key] {
				if x.At <= t && t < x.At+st.WindowMs {
					live = append(live, x)
				}
			}
			d := quota.Decide(live, st, s.agent, "", t)
			if d.Outcome == quota.Allowed {
				hist[key] = append(hist[key], quota.Send{At: t, Agent: s.agent, Attempt: s.id})
			}
			want[s.id] = events.FromDecision(events.Inbound{ID: s.id, BotID: s.bot, ContactID: s.contact, AgentID: s.agent}, d, st, t)
		}
	}
	return want
}
