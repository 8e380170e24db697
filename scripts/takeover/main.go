// Command takeover measures how long the partitions of a processor killed
// with SIGKILL go without verdicts before the other instance of its group
// decides them, with or without standby copies (--standby-replicas):
//
//	go run ./scripts/takeover --contacts 1000000 --standby-replicas 1
//	go run ./scripts/takeover --contacts 1000000 --standby-replicas 0
//
// It builds the broker, processor and loadgen (without cgo, as the
// container image), starts the broker (cmd/broker) in its own process,
// processor A, fills the state with loadgen (--contacts attempts over as
// many contacts: 2 changelog records each), starts processor B (A keeps
// half the partitions), waits until B is ready and, with standbys, until
// its copies of A's partitions are at the changelog's end, then kills A.
// From the kill on it produces one attempt every 50 ms to each of A's
// partitions and reads the verdicts (read_committed). It prints, per
// moved partition, the gap from the kill to its first verdict, and B's
// resume plan with the changelog records it applied and the time it took;
// and when B's gauge sendgate_partitions_owned showed every partition (the
// new generation), which splits the gap into the group's part and B's.
// The gap is about the session timeout (the coordinator noticing A is
// gone), the rebalance, the fencing, and the catch-up.
//
// It is one file of about 400 lines on purpose: a measurement script read
// from top to bottom, in the order it runs the processes.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sendgate/sendgate/contract"
	"github.com/sendgate/sendgate/events"
)

func main() {
	contacts := flag.Int("contacts", 1_000_000, "contacts (and attempts) in the state before the kill")
	standbys := flag.Int("standby-replicas", 1, "the processors' --standby-replicas")
	session := flag.Duration("session-timeout", 6*time.Second, "the processors' --session-timeout")
	partitions := flag.Int("partitions", 8, "attempts partitions")
	keep := flag.Bool("keep", false, "keep the work directory (logs, data dirs)")
	flag.Parse()
	if err := run(*contacts, *standbys, *session, *partitions, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "takeover:", err)
		os.Exit(1)
	}
}

type proc struct {
	cmd  *exec.Cmd
	log  string
	http string
}

