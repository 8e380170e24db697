package quota_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/sendgate/sendgate/quota"
)

// checkDecision checks the invariants of a Decision taken at now that hold
// whatever the history: consistent outcome and reason, Remaining, and RetryAt
// set exactly when enabled with nothing remaining, later than now, with
// RetryAfterSeconds rounded up.
func checkDecision(d quota.Decision, now int64) error {
	switch {
	case d.Outcome == quota.Allowed && d.Reason == quota.LimitDisabled:
		if d.Enabled || d.Limit != 0 || d.Remaining != 0 {
			return errors.New("disabled decision with enabled, limit or remaining set")
		}
	case d.Outcome == quota.Allowed && d.Reason == quota.Exempt:
		if !d.Enabled || d.Limit != 0 || d.Remaining != 0 || d.RetryAt != 0 || d.Rule != "" || d.Rules != nil {
			return errors.New("exempt decision with limit, remaining, retry_at or rules set")
		}
		return nil
	case d.Outcome == quota.Allowed && d.Reason == quota.WithinLimit,
		d.Outcome == quota.Blocked && d.Reason == quota.LimitReached:
		if !d.Enabled {
			return fmt.Errorf("%s/%s while disabled", d.Outcome, d.Reason)
		}
		if d.Remaining != max(d.Limit-d.Used, 0) {
			return fmt.Errorf("remaining %d, want max(%d-%d, 0)", d.Remaining, d.Limit, d.Used)
		}
		if d.Outcome == quota.Allowed && d.Used > d.Limit || d.Outcome == quota.Blocked && d.Used < d.Limit {
			return fmt.Errorf("%s with used %d and limit %d", d.Outcome, d.Used, d.Limit)
		}
	default:
		return fmt.Errorf("outcome %s with reason %s", d.Outcome, d.Reason)
	}
	if want := d.Enabled && d.Remaining == 0; (d.RetryAt != 0) != want {
		return fmt.Errorf("retry_at %d with enabled=%t remaining=%d", d.RetryAt, d.Enabled, d.Remaining)
	}
	if d.RetryAt == 0 {
		if d.RetryAfterSeconds != 0 {
			return errors.New("retry_after without retry_at")
		}
		return nil
	}
	if d.RetryAt <= now {
		return fmt.Errorf("retry_at %d not after decision time %d", d.RetryAt, now)
	}
	if want := int64(math.Ceil(float64(d.RetryAt-now) / 1000)); d.RetryAfterSeconds != want {
		return fmt.Errorf("retry_after %d s for %d ms, want %d", d.RetryAfterSeconds, d.RetryAt-now, want)
	}
	return nil
}

// model is a brute-force reference for one contact, written from the contract
// without looking at the package: it keeps every allowed attempt forever,
// marks failures and expiries, and sorts from scratch for every question.
type model struct {
	sends []*modelSend
}

type modelSend struct {
	at        int64
	agent, id string
	epoch     int  // settings epoch the send was allowed in
	enabled   bool // whether the limit was enabled then
	failed    bool // released by a failure
	forgotten bool // dropped by an expiry
}

// times returns the ascending decision times of the sends counted at instant
// d for the scope key of agent.
func (m *model) times(s quota.Settings, agent string, d int64) []int64 {
	var ts []int64
	for _, x := range m.sends {
		if x.failed || x.forgotten {
			continue
		}
		if s.Scope == quota.ScopeAgentContact && x.agent != agent {
			continue
		}
		if x.at <= d && d < x.at+s.WindowMs {
			ts = append(ts, x.at)
		}
	}
	slices.Sort(ts)
	return ts
}

