package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
)

// TestAnyPartitioner sends attempts for the same contacts through three
// partitioners: Kafka's default (murmur2), librdkafka's default (CRC32 of
// the key, as kcat and the confluent-kafka clients do) and a random one,
// and kills the processor with SIGKILL in the middle. Every record on
// another partition than its key's is forwarded there and decided there:
// exactly the limit is allowed per contact, every attempt id gets one
// verdict data, verdicts sit only on the key's partition, the quota API
// agrees, and every forwarded record exists exactly once, read committed,
// on its key's partition.
func TestAnyPartitioner(t *testing.T) {
	skipShort(t)
	const parts, contacts, perContact, limit = 8, 24, 6, 2
	k := newCluster(t, parts)
	k.publishSettings("bot", quota.Settings{Version: 1, Enabled: true, Max: limit, WindowMs: 86_400_000, Scope: quota.ScopeContact})
	dataDir := t.TempDir()
	p := startProc(t, dataDir, "--brokers", k.addr)

	// murmur2 is the cluster client's partitioner; the other two set the
	// partition themselves.
	manual, err := kgo.NewClient(kgo.SeedBrokers(k.addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer manual.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	keyPart := map[string]int32{} // the key's (murmur2) partition, learnt from a murmur2 produce
	type sentRec struct {
		id, contact string
		partition   int32
	}
	var sent []sentRec
	t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	n := 0
	for round := range perContact {
		for c := range contacts {
			contact := fmt.Sprintf("c%02d", c)
			id := fmt.Sprintf("att-%d-%s", round, contact)
			ts := t0.Add(time.Duration(n) * time.Millisecond)
			n++
			r := attempt(id, "bot", contact, "ana", ts)
			switch (round + c) % 3 {
			case 0:
				k.produce(r)
				keyPart[contact] = r.Partition
			case 1:
				r.Partition = int32(crc32.ChecksumIEEE(r.Key) % parts)
				if err := manual.ProduceSync(context.Background(), r).FirstErr(); err != nil {
					t.Fatal(err)
				}
			default:
				r.Partition = rng.Int32N(parts)
				if err := manual.ProduceSync(context.Background(), r).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			sent = append(sent, sentRec{id, contact, r.Partition})
		}
		if round == perContact/2 {
			time.Sleep(30 * time.Millisecond)
			p.kill()
			p = startProc(t, dataDir, "--brokers", k.addr)
		}
	}
	k.waitVerdicts(len(sent), time.Minute)

	// Verdicts: one data per attempt id, on the key's partition; exactly
	// the limit allowed per contact.
	verdictParts := readCommitted(t, k.addr, verdictsTopic)
	k.mu.Lock()
	defer k.mu.Unlock()
	allowed := map[string]int{}
	for _, s := range sent {
		vs := k.verdicts[s.id]
		if len(vs) == 0 {
			t.Errorf("%s: no verdict", s.id)
			continue
		}
		for _, raw := range vs[1:] {
			if string(raw) != string(vs[0]) {
				t.Errorf("%s: two different verdicts:\n%s\n%s", s.id, vs[0], raw)
			}
		}
		v, err := events.DecodeVerdict(vs[0])
		if err != nil {
			t.Fatal(err)
		}
		if v.Outcome == events.Allowed {
			allowed[s.contact]++
		}
	}
	for key, ps := range verdictParts {
		c := key[len("bot/"):]
		for p := range ps {
			if p != keyPart[c] {
				t.Errorf("a verdict of %s on partition %d, its key's is %d", key, p, keyPart[c])
			}
		}
	}
	for c := range contacts {
		contact := fmt.Sprintf("c%02d", c)
		if allowed[contact] != limit {
			t.Errorf("%s: %d allowed, want exactly %d", contact, allowed[contact], limit)
		}
		code, body := p.get(t, "/v1/bots/bot/contacts/"+url.PathEscape(contact)+"/quota")
		var q map[string]any
		if err := json.Unmarshal([]byte(body), &q); code != 200 || err != nil || q["used"] != float64(limit) {
			t.Errorf("quota of %s: %d %s, want used %d", contact, code, body, limit)
		}
	}

	// Attempts: every record that landed elsewhere exists exactly once on
	// its key's partition (forwarded, read committed), and nowhere else
	// more than where it was produced.
	attempts := readCommittedIDs(t, k.addr, attemptsTopic)
	forwarded := 0
	for _, s := range sent {
		want := keyPart[s.contact]
		if s.partition != want {
			forwarded++
			if got := attempts[s.id][want]; got != 1 {
				t.Errorf("%s (produced to partition %d): %d copies on its key's partition %d, want 1", s.id, s.partition, got, want)
			}
		}
	}
	t.Logf("%d attempts, %d on another partition than their key's", len(sent), forwarded)
	if forwarded == 0 {
		t.Fatal("nothing was forwarded: the test did not exercise forwarding")
	}
	if _, body := p.get(t, "/metrics"); !containsMetric(body, "sendgate_forwarded_records_total") || containsMetric(body, "sendgate_forwarded_records_total 0") {
		t.Errorf("sendgate_forwarded_records_total missing or 0 after forwarding")
	}
}

// containsMetric reports whether body has a line starting with sample
// (a metric name, or a name and value) followed by a space or its end.
func containsMetric(body, sample string) bool {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, sample); ok && (rest == "" || rest[0] == ' ') {
			return true
		}
	}
	return false
}

// readCommitted returns, per record key of topic, the partitions its
// records sit on, as a read_committed consumer sees them.
func readCommitted(t *testing.T, addr, topic string) map[string]map[int32]bool {
	t.Helper()
	out := map[string]map[int32]bool{}
	eachCommitted(t, addr, topic, func(r *kgo.Record) {
		if out[string(r.Key)] == nil {
			out[string(r.Key)] = map[int32]bool{}
		}
		out[string(r.Key)][r.Partition] = true
	})
	return out
}

// readCommittedIDs returns, per attempt id, how many records of it each
// partition of topic holds, read committed.
func readCommittedIDs(t *testing.T, addr, topic string) map[string]map[int32]int {
	t.Helper()
	out := map[string]map[int32]int{}
	eachCommitted(t, addr, topic, func(r *kgo.Record) {
		in, err := events.DecodeInbound(r.Value)
		if err != nil {
			t.Errorf("%s partition %d offset %d: %v", topic, r.Partition, r.Offset, err)
			return
		}
		if out[in.ID] == nil {
			out[in.ID] = map[int32]int{}
		}
		out[in.ID][r.Partition]++
	})
	return out
}

// eachCommitted calls fn with every record of topic, read committed, until
// a poll of 500 ms brings nothing.
func eachCommitted(t *testing.T, addr, topic string, fn func(*kgo.Record)) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for seen := 0; ; {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) { fn(r); n++ })
		seen += n
		if n == 0 && seen > 0 {
			return
		}
		if n == 0 && ctx.Err() != nil {
			return
		}
	}
}
