package pipeline

import (
	"fmt"
	"math"
	"strconv"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestSweeper runs testdata/sweep: the expiry sweep's schedule, batch after
// batch. A batch command is one committed batch:
//
//	batch n=N now=T [kept=E] [next=more|end] [written=W]
//
// n records at decision time T; when the sweeper plans a sweep, it is
// taken to have kept entries expiring at E or later (none: no kept=) and to
// have stopped before the partition's end (next=more) or reached it
// (next=end, the default); the batch wrote entries expiring at W or later
// (none: no written=). It prints how many entries the sweep examines and
// the sweeper's state after the batch. The step is 100 entries.
func TestSweeper(t *testing.T) {
	s := newSweeper()
	datadriven.RunTest(t, "testdata/sweep", func(t *testing.T, td *datadriven.TestData) string {
		switch td.Cmd {
		case "reset":
			s = newSweeper()
			return ""
		case "batch":
			var n int
			var now int64
			td.ScanArgs(t, "n", &n)
			td.ScanArgs(t, "now", &now)
			kept, written := optTime(t, td, "kept"), optTime(t, td, "written")
			examined := s.plan(n, now, 100)
			var next []byte
			if td.HasArg("next") {
				var v string
				td.ScanArgs(t, "next", &v)
				if v == "more" {
					next = []byte("cursor")
				}
			}
			if examined == 0 {
				next, kept = nil, math.MaxInt64 // no sweep ran
			}
			s.done(n, now, examined, next, kept, written)
			return fmt.Sprintf("examine=%d debt=%d cursor=%s pass-min=%s rest-until=%s\n",
				examined, s.debt, cursorName(s.cursor), timeName(s.passMin), timeName(s.restUntil))
		}
		td.Fatalf(t, "unknown command %s", td.Cmd)
		return ""
	})
}

func optTime(t *testing.T, td *datadriven.TestData, key string) int64 {
	if !td.HasArg(key) {
		return math.MaxInt64
	}
	var v int64
	td.ScanArgs(t, key, &v)
	return v
}

func cursorName(c []byte) string {
	if c == nil {
		return "start"
	}
	return "more"
}

func timeName(t int64) string {
	switch t {
	case math.MaxInt64:
		return "none"
	case 0:
		return "unknown"
	}
	return strconv.FormatInt(t, 10)
}
