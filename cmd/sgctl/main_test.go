package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sendgate/sendgate/contract"
	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/internal/kafkatest"
	"github.com/sendgate/sendgate/quota"
)

// Arguments that end before any broker is contacted: help, usage, unknown
// commands and flags. None may panic (commands shorter than three letters
// used to).
func TestArgs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		err     error  // nil or errUsage
		stdout  string // substring
		stderr  string // substring
		noOther bool   // the other stream stays empty
	}{
		{"no command", nil, errUsage, "", "usage: sgctl settings|attempt|failed|watch", true},
		{"-h", []string{"-h"}, nil, "usage: sgctl settings|attempt|failed|watch", "", true},
		{"--help", []string{"--help"}, nil, "watch     print every verdict", "", true},
		{"help", []string{"help"}, nil, "usage: sgctl", "", true},
		{"one letter", []string{"a"}, errUsage, "", `sgctl: unknown command "a"`, true},
		{"two letters", []string{"at"}, errUsage, "", `sgctl: unknown command "at"`, true},
		{"empty command", []string{""}, errUsage, "", `sgctl: unknown command ""`, true},
		{"unknown command", []string{"attempts"}, errUsage, "", `unknown command "attempts"`, true},
		{"flag first", []string{"--brokers", "x:1", "attempt"}, errUsage, "", `unknown command "--brokers"`, true},
		{"command -h", []string{"attempt", "-h"}, nil, "", "-contact string", false},
		{"unknown flag", []string{"settings", "--bogus"}, errUsage, "", "flag provided but not defined: -bogus", false},
		{"stray argument", []string{"watch", "now"}, errUsage, "", `sgctl watch: unexpected argument "now"`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			err := run(t.Context(), tc.args, noEnv, &stdout, &stderr)
			if !errors.Is(err, tc.err) && !(err == nil && tc.err == nil) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) {
				t.Fatalf("stdout %q, stderr %q; want %q and %q", stdout.String(), stderr.String(), tc.stdout, tc.stderr)
			}
			if tc.noOther && tc.stdout == "" && stdout.Len() > 0 || tc.noOther && tc.stderr == "" && stderr.Len() > 0 {
				t.Fatalf("stdout %q, stderr %q: want only one of them", stdout.String(), stderr.String())
			}
		})
	}
}

// Missing required flags are named, before anything is published.
func TestRequiredFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"settings"}, "settings: --bot is required"},
		{[]string{"attempt", "--bot", "b"}, "attempt: --contact is required\nattempt: --agent is required"},
		{[]string{"failed", "--bot", "b", "--contact", "c"}, "failed: --attempt is required"},
		{[]string{"settings", "--bot", "b", "--scope", "everyone"}, `--scope must be contact or agent_contact, got "everyone"`},
		{[]string{"settings", "--bot", "b", "--rules", `[{"name":"default","max":1,"window_seconds":60}]`}, `--rules or --exempt: data.active_messages.rules[0].name`},
		{[]string{"settings", "--bot", "b", "--exempt", "a,a"}, `--rules or --exempt: data.active_messages.exempt_categories[1]`},
	} {
		var stdout, stderr strings.Builder
		// Nothing listens on port 1: nothing may be sent.
		err := run(t.Context(), append(tc.args, "--brokers", "127.0.0.1:1"), noEnv, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.args, err, tc.want)
		}
	}
}

func noEnv(string) string { return "" }

// fakeProcessor answers every attempt with an allowed verdict until ctx is
// done, and hands each settings and failed event it reads to seen.
func fakeProcessor(ctx context.Context, t *testing.T, addr string, seen chan<- events.Inbound, settings chan<- events.SettingsChanged) {
	kafkatest.Answer(ctx, t, addr, []string{contract.AttemptsTopic, contract.SettingsTopic}, func(r *kgo.Record) *kgo.Record {
		if r.Topic == contract.SettingsTopic {
			ev, err := events.DecodeSettings(r.Value)
			if err != nil || string(r.Key) != ev.BotID {
				t.Errorf("settings record %q=%s: %v", r.Key, r.Value, err)
			}
			settings <- ev
			return nil
		}
		in, err := events.DecodeInbound(r.Value)
		if err != nil || string(r.Key) != in.BotID+"/"+in.ContactID {
			t.Errorf("attempts record %q=%s: %v", r.Key, r.Value, err)
			return nil
		}
		seen <- in
		if in.Failed {
			return nil
		}
		v := events.FromDecision(in, quota.Decision{Outcome: quota.Allowed, Reason: quota.LimitDisabled, Used: 1, WindowMs: quota.DefaultWindowSeconds * 1000}, quota.Disabled(), r.Timestamp.UnixMilli())
		return &kgo.Record{Topic: contract.VerdictsTopic, Key: r.Key, Value: events.AppendVerdict(nil, &v)}
	})
}

