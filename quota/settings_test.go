package quota_test

import (
	"testing"

	"github.com/sendgate/sendgate/quota"
)

func TestValidate(t *testing.T) {
	ok := quota.Settings{Version: 42, Enabled: true, Max: 3, WindowMs: 86_400_000}
	for _, tc := range []struct {
		name string
		edit func(*quota.Settings)
		err  string
	}{
		{"valid", func(*quota.Settings) {}, ""},
		{"disabled default", func(s *quota.Settings) { *s = quota.Disabled() }, ""},
		{"disabled without max", func(s *quota.Settings) { s.Enabled, s.Max = false, 0 }, ""},
		{"enabled without max", func(s *quota.Settings) { s.Max = 0 }, "quota: max 0 out of range 1..1000"},
		{"max 1000", func(s *quota.Settings) { s.Max = 1000 }, ""},
		{"max 1001", func(s *quota.Settings) { s.Max = 1001 }, "quota: max 1001 out of range 1..1000"},
		{"disabled max out of range", func(s *quota.Settings) { s.Enabled, s.Max = false, -1 }, "quota: max -1 out of range 1..1000"},
		{"window 60 s", func(s *quota.Settings) { s.WindowMs = 60_000 }, ""},
		{"window 59 s", func(s *quota.Settings) { s.WindowMs = 59_000 }, "quota: window 59 s out of range 60..2592000"},
		{"window 30 days", func(s *quota.Settings) { s.WindowMs = 2_592_000_000 }, ""},
		{"window 30 days + 1 s", func(s *quota.Settings) { s.WindowMs = 2_592_001_000 }, "quota: window 2592001 s out of range 60..2592000"},
		{"window not whole seconds", func(s *quota.Settings) { s.WindowMs = 60_500 }, "quota: window 60500 ms is not a whole number of seconds"},
		{"scope", func(s *quota.Settings) { s.Scope = 7 }, "quota: unknown scope scope(7)"},
		{"version", func(s *quota.Settings) { s.Version = -1 }, "quota: version -1 is negative"},
	} {
		s := ok
		tc.edit(&s)
		err := s.Validate()
		if got := errString(err); got != tc.err {
			t.Errorf("%s: Validate() = %q, want %q", tc.name, got, tc.err)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestScopeNames(t *testing.T) {
	for _, s := range []quota.Scope{quota.ScopeContact, quota.ScopeAgentContact} {
		if got, ok := quota.ParseScope(s.String()); !ok || got != s {
			t.Errorf("ParseScope(%q) = %v, %t", s, got, ok)
		}
	}
	if _, ok := quota.ParseScope("Contact"); ok {
		t.Error(`ParseScope("Contact") accepted`)
	}
}

// TestInvalidInputsDoNotPanic feeds settings outside the contract and
// histories that break the ascending order: the answers are unspecified, but
// nothing panics, and an enabled limit outside 1..1000 is clamped.
func TestInvalidInputsDoNotPanic(t *testing.T) {
	unsorted := []quota.Send{{At: base + 5, Agent: "ana"}, {At: base, Agent: "ana"}, {At: base + 9, Agent: "bob"}, {At: base + 1, Agent: "ana"}}
	for _, s := range []quota.Settings{
		{Enabled: true, Max: 0, WindowMs: day},
		{Enabled: true, Max: -5, WindowMs: day},
		{Enabled: true, Max: 5000, WindowMs: day},
		{Enabled: true, Max: 1, WindowMs: 0},
		{Enabled: true, Max: 1, WindowMs: -day},
		{Enabled: true, Max: 2, WindowMs: day, Scope: 9},
		{Enabled: false, Max: 0, WindowMs: -1},
	} {
		for _, h := range [][]quota.Send{nil, unsorted, history3} {
			for _, now := range []int64{0, base - 1, base, base + 3, base + 2*day} {
				d := quota.Decide(h, s, "ana", "", now)
				quota.Usage(h, s, "ana", "", now)
				quota.Expire(append([]quota.Send(nil), h...), s.WindowMs, now)
				quota.ExpiresAt(h, s.WindowMs)
				if s.Enabled && (d.Limit < quota.MinMax || d.Limit > quota.MaxMax) {
					t.Errorf("%+v: limit %d not clamped", s, d.Limit)
				}
			}
		}
	}
	h := quota.Record(append([]quota.Send(nil), unsorted...), quota.Send{At: base + 2, Agent: "cid"})
	if len(h) != len(unsorted)+1 {
		t.Errorf("Record into an unsorted history lost sends: %v", h)
	}
}

// TestRecordCapDropsTheOldest checks the per-agent cap when the new send is
// itself the agent's oldest (recorded out of order): it is the one dropped.
func TestRecordCapDropsTheOldest(t *testing.T) {
	var h []quota.Send
	for i := range quota.MaxPerAgent {
		h = quota.Record(h, quota.Send{At: base + int64(i), Agent: "ana", Attempt: "new"})
	}
	h = quota.Record(h, quota.Send{At: base - 1, Agent: "bob", Attempt: "b"})
	h = quota.Record(h, quota.Send{At: base - 2, Agent: "ana", Attempt: "old"})
	if len(h) != quota.MaxPerAgent+1 || h[0].Attempt != "b" || h[1].At != base {
		t.Fatalf("after the cap: len %d, first %+v, %+v", len(h), h[0], h[1])
	}
	h = quota.Record(h, quota.Send{At: base + quota.MaxPerAgent, Agent: "ana", Attempt: "newest"})
	if len(h) != quota.MaxPerAgent+1 || h[0].Attempt != "b" || h[1].At != base+1 || h[len(h)-1].Attempt != "newest" {
		t.Fatalf("after the cap: len %d, first %+v, %+v, last %+v", len(h), h[0], h[1], h[len(h)-1])
	}
}