func run(contacts, standbys int, session time.Duration, partitions int, keep bool) error {
	tmp, err := os.MkdirTemp("", "sendgate-takeover")
	if err != nil {
		return err
	}
	if keep {
		fmt.Fprintln(os.Stderr, "work dir:", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	bin := filepath.Join(tmp, "bin")
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/processor", "./cmd/loadgen", "./cmd/broker")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	var procs []*exec.Cmd
	defer func() {
		for _, c := range procs {
			_ = c.Process.Kill()
			_, _ = c.Process.Wait()
		}
	}()
	start := func(name string, args ...string) (*exec.Cmd, string, error) {
		logPath := filepath.Join(tmp, name+".log")
		f, err := os.Create(logPath)
		if err != nil {
			return nil, "", err
		}
		c := exec.Command(filepath.Join(bin, args[0]), args[1:]...)
		c.Stdout, c.Stderr = f, f
		if err := c.Start(); err != nil {
			return nil, "", err
		}
		procs = append(procs, c)
		return c, logPath, nil
	}

	_, brokerLog, err := start("broker", "broker", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(tmp, "broker"),
		"--partitions", fmt.Sprint(partitions))
	if err != nil {
		return err
	}
	broker, err := waitLine(brokerLog, 10*time.Second, func(l string) (string, bool) { return strings.CutPrefix(l, "broker listening on ") })
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	processor := func(name string) (*proc, error) {
		c, logPath, err := start(name, "processor", "--data-dir", filepath.Join(tmp, name), "--brokers", broker,
			"--http-addr", "127.0.0.1:0", "--session-timeout", session.String(), "--standby-replicas", fmt.Sprint(standbys),
			"--partitions", fmt.Sprint(partitions), "--log-level", "info")
		if err != nil {
			return nil, err
		}
		p := &proc{cmd: c, log: logPath}
		p.http, err = waitLine(logPath, 30*time.Second, func(l string) (string, bool) {
			var line struct{ Message, HTTP string }
			ok := json.Unmarshal([]byte(l), &line) == nil && line.Message == "sendgate starting"
			return line.HTTP, ok
		})
		if err != nil {
			return nil, fmt.Errorf("processor %s: %w", name, err)
		}
		return p, waitFor(120*time.Second, func() bool { return ready(p) })
	}

	a, err := processor("a")
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "== filling the state: %d attempts over %d contacts\n", contacts, contacts)
	t0 := time.Now()
	fill := exec.Command(filepath.Join(bin, "loadgen"), "--brokers", broker, "--attempts", fmt.Sprint(contacts),
		"--contacts", fmt.Sprint(contacts), "--no-read-back", "--quiet", "--timeout", "300s")
	fill.Stdout, fill.Stderr = os.Stderr, os.Stderr
	if err := fill.Run(); err != nil {
		return fmt.Errorf("loadgen: %w", err)
	}
	fmt.Fprintf(os.Stderr, "   filled in %s\n", time.Since(t0).Round(time.Second))

	b, err := processor("b")
	if err != nil {
		return err
	}
	var mine []int
	if err := waitFor(120*time.Second, func() bool {
		mine = lastGeneration(a.log)
		return len(mine) == partitions/2 && ready(a) && ready(b)
	}); err != nil {
		return fmt.Errorf("waiting for instances A and B to share the partitions: %w", err)
	}
	if standbys > 0 {
		if err := waitFor(300*time.Second, func() bool {
			m := metrics(b)
			return m["sendgate_standby_partitions"] == float64(len(mine)) && m["sendgate_standby_lag"] == 0 && m["sendgate_standby_lag#series"] == float64(len(mine))
		}); err != nil {
			return fmt.Errorf("waiting for the standby copies on B to reach the changelog's end: %w", err)
		}
	}
	slices.Sort(mine)
	fmt.Fprintf(os.Stderr, "== A owns %v; B ready%s; killing A\n", mine, map[bool]string{true: ", its copies of A's partitions at the changelog's end"}[standbys > 0])

	// Probe keys on A's partitions (murmur2, as the processor routes).
	keys := map[int][]byte{}
	var bal kafka.Murmur2Balancer
	all := make([]int, partitions)
	for i := range all {
		all[i] = i
	}
	for i := 0; len(keys) < len(mine); i++ {
		k := []byte(fmt.Sprintf("probe/k%d", i))
		if p := bal.Balance(kafka.Message{Key: k}, all...); slices.Contains(mine, p) && keys[p] == nil {
			keys[p] = k
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics(contract.VerdictsTopic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	cl.PollFetches(ctx) // positions the consumer at the end before the kill
	cancel()

	killedLog := fileSize(b.log)
	if err := a.cmd.Process.Kill(); err != nil {
		return err
	}
	killed := time.Now()
	_, _ = a.cmd.Process.Wait()

	var mu sync.Mutex
	// When B's new generation gave it every partition (its gauge, polled).
	var owned time.Duration
	go func() {
		for deadline := killed.Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if metrics(b)["sendgate_partitions_owned"] == float64(partitions) {
				mu.Lock()
				owned = time.Since(killed)
				mu.Unlock()
				return
			}
		}
	}()
	first := map[int]time.Duration{}
	idPart := map[string]int{}
	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	go func() {
		for n := 0; ctx.Err() == nil; n++ {
			mu.Lock()
			done := len(first) == len(mine)
			mu.Unlock()
			if done {
				return
			}
			for p, k := range keys {
				id := fmt.Sprintf("probe-%d-%d", p, n)
				mu.Lock()
				idPart[id] = p
				mu.Unlock()
				now := time.Now()
				cl.Produce(ctx, &kgo.Record{Topic: contract.AttemptsTopic, Partition: int32(p), Key: k, Timestamp: now,
					Value: events.AppendAttempt(nil, id, "probe", string(k[len("probe/"):]), "ana", now.UnixMilli())}, nil)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	for {
		mu.Lock()
		done := len(first) == len(mine)
		mu.Unlock()
		if done || ctx.Err() != nil {
			break
		}
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			v, err := events.DecodeVerdict(r.Value)
			if err != nil {
				return
			}
			mu.Lock()
			if p, ok := idPart[v.AttemptID]; ok {
				if _, seen := first[p]; !seen {
					first[p] = time.Since(killed)
				}
			}
			mu.Unlock()
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if len(first) < len(mine) {
		return fmt.Errorf("only %d of A's %d partitions got a verdict within 2 minutes", len(first), len(mine))
	}

	plans := resumePlans(b.log, killedLog, partitions)
	fmt.Printf("takeover after SIGKILL: %d contacts, %d partitions, session timeout %s, --standby-replicas %d\n",
		contacts, partitions, session, standbys)
	fmt.Printf("B owns every partition %s after the kill (the session timeout, from A's last heartbeat, and the rebalance)\n", owned.Round(time.Millisecond))
	fmt.Printf("%-9s %-10s %-14s %-12s %10s %10s\n", "partition", "gap", "after owned", "plan", "records", "took")
	var gaps []time.Duration
	var took []float64
	for _, p := range mine {
		pl := plans[p]
		fmt.Printf("%-9d %-10s %-14s %-12s %10d %8.0fms\n", p, first[p].Round(time.Millisecond), (first[p] - owned).Round(time.Millisecond),
			pl.Plan, pl.Records, pl.Took)
		gaps = append(gaps, first[p])
		took = append(took, pl.Took)
	}
	fmt.Printf("gap (kill -> first verdict of a moved partition): %s .. %s; of which after B owned them (fencing, resume plan, catch-up, first batch): %s .. %s; B's restore or catch-up of a moved partition: up to %.0f ms\n",
		slices.Min(gaps).Round(time.Millisecond), slices.Max(gaps).Round(time.Millisecond),
		(slices.Min(gaps) - owned).Round(time.Millisecond), (slices.Max(gaps) - owned).Round(time.Millisecond), slices.Max(took))
	return nil
}

// plan is a worker's resume as B logged it.
type plan struct {
	Plan    string
	Records int
	Took    float64 // ms
}

// resumePlans reads B's log from offset on: the plan of each partition in
// the last generation that gave it every partition.
func resumePlans(path string, offset int64, partitions int) map[int]plan {
	out := map[int]plan{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	_, _ = f.Seek(offset, 0)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			Message    string
			Partitions []int
			Partition  int
			Plan, Role string
			Records    int
			Took       float64
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		switch {
		case l.Message == "consumer group generation" && len(l.Partitions) == partitions:
			clear(out)
		case l.Plan != "" && l.Role != "standby":
			out[l.Partition] = plan{Plan: l.Plan, Records: l.Records, Took: l.Took}
		}
	}
	return out
}

// lastGeneration returns the partitions of the last "consumer group
// generation" line of a processor's log.
func lastGeneration(path string) []int {
	raw, _ := os.ReadFile(path)
	var parts []int
	for _, l := range strings.Split(string(raw), "\n") {
		var line struct {
			Message    string
			Partitions []int
		}
		if json.Unmarshal([]byte(l), &line) == nil && line.Message == "consumer group generation" {
			parts = line.Partitions
		}
	}
	return parts
}

func ready(p *proc) bool {
	resp, err := http.Get("http://" + p.http + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// metrics returns the sum of each sendgate_ metric's series, and the number
// of series under name#series.
func metrics(p *proc) map[string]float64 {
	out := map[string]float64{}
	resp, err := http.Get("http://" + p.http + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "sendgate_") {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		name, _, _ = strings.Cut(name, "{")
		var v float64
		if _, err := fmt.Sscan(rest, &v); err == nil {
			out[name] += v
			out[name+"#series"]++
		}
	}
	return out
}

func waitLine(path string, d time.Duration, match func(string) (string, bool)) (string, error) {
	var found string
	err := waitFor(d, func() bool {
		raw, _ := os.ReadFile(path)
		for _, l := range strings.Split(string(raw), "\n") {
			if v, ok := match(l); ok {
				found = v
				return true
			}
		}
		return false
	})
	if err != nil {
		raw, _ := os.ReadFile(path)
		return "", fmt.Errorf("%w; its log:\n%s", err, raw)
	}
	return found, nil
}

func waitFor(d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
