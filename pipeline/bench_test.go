package pipeline

import (
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
	"github.com/sendgate/sendgate/state"
)

// BenchmarkDecideCommit measures the processor's core without Kafka: decode
// each attempt, apply the rule over its contact's history, encode the
// verdict, and commit state + offset in one synced Pebble batch per 4096
// records (20,000 contacts per partition, limit 3, 24 h window, as the load
// test). partitions=N runs N partition workers at once, as the processor
// does; decisions/s is their sum.
func BenchmarkDecideCommit(b *testing.B) {
	one := quota.Settings{Version: 1, Enabled: true, Max: 3, WindowMs: 86_400_000}
	for _, parts := range []int{1, 2} {
		b.Run(fmt.Sprintf("partitions=%d", parts), func(b *testing.B) { benchDecideCommit(b, parts, one, "") })
	}
	// The same workload under 10 rules (the default one and 9 more:
	// rolling and calendar ones, per category, per agent, a shadow one),
	// attempts of category marketing: the bound is 2× rules=1.
	ten := tenRules()
	b.Run("partitions=1/rules=1", func(b *testing.B) { benchDecideCommit(b, 1, one, "marketing") })
	b.Run("partitions=1/rules=10", func(b *testing.B) { benchDecideCommit(b, 1, ten, "marketing") })
}

// tenRules returns settings with the default rule (3 per day) and 9 more.
func tenRules() quota.Settings {
	ny, _ := time.LoadLocation("America/New_York")
	sp, _ := time.LoadLocation("America/Sao_Paulo")
	s := quota.Settings{Version: 1, Enabled: true, Max: 3, WindowMs: 86_400_000, Exempt: []string{"authentication"}}
	s.Rules = []quota.Rule{
		{Name: "hourly", Max: 2, WindowMs: 3_600_000},
		{Name: "weekly", Max: 5, WindowMs: 7 * 86_400_000},
		{Name: "monthly-rolling", Max: 20, WindowMs: 30 * 86_400_000},
		{Name: "per-agent", Max: 2, WindowMs: 86_400_000, Scope: quota.ScopeAgentContact},
		{Name: "daily-sp", Max: 1, Calendar: quota.Day, Zone: sp, Categories: []string{"marketing"}},
		{Name: "weekly-ny", Max: 4, Calendar: quota.Week, Zone: ny},
		{Name: "month-ny", Max: 10, Calendar: quota.Month, Zone: ny},
		{Name: "utility", Max: 9, WindowMs: 86_400_000, Categories: []string{"utility"}},
		{Name: "trial", Max: 1, WindowMs: 86_400_000, Shadow: true},
	}
	return s
}

func benchDecideCommit(b *testing.B, parts int, s quota.Settings, category string) {
	st, err := state.Open(b.TempDir(), state.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	deps := testDeciderDeps(st, s, 24*time.Hour)
	const batch, contacts = 4096, 20_000
	t0 := time.Now().Add(-time.Hour).UnixMilli()
	per := b.N / parts
	// Records are made before the clock starts.
	inputs := make([][][]record, parts)
	for p := range parts {
		for n := 0; n < per; n += batch {
			recs := make([]record, min(batch, per-n))
			for i := range recs {
				c := (n + i) % contacts
				contact := fmt.Sprintf("c%d-%d", p, c)
				recs[i] = record{Offset: int64(n + i), TimeMs: t0 + int64(n+i),
					Key:   []byte("bot/" + contact),
					Value: events.AppendAttemptCategory(nil, fmt.Sprintf("att-%d-%d", p, n+i), "bot", contact, "ana", category, t0)}
			}
			inputs[p] = append(inputs[p], recs)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU(b)
	var wg sync.WaitGroup
	for p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			part := &partition{dec: newDecider(deps, int32(p), 1<<18)}
			pos := state.Position{}
			for _, recs := range inputs[p] {
				w, out, err := part.dec.decideBatch(recs, pos, 0, time.Now().UnixMilli())
				if err != nil {
					b.Error(err)
					return
				}
				out.finish()
				bt := st.NewBatch()
				sweepMax := part.dec.sweep.plan(len(recs), w.hwm, 1024)
				delta, swept, err := w.write(bt, int32(p), part.dec.sweep.cursor, sweepMax)
				if err != nil {
					b.Error(err)
					return
				}
				if err := bt.CommitNoSync(); err != nil {
					b.Error(err)
					return
				}
				part.dec.sweep.done(len(recs), w.hwm, sweepMax, swept.Next, swept.Earliest, delta.earliest)
				part.dec.committed(w)
				pos = state.Position{Offset: w.next, HWM: w.hwm}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(per*parts)/b.Elapsed().Seconds(), "decisions/s")
	// The process's CPU, Pebble's background flushes and compactions
	// included: what the processor pays per decision, whatever the
	// machine's other load does to the wall time.
	b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/float64(per*parts), "cpu-ns/op")
}

// processCPU is the user and system CPU time the process used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// testDeciderDeps are a decider's dependencies without a Runner: store st,
// settings s for every bot, no partitions known (nothing is forwarded),
// topics "attempts", "verdicts" and "dlq".
func testDeciderDeps(st *state.Store, s quota.Settings, retention time.Duration) deciderDeps {
	return deciderDeps{store: st, settings: func(string) quota.Settings { return s },
		partitions: func(string) []int { return nil }, metrics: newMetrics(prometheus.NewRegistry()), log: zerolog.Nop(),
		cfg: deciderConfig{attemptsTopic: "attempts", verdictsTopic: "verdicts", dlqTopic: "dlq", retentionMs: retention.Milliseconds()}}
}
