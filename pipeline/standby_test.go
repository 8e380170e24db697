package pipeline_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/internal/kafkatest"
	"github.com/sendgate/sendgate/pipeline"
	"github.com/sendgate/sendgate/quota"
)

// With StandbyReplicas=1 and two instances, each keeps a warm copy of the
// other's partitions: its local state follows their changelog to its end
// while the owner decides. When A stops, B takes A's partitions over from
// its copies, applying only the tail (here: nothing, A having stopped after
// its last commit), never restoring them whole; every verdict stays exact.
func TestStandbyTakeover(t *testing.T) {
	e := newEnv(t, 4)
	e.settings("bot1", limit(1, 3, day, quota.ScopeContact))
	var logB kafkatest.LockedBuf
	standbys := func(logs io.Writer) func(*pipeline.Config) {
		return func(c *pipeline.Config) {
			c.StandbyReplicas = 1
			if logs != nil {
				c.Logger = zerolog.New(io.MultiWriter(zerolog.NewTestWriter(t), logs)).Level(zerolog.InfoLevel)
			}
		}
	}
	ph := e.phases(contactNames(40), base())
	send, check := ph.send, ph.check

	a := e.instanceWith(t.TempDir(), standbys(nil))
	e.waitFor("A ready", a.r.Ready)
	send("p1")
	check("p1", events.Allowed, 1)

	b := e.instanceWith(t.TempDir(), standbys(&logB))
	e.waitFor("B ready", b.r.Ready)
	e.waitFor("two partitions each", func() bool {
		return gauge(a.reg, "sendgate_partitions_owned") == 2 && gauge(b.reg, "sendgate_partitions_owned") == 2 && a.r.Ready()
	})
	e.waitFor("A and B hold two standby copies each", func() bool {
		return gauge(a.reg, "sendgate_standby_partitions") == 2 && gauge(b.reg, "sendgate_standby_partitions") == 2
	})
	send("p2")
	check("p2", events.Allowed, 2)

	// Each partition's copy reflects its changelog as far as its owner's
	// state does: the owner's ChangelogEnd is the changelog's end.
	var behind string
	defer func() {
		if behind != "" {
			t.Logf("behind the changelog's end:%s", behind)
		}
	}()
	e.waitFor("the standby copies at the changelog's end", func() bool {
		behind = ""
		for p := range int32(4) {
			pa, okA, errA := a.st.Position(p)
			pb, okB, errB := b.st.Position(p)
			if errA != nil || errB != nil {
				t.Fatal(errA, errB)
			}
			if !okA || !okB || pa.ChangelogEnd != pb.ChangelogEnd || pa.Offset != pb.Offset {
				behind += fmt.Sprintf(" partition %d: A %+v, B %+v;", p, pa, pb)
			}
		}
		if lag := gauge(b.reg, "sendgate_standby_lag"); behind == "" && lag != 0 {
			behind = fmt.Sprintf(" B's standby lag %v", lag) // set just after the commit
		}
		return behind == ""
	})
	if n := counter(b.reg, "sendgate_changelog_applied_records_total", "by", "standby"); n == 0 {
		t.Fatal("B applied no changelog record to its standby copies")
	}
	restoredBefore := counter(b.reg, "sendgate_changelog_applied_records_total", "by", "restore")
	logsBefore := logB.Len()

	a.stop(t) // B takes A's partitions over
	e.waitFor("B owns every partition", func() bool { return gauge(b.reg, "sendgate_partitions_owned") == 4 && b.r.Ready() })
	send("p3")
	check("p3", events.Allowed, 3)
	send("p4")
	check("p4", events.Blocked, 3)

	// How B resumed each partition in the generation that gave it all four
	// (a graceful stop may go through a generation where A still has
	// some): from its local state (its copies, for A's), with at most a
	// tail to apply.
	plans := map[string]int{}
	caughtUp := 0
	for _, l := range logLines(t, logB.Since(logsBefore)) {
		if parts, ok := l["partitions"].([]any); ok && l["message"] == "consumer group generation" {
			if len(parts) == 4 {
				clear(plans)
				caughtUp = 0
			}
			continue
		}
		plan, _ := l["plan"].(string)
		if plan == "" || l["role"] == "standby" {
			continue
		}
		plans[plan]++
		if n, ok := l["records"].(float64); ok {
			caughtUp += int(n)
		}
	}
	if plans["use-local"]+plans["catch-up"] != 4 || len(plans) > 2 {
		t.Fatalf("B resumed the partitions with plans %v, want use-local or catch-up for all 4", plans)
	}
	if restored := counter(b.reg, "sendgate_changelog_applied_records_total", "by", "restore") - restoredBefore; restored > 8 || caughtUp > 8 {
		t.Fatalf("the takeover applied %v changelog records (%d logged), want only a tail", restored, caughtUp)
	}
	t.Logf("takeover plans %v, %d changelog records caught up", plans, caughtUp)
	b.stop(t)

	e.sameVerdicts()
}

// logLines decodes JSON log lines.
func logLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

// gauge returns the sum of a gauge's series in reg (0: none).
func gauge(reg *prometheus.Registry, name string) float64 {
	return metricSum(reg, name, "", "")
}

// counter returns the sum of a counter's series in reg whose label has
// value (label "": every series).
func counter(reg *prometheus.Registry, name, label, value string) float64 {
	return metricSum(reg, name, label, value)
}

func metricSum(reg *prometheus.Registry, name, label, value string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == label && l.GetValue() == value }) {
				continue
			}
			switch {
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
