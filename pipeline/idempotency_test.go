package pipeline

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
	"github.com/sendgate/sendgate/state"
)

// TestIdempotencyDataDriven runs testdata/idempotency: one partition's
// records decided with the real decider and store, cut into batches in
// several ways and with the expiry sweep run at different moments. Every
// way must publish byte-identical verdicts (the output shows them once):
// whether an attempt id is still remembered depends only on decision times.
//
//	settings max=N window=D [retention=D]
//	decide
//	<id> <contact> <time>         an attempt at T0+time (a Go duration)
//	fill <n> <time>               n attempts of new ids and contacts at T0+time
//
// The output lists each verdict of the non-fill attempts: id, decision
// time, outcome, reason, used.
func TestIdempotencyDataDriven(t *testing.T) {
	var settings quota.Settings
	retention := 24 * time.Hour
	runData(t, "testdata/idempotency", map[string]dataCmd{
		"settings": func(t *testing.T, td *datadriven.TestData) string {
			var max int
			var window, ret string
			td.ScanArgs(t, "max", &max)
			td.ScanArgs(t, "window", &window)
			w, err := time.ParseDuration(window)
			if err != nil {
				td.Fatalf(t, "window: %v", err)
			}
			retention = 24 * time.Hour
			if td.HasArg("retention") {
				td.ScanArgs(t, "retention", &ret)
				if retention, err = time.ParseDuration(ret); err != nil {
					td.Fatalf(t, "retention: %v", err)
				}
			}
			settings = quota.Settings{Version: 1, Enabled: true, Max: max, WindowMs: w.Milliseconds()}
			return ""
		},
		"decide": func(t *testing.T, td *datadriven.TestData) string {
			recs, show := parseRecords(t, td)
			var first, firstRaw string
			for _, batch := range []int{1, 7, 1000, len(recs)} {
				for _, sweep := range []bool{false, true} {
					got, raw := decideAll(t, recs, show, settings, retention, batch, sweep)
					if first == "" {
						first, firstRaw = got, raw
					} else if raw != firstRaw {
						t.Fatalf("batches of %d, sweep %v: verdicts differ:\n%s\nfrom the first way's:\n%s", batch, sweep, got, first)
					}
				}
			}
			return first
		},
	})
}

var idemT0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

func parseRecords(t *testing.T, td *datadriven.TestData) ([]record, map[int64]bool) {
	var recs []record
	show := map[int64]bool{}
	for _, line := range strings.Split(strings.TrimSpace(td.Input), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "fill":
			n, err := strconv.Atoi(f[1])
			if err != nil {
				td.Fatalf(t, "%s: %v", line, err)
			}
			at := idemT0 + dur(t, td, f[2])
			for i := range n {
				c := fmt.Sprintf("fill-%d-%d", len(recs), i)
				recs = append(recs, record{Offset: int64(len(recs)), TimeMs: at, Key: []byte("bot/" + c),
					Value: events.AppendAttempt(nil, "id-"+c, "bot", c, "ana", at)})
			}
		case len(f) == 3:
			at := idemT0 + dur(t, td, f[2])
			show[int64(len(recs))] = true
			recs = append(recs, record{Offset: int64(len(recs)), TimeMs: at, Key: []byte("bot/" + f[1]),
				Value: events.AppendAttempt(nil, f[0], "bot", f[1], "ana", at)})
		default:
			td.Fatalf(t, "bad record line %q", line)
		}
	}
	return recs, show
}

func dur(t *testing.T, td *datadriven.TestData, s string) int64 {
	d, err := time.ParseDuration(s)
	if err != nil {
		td.Fatalf(t, "%q: %v", s, err)
	}
	return d.Milliseconds()
}

// decideAll decides recs in batches of batch records, sweeping every
// expired entry before each batch (sweep) or never, and returns the
// verdicts of the records in show, one line each, and every verdict's bytes.
func decideAll(t *testing.T, recs []record, show map[int64]bool, s quota.Settings, retention time.Duration, batch int, sweep bool) (string, string) {
	st, err := state.Open(t.TempDir(), state.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d := newDecider(testDeciderDeps(st, s, retention), 0, 1<<16)
	var pos state.Position
	var b, raw strings.Builder
	now := idemT0 + (400 * 24 * time.Hour).Milliseconds() // no future clamp
	for i := 0; i < len(recs); i += batch {
		part := recs[i:min(i+batch, len(recs))]
		w, out, err := d.decideBatch(part, pos, 0, now)
		if err != nil {
			t.Fatal(err)
		}
		out.finish()
		bt := st.NewBatch()
		sweepMax := 0
		if sweep {
			sweepMax = 1 << 30
		}
		_, swept, err := w.write(bt, 0, d.sweep.cursor, sweepMax)
		if err != nil {
			t.Fatal(err)
		}
		if err := bt.CommitNoSync(); err != nil {
			t.Fatal(err)
		}
		d.sweep.cursor = swept.Next
		d.committed(w)
		pos = state.Position{Offset: w.next, HWM: w.hwm}
		// Every record is a valid attempt: one verdict each, in order.
		if len(out.msgs) != len(part) {
			t.Fatalf("%d messages for %d attempts", len(out.msgs), len(part))
		}
		for j, m := range out.msgs {
			raw.Write(m.Value)
			raw.WriteByte('\n')
			if !show[part[j].Offset] {
				continue
			}
			v, err := events.DecodeVerdict(m.Value)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s @%s: %s %s used=%d\n", v.AttemptID, time.Duration(v.DecidedAt-idemT0)*time.Millisecond, v.Outcome, v.Reason, v.Used)
		}
	}
	return b.String(), raw.String()
}
