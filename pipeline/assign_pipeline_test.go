package pipeline_test

import (
	"io"
	"slices"
	"testing"

	"github.com/rs/zerolog"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/internal/kafkatest"
	"github.com/sendgate/sendgate/pipeline"
	"github.com/sendgate/sendgate/quota"
)

// With three instances and StandbyReplicas=1, the group's assignment
// follows the copies and is sticky: when C stops, each of its partitions
// goes to an instance holding a copy of it, which resumes it from that copy
// (use-local or catch-up), never restoring it whole; when D joins, A and B
// keep partitions they had.
func TestAssignFollowsTheCopies(t *testing.T) {
	const parts = 6
	e := newEnv(t, parts)
	e.settings("bot1", limit(1, 3, day, quota.ScopeContact))
	logs := map[string]*kafkatest.LockedBuf{}
	start := func(name string) *instance {
		logs[name] = &kafkatest.LockedBuf{}
		return e.instanceWith(t.TempDir(), func(c *pipeline.Config) {
			c.StandbyReplicas = 1
			c.Logger = zerolog.New(io.MultiWriter(zerolog.NewTestWriter(t), logs[name])).Level(zerolog.InfoLevel)
		})
	}
	ph := e.phases(contactNames(60), base())
	send := func(phase string, want events.Outcome, used int) {
		t.Helper()
		ph.send(phase)
		ph.check(phase, want, used)
	}
	// owned returns the partitions of name's last generation, and the
	// resume plans its workers logged in it, by partition.
	owned := func(name string) ([]int, map[int]string) {
		var ps []int
		plans := map[int]string{}
		for _, l := range logLines(t, logs[name].Since(0)) {
			if l["message"] == "consumer group generation" {
				ps = ps[:0]
				if list, ok := l["partitions"].([]any); ok {
					for _, p := range list {
						ps = append(ps, int(p.(float64)))
					}
				}
				clear(plans)
				continue
			}
			if plan, _ := l["plan"].(string); plan != "" && l["role"] != "standby" {
				plans[int(l["partition"].(float64))] = plan
			}
		}
		slices.Sort(ps)
		return ps, plans
	}
	settled := func(what string, want map[*instance]float64) {
		t.Helper()
		e.waitFor(what, func() bool {
			for in, n := range want {
				if gauge(in.reg, "sendgate_partitions_owned") != n || !in.r.Ready() {
					return false
				}
			}
			return true
		})
	}

	// The three start before any traffic: each then holds the state of
	// its own partitions and of its standby copies only.
	a, b, c := start("A"), start("B"), start("C")
	settled("A, B and C own 2 each", map[*instance]float64{a: 2, b: 2, c: 2})
	e.waitFor("every member holds its standby copies", func() bool {
		return gauge(a.reg, "sendgate_standby_partitions") > 0 && gauge(b.reg, "sendgate_standby_partitions") > 0 &&
			gauge(c.reg, "sendgate_standby_partitions") > 0
	})
	send("p1", events.Allowed, 1)
	send("p2", events.Allowed, 2)

	// Every partition's standby copy reflects its changelog as far as its
	// owner's state does (two of the three stores at the furthest
	// position).
	e.waitFor("the standby copies at the changelog's end", func() bool {
		for p := range int32(parts) {
			var ends []int64
			for _, in := range []*instance{a, b, c} {
				pos, ok, err := in.st.Position(p)
				if err != nil {
					t.Fatal(err)
				}
				if ok && pos.ChangelogEnd > 0 {
					ends = append(ends, pos.ChangelogEnd)
				}
			}
			if len(ends) < 2 {
				return false
			}
			slices.Sort(ends)
			if ends[len(ends)-1] != ends[len(ends)-2] {
				return false
			}
		}
		return true
	})
	ofC, _ := owned("C")

	c.stop(t) // A and B take C's partitions over from their copies
	settled("A and B own 3 each", map[*instance]float64{a: 3, b: 3})
	send("p3", events.Allowed, 3)
	// A partition of A's or B's may move too, to the other's copy, when
	// balance leaves no room for a copy of C's otherwise (assign's swap).
	for _, name := range []string{"A", "B"} {
		ps, plans := owned(name)
		for _, p := range ps {
			switch plans[p] {
			case "use-local", "catch-up":
			default:
				t.Errorf("%s resumed partition %d (C's: %v) with plan %q, want use-local or catch-up", name, p, slices.Contains(ofC, p), plans[p])
			}
		}
		t.Logf("%s: partitions %v, plans %v", name, ps, plans)
	}

	// D joins without state: A and B give it one partition each, keeping
	// the rest.
	beforeA, _ := owned("A")
	beforeB, _ := owned("B")
	d := start("D")
	settled("A, B and D own 2 each", map[*instance]float64{a: 2, b: 2, d: 2})
	for name, before := range map[string][]int{"A": beforeA, "B": beforeB} {
		ps, _ := owned(name)
		for _, p := range ps {
			if !slices.Contains(before, p) {
				t.Errorf("D's join gave %s partition %d (it had %v, now %v)", name, p, before, ps)
			}
		}
	}
	send("p4", events.Blocked, 3)
	d.stop(t)
	a.stop(t)
	b.stop(t)
}
