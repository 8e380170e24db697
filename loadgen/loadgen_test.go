package loadgen

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sendgate/sendgate/contract"
	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/internal/kafkatest"
	"github.com/sendgate/sendgate/quota"
)

func TestPlan(t *testing.T) {
	cfg := Config{Attempts: 5000, Bots: 10, Contacts: 300, Agents: 4, AgentContact: 0.1, Disabled: 0.1,
		Duplicates: 0.1, Failed: 0.05, Invalid: 0.02}
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	end := time.Now().UnixMilli()
	p := newPlan(&cfg, "run1", end)
	counts := map[kind]int{}
	seen := map[int32]bool{}
	var lastTs int64
	for j, r := range p.recs {
		counts[r.kind]++
		if r.tsMs < lastTs || r.tsMs > end {
			t.Fatalf("record %d: timestamp %d after %d or past the end", j, r.tsMs, lastTs)
		}
		lastTs = r.tsMs
		switch r.kind {
		case kindAttempt, kindInvalid:
			if seen[r.attempt] || p.attempts[r.attempt].rec != int32(j) {
				t.Fatalf("record %d: attempt %d is not new", j, r.attempt)
			}
			seen[r.attempt] = true
		default:
			if !seen[r.attempt] {
				t.Fatalf("record %d (kind %d): attempt %d not sent before", j, r.kind, r.attempt)
			}
		}
		in, err := events.DecodeInbound(p.value(j))
		if (err != nil) != (r.kind == kindInvalid || r.kind == kindDuplicate && p.recs[p.attempts[r.attempt].rec].kind == kindInvalid) {
			t.Fatalf("record %d (kind %d): decode error %v", j, r.kind, err)
		}
		if got, want := in.BotID+"/"+in.ContactID, string(p.key(p.attempts[r.attempt].contact)); got != want {
			t.Fatalf("record %d: key %q, value says %q", j, want, got)
		}
	}
	if counts[kindAttempt]+counts[kindInvalid] != 5000 || counts[kindDuplicate] != 500 || counts[kindFailed] != 250 || counts[kindInvalid] != 100 {
		t.Fatalf("kinds: %v", counts)
	}
	if rep := newReport(&cfg, p, 1); rep.BotsDisabled != 1 || rep.BotsAgent != 1 || rep.BotsContact != 8 {
		t.Fatalf("settings mix: %+v", rep)
	}
	for _, c := range []struct {
		v  string
		a  int32
		ok bool
	}{
		{`{"id":"run1-a17/verdict","data":{"attempt_id":"run1-a17","bot_id":"x"}}`, 17, true},
		{`{"data":{"attempt_id":"run1-a4999"}}`, 4999, true},
		{`{"data":{"attempt_id":"run1-a5000"}}`, 0, false}, // not planned
		{`{"data":{"attempt_id":"run2-a17"}}`, 0, false},
		{`{"data":{"attempt_id":"run1-a"}}`, 0, false},
		{`{"data":{"attempt_id":"run1-a1x"}}`, 0, false},
		{`{"data":{}}`, 0, false},
	} {
		if a, ok := p.attemptOf([]byte(c.v)); a != c.a || ok != c.ok {
			t.Errorf("attemptOf(%s) = %d, %v; want %d, %v", c.v, a, ok, c.a, c.ok)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "attempts: must be"},
		{Config{Attempts: 1, Bots: 10, Contacts: 5}, "contacts: must be at least --bots"},
		{Config{Attempts: 1, Limit: 1001}, "limit: must be 1..1000"},
		{Config{Attempts: 1, Window: 1500 * time.Millisecond}, "window: must be whole seconds"},
		{Config{Attempts: 1, AgentContact: 0.7, Disabled: 0.7}, "plus --disabled"},
		{Config{Attempts: 1, Invalid: 2}, "invalid: must be 0..1"},
	} {
		c.cfg.EnsureDefaults()
		err := c.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.cfg, err, c.want)
		}
	}
}

// fakeProcessor answers every attempt on the attempts topic with a verdict
// made by answer (nil: none), until ctx is done.
func fakeProcessor(ctx context.Context, t *testing.T, addr string, answer func(in events.Inbound, tsMs int64) *events.Verdict) {
	kafkatest.Answer(ctx, t, addr, []string{contract.AttemptsTopic}, func(r *kgo.Record) *kgo.Record {
		in, err := events.DecodeInbound(r.Value)
		if in.Failed || (err != nil && in.ID == "") {
			return nil
		}
		if v := answer(in, r.Timestamp.UnixMilli()); v != nil {
			return &kgo.Record{Topic: contract.VerdictsTopic, Key: r.Key, Value: events.AppendVerdict(nil, v)}
		}
		return nil
	})
}

// TestCheckCatches runs the generator against fake processors that get the
// rule wrong or drop verdicts: the report must say so. (The real processor
// passing the check is e2e's TestLoadgen.)
func TestCheckCatches(t *testing.T) {
	allowAll := func(in events.Inbound, ts int64) *events.Verdict {
		v := events.FromDecision(in, quota.Decision{Outcome: quota.Allowed, Reason: quota.LimitDisabled, Used: 1, WindowMs: quota.DefaultWindowSeconds * 1000}, quota.Disabled(), ts)
		return &v
	}
	for _, c := range []struct {
		name   string
		answer func(in events.Inbound, ts int64) *events.Verdict
		check  func(t *testing.T, rep *Report)
	}{
		{"allow-all", allowAll, func(t *testing.T, rep *Report) {
			if rep.Missing != 0 || rep.Mismatches == 0 || rep.Counts.Allowed != rep.Verdicts || rep.Model.Blocked == 0 {
				t.Errorf("want every verdict received, many wrong: %+v", rep)
			}
		}},
		{"drop-some", func(in events.Inbound, ts int64) *events.Verdict {
			if strings.HasSuffix(in.ID, "7") {
				return nil
			}
			return allowAll(in, ts)
		}, func(t *testing.T, rep *Report) {
			if rep.Missing == 0 || !rep.TimedOut || rep.Verdicts+rep.Missing != rep.Attempts+rep.Duplicates {
				t.Errorf("want missing verdicts and a time-out: %+v", rep)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := kafkatest.NewBroker(t, 4)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); fakeProcessor(ctx, t, addr, c.answer) }()
			defer func() { cancel(); <-done }()
			rep, err := Run(context.Background(), Config{Brokers: []string{addr}, Attempts: 300, Bots: 3, Contacts: 20,
				Agents: 2, Duplicates: 0.05, Failed: 0.05, Timeout: 3 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK || len(rep.Problems) == 0 {
				t.Errorf("report OK: %+v", rep)
			}
			var b strings.Builder
			if err := rep.WriteTable(&b); err != nil || !strings.Contains(b.String(), "FAILED") {
				t.Errorf("table (%v):\n%s", err, b.String())
			}
			c.check(t, rep)
		})
	}
}
