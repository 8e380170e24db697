package pipeline

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
	"github.com/sendgate/sendgate/state"
)

// BenchmarkDecideCommit measures the processor's core without Kafka: decode
// each attempt, apply the rule over its contact's history from Pebble, encode
// the verdict, and commit state + offset in one synced Pebble batch per
// 4096 records (20,000 contacts, limit 3, 24 h window, as the load test).
func BenchmarkDecideCommit(b *testing.B) {
	st, err := state.Open(b.TempDir(), state.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	r, err := New(Config{Brokers: []string{"unused:9092"}}, st, prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	r.settings.load("bot", state.BotSettings{Settings: quota.Settings{Version: 1, Enabled: true, Max: 3, WindowMs: 86_400_000}, Floor: 1})
	const batch, contacts = 4096, 20_000
	t0 := time.Now().Add(-time.Hour).UnixMilli()
	recs := make([]record, batch)
	p := newPartition(r, 0, 1<<18)
	if err := p.dec.loadFilter(); err != nil {
		b.Fatal(err)
	}
	pos := state.Position{}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for n < b.N {
		for i := range recs {
			c := (n + i) % contacts
			recs[i] = record{Offset: pos.Offset + int64(i), TimeMs: t0 + int64(n+i),
				Key:   []byte(fmt.Sprintf("bot/c%d", c)),
				Value: events.AppendAttempt(nil, fmt.Sprintf("att-%d", n+i), "bot", fmt.Sprintf("c%d", c), "ana", t0)}
		}
		b.StartTimer()
		w, out, err := p.dec.decideBatch(recs, pos, 0, time.Now().UnixMilli())
		if err != nil {
			b.Fatal(err)
		}
		out.finish()
		bt := st.NewBatch()
		if _, err := w.write(bt, 0, 4096); err != nil {
			b.Fatal(err)
		}
		if err := bt.Commit(); err != nil {
			b.Fatal(err)
		}
		bt.Close()
		p.dec.committed(w)
		b.StopTimer()
		pos = state.Position{Offset: w.next, HWM: w.hwm}
		n += batch
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "decisions/s")
}
