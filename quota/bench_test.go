package quota_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sendgate/sendgate/quota"
)

const (
	day  = int64(86_400_000)
	base = int64(1_795_651_200_000) // 2026-11-26T00:00:00Z
)

// history returns n sends, one a minute from base, by agents taking turns.
func history(n int, agents ...string) []quota.Send {
	sends := make([]quota.Send, 0, n+1)
	for i := range n {
		sends = quota.Record(sends, quota.Send{At: base + int64(i)*60_000, Agent: agents[i%len(agents)], Attempt: fmt.Sprint("att-", i)})
	}
	return sends
}

func settings(limit int, scope quota.Scope) quota.Settings {
	return quota.Settings{Version: 1, Enabled: true, Max: limit, WindowMs: day, Scope: scope}
}

// TestNoAllocs checks that deciding, querying and maintaining a history with
// spare capacity do not allocate.
func TestNoAllocs(t *testing.T) {
	now := base + day/2
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"Decide/contact", func() { quota.Decide(history3, settings(3, quota.ScopeContact), "ana", "", now) }},
		{"Decide/agent_contact", func() { quota.Decide(history3, settings(3, quota.ScopeAgentContact), "ana", "", now) }},
		{"Decide/last-allowed", func() { quota.Decide(history3, settings(4, quota.ScopeContact), "ana", "", now) }},
		{"Decide/disabled", func() { quota.Decide(history3, quota.Disabled(), "ana", "", now) }},
		{"Usage", func() { quota.Usage(history3, settings(2, quota.ScopeAgentContact), "ana", "", now) }},
		{"Record+Release+Expire", func() {
			h := make([]quota.Send, 3, 8)
			copy(h, history3)
			h = quota.Record(h, quota.Send{At: now, Agent: "ana", Attempt: "x"})
			h = quota.Record(h, quota.Send{At: base, Agent: "bob", Attempt: "y"})
			h, _ = quota.Release(h, "x")
			quota.Expire(h, day, now+day-1)
		}},
	} {
		if n := testing.AllocsPerRun(100, tc.f); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", tc.name, n)
		}
	}
}

var history3 = history(3, "ana", "bob")

var sink quota.Decision

// BenchmarkDecide decides one attempt against a history of n live sends; the
// typical case is sends=3 with limit 3 (blocked).
func BenchmarkDecide(b *testing.B) {
	for _, bc := range []struct {
		sends, limit int
	}{{0, 3}, {3, 3}, {100, 1000}, {1000, 1000}} {
		for _, scope := range []quota.Scope{quota.ScopeContact, quota.ScopeAgentContact} {
			// Under agent_contact a quarter of the sends are the deciding
			// agent's, the rest are scanned and skipped.
			h := history(bc.sends, "ana", "bob", "cid", "dan")
			s := settings(bc.limit, scope)
			now := base + day - 1 // every send is live
			b.Run(fmt.Sprintf("%s/sends=%d/limit=%d", scope, bc.sends, bc.limit), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					sink = quota.Decide(h, s, "ana", "", now)
				}
			})
		}
	}
}

// BenchmarkRecordExpire is the history maintenance of one allowed send in a
// steady state of 3 live sends: expire what left the window, record the new
// send.
func BenchmarkRecordExpire(b *testing.B) {
	b.ReportAllocs()
	h := make([]quota.Send, 0, 8)
	step := day / 3
	now := base
	for b.Loop() {
		now += step
		h = quota.Expire(h, day, now)
		h = quota.Record(h, quota.Send{At: now, Agent: "ana", Attempt: "att"})
	}
	if len(h) != 3 {
		b.Fatalf("steady state of %d sends, want 3", len(h))
	}
}

// BenchmarkDecideRules decides one attempt of a bot with 10 rules (the
// default one and 9 more: rolling and calendar ones in two zones, some for
// one category, one shadow) against a history of 3 live sends, next to the
// same bot with the default rule alone. The target: at most 2× the
// single-rule decision in the pipeline's decision (BenchmarkDecideCommit).
func BenchmarkDecideRules(b *testing.B) {
	ny, _ := time.LoadLocation("America/New_York")
	sp, _ := time.LoadLocation("America/Sao_Paulo")
	ten := settings(3, quota.ScopeContact)
	ten.Rules = []quota.Rule{
		{Name: "hourly", Max: 2, WindowMs: 3_600_000},
		{Name: "weekly", Max: 5, WindowMs: 7 * day},
		{Name: "monthly-rolling", Max: 20, WindowMs: 30 * day},
		{Name: "per-agent", Max: 2, WindowMs: day, Scope: quota.ScopeAgentContact},
		{Name: "daily-sp", Max: 1, Calendar: quota.Day, Zone: sp, Categories: []string{"marketing"}},
		{Name: "weekly-ny", Max: 4, Calendar: quota.Week, Zone: ny},
		{Name: "month-ny", Max: 10, Calendar: quota.Month, Zone: ny},
		{Name: "utility", Max: 9, WindowMs: day, Categories: []string{"utility"}},
		{Name: "trial", Max: 1, WindowMs: day, Shadow: true},
	}
	h := history(3, "ana", "bob")
	for i := range h {
		h[i].Category = []string{"marketing", "utility", ""}[i%3]
	}
	now := base + day/2
	for _, bc := range []struct {
		name string
		s    quota.Settings
	}{{"rules=1", settings(3, quota.ScopeContact)}, {"rules=10", ten}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink = quota.Decide(h, bc.s, "ana", "marketing", now)
			}
		})
	}
}