func (m *model) decide(s quota.Settings, agent string, now int64) quota.Decision {
	t := m.times(s, agent, now)
	n := len(t)
	if !s.Enabled {
		return quota.Decision{Outcome: quota.Allowed, Reason: quota.LimitDisabled, Used: n + 1, Scope: s.Scope, WindowMs: s.WindowMs}
	}
	d := quota.Decision{Enabled: true, Limit: s.Max, Scope: s.Scope, WindowMs: s.WindowMs}
	var retryAt int64
	if n >= s.Max {
		d.Outcome, d.Reason, d.Used = quota.Blocked, quota.LimitReached, n
		retryAt = t[n-s.Max] + s.WindowMs
	} else {
		d.Outcome, d.Reason, d.Used = quota.Allowed, quota.WithinLimit, n+1
		d.Remaining = s.Max - d.Used
		if d.Remaining == 0 {
			t2 := append(slices.Clone(t), now)
			slices.Sort(t2)
			retryAt = t2[n+1-s.Max] + s.WindowMs
		}
	}
	if retryAt != 0 {
		d.RetryAt = retryAt
		d.RetryAfterSeconds = (retryAt - now + 999) / 1000
	}
	return d
}

func (m *model) usage(s quota.Settings, agent string, at int64) quota.Decision {
	t := m.times(s, agent, at)
	n := len(t)
	if !s.Enabled {
		return quota.Decision{Outcome: quota.Allowed, Reason: quota.LimitDisabled, Used: n, Scope: s.Scope, WindowMs: s.WindowMs}
	}
	d := quota.Decision{Enabled: true, Limit: s.Max, Used: n, Outcome: quota.Allowed, Reason: quota.WithinLimit, Scope: s.Scope, WindowMs: s.WindowMs}
	if n < s.Max {
		d.Remaining = s.Max - n
		return d
	}
	d.Outcome, d.Reason = quota.Blocked, quota.LimitReached
	d.RetryAt = t[n-s.Max] + s.WindowMs
	d.RetryAfterSeconds = (d.RetryAt - at + 999) / 1000
	return d
}

func (m *model) fail(id string) bool {
	for _, x := range m.sends {
		if x.id == id && !x.failed && !x.forgotten {
			x.failed = true
			return true
		}
	}
	return false
}

func (m *model) expire(windowMs, now int64) {
	for _, x := range m.sends {
		if x.at+windowMs <= now {
			x.forgotten = true
		}
	}
}

// checkNeverOverLimit checks the rule itself on everything a stream allowed:
// for every settings epoch with the limit enabled and every scope key, no
// window [a, a+window) holds more than Max sends allowed in that epoch and not
// failed.
func checkNeverOverLimit(t *testing.T, m *model, epochs []quota.Settings) {
	t.Helper()
	for e, s := range epochs {
		if !s.Enabled {
			continue
		}
		keys := map[string][]int64{}
		for _, x := range m.sends {
			if x.epoch != e || x.failed {
				continue
			}
			if !x.enabled {
				t.Fatalf("epoch %d: send %s recorded as disabled", e, x.id)
			}
			k := ""
			if s.Scope == quota.ScopeAgentContact {
				k = x.agent
			}
			keys[k] = append(keys[k], x.at)
		}
		for k, ts := range keys {
			for _, a := range ts {
				n := 0
				for _, b := range ts {
					if a <= b && b < a+s.WindowMs {
						n++
					}
				}
				if n > s.Max {
					t.Fatalf("epoch %d %+v key %q: %d sends in [%d, %d+window)", e, s, k, n, a, a)
				}
			}
		}
	}
}

// TestModel runs random streams of attempts, failures, expiries, queries and
// settings changes against the package and the model.
func TestModel(t *testing.T) {
	streams := 300
	if testing.Short() {
		streams = 30
	}
	var st streamStats
	for seed := range uint64(streams) {
		runStream(t, seed, &st)
		if t.Failed() {
			return
		}
	}
	t.Logf("%+v", st)
	// The streams must reach the interesting cases, or they prove little.
	if st.Blocked == 0 || st.LastAllowed == 0 || st.Disabled == 0 || st.Released == 0 ||
		st.AtRetryAt == 0 || st.BeforeRetryAt == 0 || st.Lowered == 0 {
		t.Fatalf("streams miss cases: %+v", st)
	}
}

