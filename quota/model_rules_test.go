package quota_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sendgate/sendgate/quota"
)

// ruleModel is a brute-force reference for bots with rules, written from the
// contract's "Several rules" section without looking at the package: it
// keeps every recorded send forever, decides calendar membership by comparing
// local dates, finds a period's end by searching for the first instant whose
// local date differs, and evaluates every rule from scratch.
type ruleModel struct {
	sends []quota.Send // recorded, not released; in decision order
}

// periodKey names the calendar period of instant t: local date, ISO week or
// month.
func periodKey(c quota.Calendar, zone *time.Location, t int64) string {
	lt := time.UnixMilli(t).In(zone)
	switch c {
	case quota.Week:
		y, w := lt.ISOWeek()
		return fmt.Sprintf("%d-W%d", y, w)
	case quota.Month:
		return lt.Format("2006-01")
	}
	return lt.Format("2006-01-02")
}

// periodEnd is the first instant after t in another period: found by hour
// steps, then a binary search to the millisecond.
func periodEnd(c quota.Calendar, zone *time.Location, t int64) int64 {
	key := periodKey(c, zone, t)
	lo, hi := t, t+3_600_000
	for periodKey(c, zone, hi) == key {
		lo, hi = hi, hi+3_600_000
	}
	for hi-lo > 1 { // lo in the period, hi not
		m := lo + (hi-lo)/2
		if periodKey(c, zone, m) == key {
			lo = m
		} else {
			hi = m
		}
	}
	return hi
}

func zoneOf(r quota.Rule) *time.Location {
	if r.Zone == nil {
		return time.UTC
	}
	return r.Zone
}

func inList(l []string, c string) bool { return slices.Contains(l, c) }

// counted returns the ascending times of the sends counting for rule r for
// an attempt of agent at d.
func (m *ruleModel) counted(r quota.Rule, agent string, d int64) []int64 {
	var ts []int64
	for _, x := range m.sends {
		if x.At > d || r.Categories != nil && !inList(r.Categories, x.Category) ||
			r.Scope == quota.ScopeAgentContact && x.Agent != agent {
			continue
		}
		if r.Calendar == quota.Rolling && d < x.At+r.WindowMs ||
			r.Calendar != quota.Rolling && periodKey(r.Calendar, zoneOf(r), x.At) == periodKey(r.Calendar, zoneOf(r), d) {
			ts = append(ts, x.At)
		}
	}
	slices.Sort(ts)
	return ts
}

// evaluate is the contract's decision (count) or quota answer (!count) for a
// bot with rules whose limit is enabled.
func (m *ruleModel) evaluate(s quota.Settings, agent, category string, d int64, count bool) quota.Decision {
	def := quota.Rule{Name: "default", Max: s.Max, WindowMs: s.WindowMs, Scope: s.Scope}
	if inList(s.Exempt, category) {
		return quota.Decision{Outcome: quota.Allowed, Reason: quota.Exempt, Enabled: true,
			Used: len(m.counted(def, agent, d)), Scope: s.Scope, WindowMs: s.WindowMs}
	}
	var rules []quota.Rule
	for _, r := range append([]quota.Rule{def}, s.Rules...) {
		if r.Categories == nil || inList(r.Categories, category) {
			rules = append(rules, r)
		}
	}
	times := make([][]int64, len(rules))
	blocked := false
	for i, r := range rules {
		times[i] = m.counted(r, agent, d)
		if !r.Shadow && len(times[i]) >= r.Max {
			blocked = true
		}
	}
	dec := quota.Decision{Enabled: true, Outcome: quota.Allowed, Reason: quota.WithinLimit}
	if blocked {
		dec.Outcome, dec.Reason = quota.Blocked, quota.LimitReached
	}
	for i, r := range rules {
		n := len(times[i])
		t := times[i]
		if count && !blocked {
			t = append(slices.Clone(t), d)
		}
		u := quota.RuleUsage{Name: r.Name, Shadow: r.Shadow, Limit: r.Max, Used: len(t), Remaining: max(r.Max-len(t), 0),
			WouldBlock: r.Shadow && n >= r.Max}
		if u.Remaining == 0 {
			if r.Calendar == quota.Rolling {
				u.RetryAt = t[len(t)-r.Max] + r.WindowMs
			} else {
				u.RetryAt = periodEnd(r.Calendar, zoneOf(r), d)
			}
		}
		dec.Rules = append(dec.Rules, u)
	}
	// The binding rule, by the contract's order of preference.
	bind := -1
	for i, r := range rules {
		if r.Shadow {
			continue
		}
		u := dec.Rules[i]
		if blocked && len(times[i]) < r.Max {
			continue // only blocking rules bind a block
		}
		if bind < 0 {
			bind = i
			continue
		}
		b := dec.Rules[bind]
		switch {
		case blocked && u.RetryAt > b.RetryAt,
			!blocked && u.Remaining < b.Remaining,
			!blocked && u.Remaining == 0 && b.Remaining == 0 && u.RetryAt > b.RetryAt:
			bind = i
		}
	}
	r, u := rules[bind], dec.Rules[bind]
	dec.Rule, dec.Limit, dec.Used, dec.Remaining, dec.Scope = r.Name, u.Limit, u.Used, u.Remaining, r.Scope
	if r.Calendar == quota.Rolling {
		dec.WindowMs = r.WindowMs
	} else {
		dec.Calendar, dec.Zone = r.Calendar, zoneOf(r)
	}
	if u.Remaining == 0 {
		for i, r := range rules {
			if !r.Shadow && dec.Rules[i].Remaining == 0 {
				dec.RetryAt = max(dec.RetryAt, dec.Rules[i].RetryAt)
			}
		}
		dec.RetryAfterSeconds = (dec.RetryAt - d + 999) / 1000
	}
	if len(s.Rules) == 0 && len(s.Exempt) == 0 {
		// The default rule alone: the verdicts of a single limit.
		dec.Rule, dec.Rules = "", nil
	}
	return dec
}

