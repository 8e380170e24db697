package loadgen

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// logEntry is one record of the attempts topic as the processor reads it.
type logEntry struct {
	offset int64
	tsMs   int64
	rec    int32 // index into plan.recs; -1 for another producer's record
}

// readBack reads every attempts partition from the record before from (the
// partition's decision time before the run, when producers stamp in order)
// up to end, and returns each partition's records in offset order, tagged
// with the plan's records.
func readBack(ctx context.Context, cfg *Config, from, end map[int32]int64, p *plan) (map[int32][]logEntry, error) {
	ours := map[int32]map[int64]int32{}
	for j := range p.recs {
		r := &p.recs[j]
		if r.err != nil {
			continue
		}
		if ours[r.partition] == nil {
			ours[r.partition] = map[int64]int32{}
		}
		ours[r.partition][r.offset] = int32(j)
	}
	offsets := map[int32]kgo.Offset{}
	todo := map[int32]bool{}
	for part, e := range end {
		start := max(from[part]-1, 0)
		if start < e {
			offsets[part] = kgo.NewOffset().At(start)
			todo[part] = true
		}
	}
	out := map[int32][]logEntry{}
	if len(offsets) == 0 {
		return out, nil
	}
	cl, err := readCommitted(cfg.Brokers, cfg.AttemptsTopic, offsets)
	if err != nil {
		return nil, fmt.Errorf("loadgen: read-back client: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, max(cfg.Timeout, 30*time.Second))
	defer cancel()
	found := 0
	want := 0
	for _, m := range ours {
		want += len(m)
	}
	for len(todo) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("loadgen: reading %s back: %d of %d partitions not read to their end, %d of %d records found: %w",
				cfg.AttemptsTopic, len(todo), len(end), found, want, ctx.Err())
		}
		var ferr error
		fs.EachError(func(_ string, part int32, err error) { ferr = fmt.Errorf("partition %d: %w", part, err) })
		if ferr != nil {
			return nil, fmt.Errorf("loadgen: reading %s back: %w", cfg.AttemptsTopic, ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			e := logEntry{offset: r.Offset, tsMs: r.Timestamp.UnixMilli(), rec: -1}
			if j, ok := ours[r.Partition][r.Offset]; ok {
				e.rec = j
				found++
			}
			out[r.Partition] = append(out[r.Partition], e)
			if r.Offset+1 >= end[r.Partition] {
				delete(todo, r.Partition)
			}
		})
		// Control records (other producers' transactions) are never
		// returned: once all of ours are found, stop when nothing comes.
		if found == want && fs.NumRecords() == 0 {
			break
		}
	}
	if found != want {
		return nil, fmt.Errorf("loadgen: reading %s back: %d of the %d published records not found", cfg.AttemptsTopic, want-found, want)
	}
	return out, nil
}

// progress prints a line every second once the run has lasted a few.
type progress struct {
	w        io.Writer
	since    func() int64
	total    int64
	expected int64
	produced *atomic.Int64 // records
	attempts *atomic.Int64 // attempt records (send failures get no verdict)
	verdicts *atomic.Int64
}

func (pr *progress) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastP, lastV int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p, v := pr.produced.Load(), pr.verdicts.Load()
		if s := float64(pr.since()) / 1e9; s >= 2.5 {
			fmt.Fprintf(pr.w, "%6.0fs  produced %d/%d (%d/s)  verdicts %d/%d (%d/s)  awaiting their verdict %d\n",
				s, p, pr.total, p-lastP, v, pr.expected, v-lastV, max(pr.attempts.Load()-v, 0))
		}
		lastP, lastV = p, v
	}
}