// streamStats counts what the random streams exercised.
type streamStats struct {
	Decisions, Blocked, LastAllowed, Disabled int
	Released, Expired, Usages, Settings       int
	AtRetryAt, BeforeRetryAt                  int // decisions landing on retry_at or 1 ms before
	Lowered                                   int // blocks with used > limit
}

var (
	agents  = []string{"ana", "bob", "cid"}
	windows = []int64{60_000, 61_000, 90_000, 120_000}
	maxes   = []int{1, 1, 2, 3, 3, 5, 8}
)

func randomSettings(rng *rand.Rand, version int64) quota.Settings {
	s := quota.Settings{
		Version:  version,
		Enabled:  rng.IntN(5) != 0,
		Max:      maxes[rng.IntN(len(maxes))],
		WindowMs: windows[rng.IntN(len(windows))],
		Scope:    quota.Scope(rng.IntN(2)),
	}
	if err := s.Validate(); err != nil {
		panic(err)
	}
	return s
}

func runStream(t *testing.T, seed uint64, st *streamStats) {
	rng := rand.New(rand.NewPCG(seed, 42))
	now := int64(1_795_000_000_000) // 2026-11-18
	s := randomSettings(rng, 1)
	epochs := []quota.Settings{s}
	var (
		h       []quota.Send
		m       model
		ids     []string
		targets []int64 // retry_at instants seen, to land on exactly
	)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d at %d, settings %+v: %s", seed, now, s, fmt.Sprintf(format, args...))
	}
	for step := range 400 {
		// Advance the clock, non-decreasing like the pipeline's decision time;
		// often land exactly on or just before a retry_at seen earlier.
		switch r := rng.IntN(10); {
		case r < 3 && len(targets) > 0:
			if at := targets[rng.IntN(len(targets))] - rng.Int64N(2); at > now {
				now = at
			}
		case r < 5:
			now += rng.Int64N(3)
		case r < 8:
			now += rng.Int64N(s.WindowMs / 4)
		default:
			now += rng.Int64N(2 * s.WindowMs)
		}

		switch r := rng.IntN(100); {
		case r < 4: // settings change
			s = randomSettings(rng, s.Version+1)
			epochs = append(epochs, s)
			st.Settings++

		case r < 14: // failure of a known (maybe already released) or unknown attempt
			id := "unknown"
			if len(ids) > 0 && rng.IntN(5) != 0 {
				id = ids[rng.IntN(len(ids))]
			}
			var ok bool
			h, ok = quota.Release(h, id)
			if want := m.fail(id); ok != want {
				fail("Release(%s) = %t, model %t", id, ok, want)
			}
			if ok {
				st.Released++
			}

		case r < 20: // the pipeline expires the history with the current window
			h = quota.Expire(h, s.WindowMs, now)
			m.expire(s.WindowMs, now)
			st.Expired++

		case r < 28: // quota query, at now or in the past
			at := now - rng.Int64N(2*s.WindowMs)
			if rng.IntN(2) == 0 {
				at = now
			}
			agent := agents[rng.IntN(len(agents))]
			got, want := quota.Usage(h, s, agent, "", at), m.usage(s, agent, at)
			if !reflect.DeepEqual(got, want) {
				fail("Usage(%s, %d) = %+v, model %+v", agent, at, got, want)
			}
			if err := checkDecision(got, at); err != nil {
				fail("Usage: %v", err)
			}
			st.Usages++

		default: // attempt
			agent := agents[rng.IntN(len(agents))]
			d := quota.Decide(h, s, agent, "", now)
			if want := m.decide(s, agent, now); !reflect.DeepEqual(d, want) {
				fail("Decide(%s) = %+v, model %+v", agent, d, want)
			}
			if err := checkDecision(d, now); err != nil {
				fail("Decide: %v", err)
			}
			st.Decisions++
			switch {
			case d.Reason == quota.LimitDisabled:
				st.Disabled++
			case d.Outcome == quota.Blocked:
				st.Blocked++
				if d.Used > d.Limit {
					st.Lowered++
				}
			case d.RetryAt != 0:
				st.LastAllowed++
			}
			if slices.Contains(targets, now) {
				st.AtRetryAt++
			}
			if slices.Contains(targets, now+1) {
				st.BeforeRetryAt++
			}
			if d.Outcome == quota.Allowed {
				id := fmt.Sprintf("s%d-%d", seed, step)
				h = quota.Record(h, quota.Send{At: now, Agent: agent, Attempt: id})
				m.sends = append(m.sends, &modelSend{at: now, agent: agent, id: id, epoch: len(epochs) - 1, enabled: s.Enabled})
				ids = append(ids, id)
			}
			if d.RetryAt != 0 {
				// Exactness: with nothing else changing, the same scope key is
				// blocked one millisecond before retry_at and allowed at it.
				if b := quota.Decide(h, s, agent, "", d.RetryAt-1); b.Outcome != quota.Blocked {
					fail("Decide at retry_at-1 = %+v after %+v", b, d)
				}
				if a := quota.Decide(h, s, agent, "", d.RetryAt); a.Outcome != quota.Allowed {
					fail("Decide at retry_at = %+v after %+v", a, d)
				}
				if b := m.decide(s, agent, d.RetryAt-1); b.Outcome != quota.Blocked {
					fail("model at retry_at-1 = %+v after %+v", b, d)
				}
				if a := m.decide(s, agent, d.RetryAt); a.Outcome != quota.Allowed {
					fail("model at retry_at = %+v after %+v", a, d)
				}
				targets = append(targets, d.RetryAt)
			}
		}
		if !slices.IsSortedFunc(h, func(a, b quota.Send) int { return int(a.At - b.At) }) {
			fail("history not ascending")
		}
	}
	checkNeverOverLimit(t, &m, epochs)
}

