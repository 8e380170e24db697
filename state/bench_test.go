package state

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/sendgate/sendgate/quota"
)

// BenchmarkCommit commits batches of 1000 decisions as the pipeline does, on
// a real directory with fsync: a Sweep of 2000 entries first, its cursor
// carried from batch to batch, then per decision a history of 3 sends and a
// ~120-byte verdict, then the position. The window is 50 batches long, so in
// steady state each Sweep deletes about as much as a batch writes.
func BenchmarkCommit(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const (
		perBatch = 1000
		contacts = 200_000
		stepMs   = 1000 // decision time advance per batch
		window   = 50 * stepMs
	)
	verdict := []byte(`{"verdict":"allowed","reason":"within_limit","limit":3,"used":2,"remaining":1,"window_seconds":86400,"settings_version":42}`)
	names := make([]string, contacts)
	for i := range names {
		names[i] = fmt.Sprintf("55319%08d@wa", i)
	}
	sends := make([]quota.Send, 3)
	ids := make([]string, perBatch)
	for i := range ids {
		ids[i] = fmt.Sprintf("att-%012d", i)
	}
	// Unique attempt ids for 100 batches, reused after that: an id comes
	// back only after its verdict expired (the window is 50 batches).
	attempts := make([]string, 100*perBatch)
	for i := range attempts {
		attempts[i] = fmt.Sprintf("att-%012d", i)
	}
	now := int64(1_795_000_000_000)
	c := 0
	var expired int
	var cursor []byte
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		now += stepMs
		bt := s.NewBatch()
		sw, err := bt.Sweep(0, now, cursor, 2*perBatch)
		next, h, v := sw.Next, sw.Histories, sw.Verdicts
		if err != nil {
			b.Fatal(err)
		}
		cursor = next
		expired += h + v
		for j := 0; j < perBatch; j++ {
			contact := names[c%contacts]
			c++
			for k := range sends {
				sends[k] = quota.Send{At: now - int64(2-k)*300, Agent: "ana@acme", Attempt: ids[(j+k)%perBatch]}
			}
			bt.PutHistory(0, "support@bots", contact, sends, now+window)
			bt.PutVerdict(0, attempts[(i%100)*perBatch+j], verdict, now+window)
		}
		bt.PutPosition(0, Position{Offset: int64((i + 1) * perBatch), HWM: now})
		if err := bt.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(b.N*perBatch)/elapsed.Seconds(), "decisions/s")
	b.ReportMetric(float64(expired)/float64(b.N), "expired/op")
}

// historyFixture is a store with historyContacts contacts of 3 sends each,
// built once per test binary run.
var historyFixture struct {
	once  sync.Once
	dir   string
	s     *Store
	names []string
	err   error
}

const historyContacts = 1_000_000

func loadHistories(b *testing.B) (*Store, []string) {
	f := &historyFixture
	f.once.Do(func() {
		start := time.Now()
		f.dir, f.err = os.MkdirTemp("", "state-bench-")
		if f.err != nil {
			return
		}
		f.s, f.err = Open(f.dir, Options{})
		if f.err != nil {
			return
		}
		f.names = make([]string, historyContacts)
		sends := make([]quota.Send, 3)
		bt := f.s.NewBatch()
		for i := range f.names {
			f.names[i] = fmt.Sprintf("55319%08d@wa", i)
			for k := range sends {
				sends[k] = quota.Send{At: 1_795_000_000_000 + int64(i+k*1000), Agent: "ana@acme", Attempt: fmt.Sprintf("att-%d-%d", i, k)}
			}
			bt.PutHistory(int32(i%8), botNames[i%100], f.names[i], sends, 1_795_086_400_000+int64(i))
			if bt.Len() >= 20_000 {
				if f.err = bt.Commit(); f.err != nil {
					return
				}
				bt = f.s.NewBatch()
			}
		}
		if f.err = bt.Commit(); f.err != nil {
			return
		}
		// Reads come from a settled LSM (sstables, not the memtable).
		if f.err = f.s.db.Flush(); f.err != nil {
			return
		}
		if f.err = f.s.db.Compact(context.Background(), []byte{0}, []byte{kindEnd}, true); f.err != nil {
			return
		}
		fmt.Fprintf(os.Stderr, "loaded %d histories in %v\n", historyContacts, time.Since(start).Round(time.Millisecond))
	})
	if f.err != nil {
		b.Fatal(f.err)
	}
	return f.s, f.names
}

func TestMain(m *testing.M) {
	code := m.Run()
	if f := &historyFixture; f.s != nil {
		f.s.Close()
		os.RemoveAll(f.dir)
	}
	os.Exit(code)
}

// BenchmarkHistoryGet reads random histories of 3 sends out of 1,000,000
// contacts, reusing dst.
func BenchmarkHistoryGet(b *testing.B) { benchHistoryGet(b, 0, 3) }

// BenchmarkHistoryGetMiss looks up contacts that have no history.
func BenchmarkHistoryGetMiss(b *testing.B) { benchHistoryGet(b, 1, 0) }

// benchHistoryGet reads the histories of random loaded contacts under the
// bot botShift places after the one that sent to them, each of which must
// hold want sends.
func benchHistoryGet(b *testing.B, botShift, want int) {
	s, names := loadHistories(b)
	rng := rand.New(rand.NewPCG(1, 2))
	var dst []quota.Send
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := rng.IntN(len(names))
		var err error
		dst, err = s.History(int32(j%8), botNames[(j+botShift)%100], names[j], dst)
		if err != nil || len(dst) != want {
			b.Fatalf("History = %v, %v", dst, err)
		}
	}
}

var botNames = func() []string {
	n := make([]string, 100)
	for i := range n {
		n[i] = fmt.Sprintf("bot-%d", i)
	}
	return n
}()