var (
	modelZones = []string{"UTC", "America/New_York", "America/Sao_Paulo", "Asia/Kolkata"}
	categories = []string{"", "marketing", "utility", "authentication"}
)

// randomRules returns valid settings with 0..4 rules and maybe an exemption.
func randomRules(rng *rand.Rand, version int64) quota.Settings {
	s := quota.Settings{Version: version, Enabled: true, Max: 1 + rng.IntN(5),
		WindowMs: []int64{3_600_000, 86_400_000, 7 * 86_400_000}[rng.IntN(3)], Scope: quota.Scope(rng.IntN(2))}
	for i := range rng.IntN(5) {
		r := quota.Rule{Name: fmt.Sprintf("r%d", i), Max: 1 + rng.IntN(4), Scope: quota.Scope(rng.IntN(2)), Shadow: rng.IntN(4) == 0}
		if rng.IntN(2) == 0 {
			r.WindowMs = []int64{60_000, 3_600_000, 86_400_000, 7 * 86_400_000}[rng.IntN(4)]
		} else {
			r.Calendar = quota.Calendar(1 + rng.IntN(3))
			if z := rng.IntN(len(modelZones) + 1); z < len(modelZones) {
				r.Zone, _ = time.LoadLocation(modelZones[z])
			}
		}
		switch rng.IntN(3) {
		case 0:
			r.Categories = []string{"marketing"}
		case 1:
			r.Categories = []string{"utility", "marketing"}
		}
		s.Rules = append(s.Rules, r)
	}
	if rng.IntN(3) == 0 {
		s.Exempt = []string{"authentication"}
	}
	if err := s.Validate(); err != nil {
		panic(err)
	}
	return s
}

// TestRulesAgainstModel runs random streams of attempts, failures, expiries,
// quota queries and settings changes against the reference, over the 2026
// daylight saving time changes of New York, and compares every decision
// whole.
func TestRulesAgainstModel(t *testing.T) {
	starts := []int64{
		time.Date(2026, 3, 6, 0, 0, 0, 0, time.UTC).UnixMilli(),   // New York's spring night
		time.Date(2026, 10, 29, 0, 0, 0, 0, time.UTC).UnixMilli(), // New York's autumn night
		time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC).UnixMilli(), // a week and a month boundary
	}
	agents := []string{"ana", "bob"}
	seeds := 300
	if testing.Short() {
		seeds = 30
	}
	var decisions, blocks, shadows int
	for seed := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(seed, 7))
		now := starts[int(seed)%len(starts)]
		s := randomRules(rng, 1)
		var h []quota.Send
		var m ruleModel
		var ids []string
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("seed %d at %s, settings %+v: %s", seed, time.UnixMilli(now).UTC().Format(time.RFC3339Nano), s, fmt.Sprintf(format, args...))
		}
		for step := range 150 {
			switch r := rng.IntN(10); {
			case r < 3:
				now += rng.Int64N(3)
			case r < 8:
				now += rng.Int64N(3 * 3_600_000)
			default:
				now += rng.Int64N(2 * 86_400_000)
			}
			agent, category := agents[rng.IntN(len(agents))], categories[rng.IntN(len(categories))]
			switch r := rng.IntN(100); {
			case r < 3:
				s = randomRules(rng, s.Version+1)
			case r < 10 && len(ids) > 0:
				id := ids[rng.IntN(len(ids))]
				h, _ = quota.Release(h, id)
				m.sends = slices.DeleteFunc(m.sends, func(x quota.Send) bool { return x.Attempt == id })
			case r < 25:
				at := now - rng.Int64N(3_600_000)
				if rng.IntN(2) == 0 {
					at = now
				}
				got, want := quota.Usage(h, s, agent, category, at), m.evaluate(s, agent, category, at, false)
				if !reflect.DeepEqual(got, want) {
					fail("Usage(%s, %q) =\n%+v, model\n%+v", agent, category, got, want)
				}
			default:
				// The pipeline expires with the horizon before deciding; the
				// contract lets sends that had left every window in force
				// be forgotten, and so does the model.
				h = quota.Expire(h, s.HorizonMs(), now)
				m.sends = slices.DeleteFunc(m.sends, func(x quota.Send) bool { return x.At+s.HorizonMs() <= now })
				got, want := quota.Decide(h, s, agent, category, now), m.evaluate(s, agent, category, now, true)
				if !reflect.DeepEqual(got, want) {
					fail("Decide(%s, %q) =\n%+v, model\n%+v", agent, category, got, want)
				}
				if err := checkDecision(got, now); err != nil {
					fail("Decide: %v", err)
				}
				decisions++
				for _, u := range got.Rules {
					if u.WouldBlock {
						shadows++
					}
				}
				switch {
				case got.Outcome == quota.Blocked:
					blocks++
				case got.Reason != quota.Exempt:
					id := fmt.Sprintf("a%d", step)
					x := quota.Send{At: now, Agent: agent, Attempt: id, Category: category}
					h = quota.Record(h, x)
					m.sends = append(m.sends, x)
					ids = append(ids, id)
				}
			}
		}
	}
	// The streams must exercise what they check.
	if decisions < 1000 || blocks < 100 || shadows < 10 {
		t.Fatalf("too little exercised: %d decisions, %d blocks, %d shadow would-blocks", decisions, blocks, shadows)
	}
	t.Logf("%d decisions, %d blocked, %d shadow would-blocks", decisions, blocks, shadows)
}