// Each command against an in-process broker, answered by a fake processor:
// settings and failed publish what they say, attempt prints its verdict,
// watch prints the verdicts from the start of the topic.
func TestRoundTrip(t *testing.T) {
	addr := kafkatest.NewBroker(t, 4)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	seen := make(chan events.Inbound, 10)
	settings := make(chan events.SettingsChanged, 10)
	pctx, pcancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); fakeProcessor(pctx, t, addr, seen, settings) }()
	defer func() { pcancel(); <-done }()

	sg := func(args ...string) string {
		t.Helper()
		var stdout, stderr strings.Builder
		if err := run(ctx, append(args, "--brokers", addr), noEnv, &stdout, &stderr); err != nil {
			t.Fatalf("sgctl %q: %v\n%s", args, err, stderr.String())
		}
		return stdout.String()
	}

	if out := sg("settings", "--bot", "b@bots", "--version", "3", "--max", "2", "--window", "3600", "--scope", "agent_contact"); out != "published settings version 3 for b@bots\n" {
		t.Fatalf("settings printed %q", out)
	}
	ev := <-settings
	if want := (quota.Settings{Version: 3, Enabled: true, Max: 2, WindowMs: 3600_000, Scope: quota.ScopeAgentContact}); ev.BotID != "b@bots" ||
		!strings.HasPrefix(ev.ID, "set-") || ev.Settings.Version != want.Version || ev.Settings.Enabled != want.Enabled ||
		ev.Settings.Max != want.Max || ev.Settings.WindowMs != want.WindowMs || ev.Settings.Scope != want.Scope {
		t.Fatalf("published settings %+v, want bot b@bots and %+v", ev, want)
	}

	sg("settings", "--bot", "r@bots", "--version", "1", "--max", "3", "--exempt", "authentication",
		"--rules", `[{"name":"daily","max":1,"calendar":"day","time_zone":"America/Sao_Paulo","categories":["marketing"]}]`)
	if ev := <-settings; len(ev.Settings.Rules) != 1 || ev.Settings.Rules[0].Name != "daily" || ev.Settings.Rules[0].Calendar != quota.Day ||
		ev.Settings.Rules[0].ZoneName() != "America/Sao_Paulo" || len(ev.Settings.Exempt) != 1 || ev.Settings.Exempt[0] != "authentication" {
		t.Fatalf("published settings with rules %+v", ev.Settings)
	}

	out := sg("attempt", "--bot", "b@bots", "--contact", "c@wa", "--agent", "ana", "--category", "marketing", "--timeout", "30s")
	in := <-seen
	if in.BotID != "b@bots" || in.ContactID != "c@wa" || in.AgentID != "ana" || in.Category != "marketing" || !strings.HasPrefix(in.ID, "att-") {
		t.Fatalf("published attempt %+v", in)
	}
	v, err := events.DecodeVerdict([]byte(strings.TrimSpace(out)))
	if err != nil || v.AttemptID != in.ID || v.Outcome != events.Allowed {
		t.Fatalf("attempt printed %q (%v), want the verdict of %s", out, err, in.ID)
	}

	if out := sg("failed", "--bot", "b@bots", "--contact", "c@wa", "--attempt", in.ID, "--id", "f-1"); out != "published send-failed for attempt "+in.ID+"\n" {
		t.Fatalf("failed printed %q", out)
	}
	if f := <-seen; !f.Failed || f.ID != "f-1" || f.AttemptID != in.ID {
		t.Fatalf("published failed event %+v", f)
	}

	// watch prints the verdict from the start of the topic, and stops with
	// its context.
	wctx, wcancel := context.WithCancel(ctx)
	var stdout kafkatest.LockedBuf
	var stderr strings.Builder
	werr := make(chan error, 1)
	go func() { werr <- run(wctx, []string{"watch", "--brokers", addr}, noEnv, &stdout, &stderr) }()
	for !strings.Contains(stdout.String(), `"attempt_id":"`+in.ID+`"`) {
		select {
		case err := <-werr:
			t.Fatalf("watch stopped: %v\n%s", err, stderr.String())
		case <-ctx.Done():
			t.Fatalf("watch printed no verdict of %s: %q", in.ID, stdout.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	wcancel()
	if err := <-werr; err != nil {
		t.Fatalf("watch: %v", err)
	}
}