// TestCapKeepsDecisionsExact floods one contact with more than MaxPerAgent
// sends per agent while the limit is disabled, then checks that every
// decision after enabling it matches the model, which forgets nothing.
func TestCapKeepsDecisionsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	now := int64(1_795_000_000_000)
	var s quota.Settings // recorded while disabled; enabled per case below
	var (
		h []quota.Send
		m model
	)
	for i := range 5000 {
		agent := agents[rng.IntN(2)] // ana and bob only
		if i%2 == 0 {
			agent = "ana" // ana gets well over MaxPerAgent
		}
		now += rng.Int64N(16_000)
		id := fmt.Sprint(i)
		h = quota.Record(h, quota.Send{At: now, Agent: agent, Attempt: id})
		m.sends = append(m.sends, &modelSend{at: now, agent: agent, id: id})
	}
	counts := map[string]int{}
	for _, x := range h {
		counts[x.Agent]++
	}
	if counts["ana"] != quota.MaxPerAgent || counts["bob"] != quota.MaxPerAgent {
		t.Fatalf("kept per agent: %v", counts)
	}
	for _, scope := range []quota.Scope{quota.ScopeContact, quota.ScopeAgentContact} {
		for _, limit := range []int{1, 2, 3, 500, 999, 1000} {
			s = quota.Settings{Version: 1, Enabled: true, Max: limit, WindowMs: 86_400_000, Scope: scope}
			for _, agent := range agents {
				for _, at := range []int64{now, now + 1, now + 3_600_000, now + 20_000_000} {
					got, want := quota.Decide(h, s, agent, "", at), m.decide(s, agent, at)
					if got.Used > quota.MaxPerAgent && scope == quota.ScopeAgentContact {
						t.Fatalf("agent scope used %d above the cap", got.Used)
					}
					// Used saturates; every other field is exact.
					got.Used, want.Used = 0, 0
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("%s max=%d %s at %d: %+v, model %+v", scope, limit, agent, at, got, want)
					}
				}
			}
		}
	}
}
