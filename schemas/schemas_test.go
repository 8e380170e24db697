package schemas_test

import (
	"bytes"
	"errors"
	"io/fs"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
	"github.com/sendgate/sendgate/schemas"
	"github.com/sendgate/sendgate/schemas/schematest"
)

func compile(t *testing.T) schematest.Schemas {
	t.Helper()
	s, err := schematest.Compile()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// decode runs the Go decoder of an event type: it returns the error the
// decoder reports, or nil when it accepts the value as that event type.
func decode(event string, b []byte) error {
	switch event {
	case "attempt-requested":
		in, err := events.DecodeInbound(b)
		if err == nil && in.Failed {
			return errors.New("decoded as a failed event")
		}
		return checkInbound(in, err)
	case "attempt-failed":
		in, err := events.DecodeInbound(b)
		if err == nil && !in.Failed {
			return errors.New("decoded as an attempt")
		}
		return checkInbound(in, err)
	case "settings-changed":
		_, err := events.DecodeSettings(b)
		return err
	case "verdict":
		v, err := events.DecodeVerdict(b)
		if err != nil {
			return err
		}
		// A valid verdict re-encodes to the same bytes.
		if got := events.AppendVerdict(nil, &v); !bytes.Equal(got, bytes.TrimSpace(b)) {
			return errors.New("AppendVerdict(DecodeVerdict(b)) != b:\n" + string(got))
		}
		return nil
	}
	panic(event)
}

// checkInbound checks the contract's readable-id rule: the id is returned
// exactly when the error (if any) is not about the id or the whole value.
func checkInbound(in events.Inbound, err error) error {
	var e *events.Error
	if err != nil && !errors.As(err, &e) {
		return errors.New("not an *events.Error: " + err.Error())
	}
	unreadable := e != nil && (e.Field == "id" || e.Field == "value")
	if unreadable != (in.ID == "") {
		return errors.New("ID " + in.ID + " returned with error " + err.Error())
	}
	return err
}

var schemaOf = map[string]string{
	"attempt-requested": schemas.AttemptRequested,
	"attempt-failed":    schemas.AttemptFailed,
	"settings-changed":  schemas.SettingsChanged,
	"verdict":           schemas.Verdict,
}

// TestExamples validates every example against its schema and runs it
// through the Go decoder: valid examples must pass both, invalid ones must
// fail both, and the decoder's error must name the field the file name
// declares (invalid/<name>.<field>.json).
func TestExamples(t *testing.T) {
	sch := compile(t)
	counts := map[string]int{}
	err := fs.WalkDir(schemas.FS, schemas.Examples, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := strings.Split(strings.TrimPrefix(p, schemas.Examples+"/"), "/")
		if len(rel) != 3 || !strings.HasSuffix(p, ".json") {
			t.Errorf("%s: not examples/<event>/{valid,invalid}/<name>.json", p)
			return nil
		}
		event, kind := rel[0], rel[1]
		schemaName, ok := schemaOf[event]
		if !ok {
			t.Errorf("%s: unknown event %q", p, event)
			return nil
		}
		b, err := fs.ReadFile(schemas.FS, p)
		if err != nil {
			return err
		}
		counts[event+"/"+kind]++
		t.Run(strings.TrimPrefix(p, schemas.Examples+"/"), func(t *testing.T) {
			serr := sch.Validate(schemaName, b)
			derr := decode(event, b)
			switch kind {
			case "valid":
				if serr != nil {
					t.Errorf("schema rejects a valid example: %v", serr)
				}
				if derr != nil {
					t.Errorf("decoder rejects a valid example: %v", derr)
				}
			case "invalid":
				name := strings.TrimSuffix(rel[2], ".json")
				i := strings.IndexByte(name, '.')
				if i < 0 {
					t.Fatalf("invalid example without a declared field: %s", rel[2])
				}
				field := name[i+1:]
				if serr == nil {
					t.Errorf("schema accepts an invalid example (field %s)", field)
				}
				var e *events.Error
				switch {
				case derr == nil:
					t.Errorf("decoder accepts an invalid example (field %s)", field)
				case !errors.As(derr, &e):
					t.Errorf("decoder error is not an *events.Error: %v", derr)
				case e.Field != field:
					t.Errorf("decoder error names %q, the example declares %q: %v", e.Field, field, derr)
				default:
					t.Logf("decoder: %v", derr)
				}
			default:
				t.Errorf("%s: neither valid nor invalid", p)
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for event := range schemaOf {
		for _, kind := range []string{"valid", "invalid"} {
			if counts[event+"/"+kind] == 0 {
				t.Errorf("no %s examples of %s", kind, event)
			}
		}
	}
}

// TestSchemasCompile checks that every schema file is listed and compiles.
func TestSchemasCompile(t *testing.T) {
	sch := compile(t)
	files, err := fs.Glob(schemas.FS, "*.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(schemas.All) {
		t.Fatalf("FS has %v, All lists %v", files, schemas.All)
	}
	for _, f := range files {
		if sch[path.Base(f)] == nil {
			t.Errorf("%s not compiled", f)
		}
	}
}

// TestVerdicts encodes the verdicts of each kind, validates them and
// round-trips them through DecodeVerdict and the binary form.
func TestVerdicts(t *testing.T) {
	sch := compile(t)
	const t0 = 1795687200000 // 2026-11-26T10:00:00Z
	in := events.Inbound{ID: "att-0004", BotID: "support@bots", ContactID: "5531999990000@wa", AgentID: "ana@acme"}
	enabled := quota.Settings{Version: 42, Enabled: true, Max: 3, WindowMs: 86400000}
	cases := map[string]events.Verdict{
		"allowed": events.FromDecision(in, quota.Decision{
			Outcome: quota.Allowed, Reason: quota.WithinLimit, Enabled: true, Limit: 3, Used: 1, Remaining: 2, WindowMs: 86400000,
		}, enabled, t0),
		"last-allowed": events.FromDecision(in, quota.Decision{
			Outcome: quota.Allowed, Reason: quota.WithinLimit, Enabled: true, Limit: 3, Used: 3, Remaining: 0,
			RetryAt: t0 + 86400000 - 120000, RetryAfterSeconds: 86280, WindowMs: 86400000,
		}, enabled, t0),
		"blocked": events.FromDecision(in, quota.Decision{
			Outcome: quota.Blocked, Reason: quota.LimitReached, Enabled: true, Limit: 3, Used: 3, Remaining: 0,
			RetryAt: t0 + 86400000, RetryAfterSeconds: 86220, WindowMs: 86400000,
		}, enabled, t0+180000),
		"blocked-agent-contact": events.FromDecision(in, quota.Decision{
			Outcome: quota.Blocked, Reason: quota.LimitReached, Enabled: true, Limit: 1, Used: 2, Remaining: 0,
			RetryAt: t0 + 1, RetryAfterSeconds: 1, WindowMs: 60000, Scope: quota.ScopeAgentContact,
		}, quota.Settings{Version: 1, Enabled: true, Max: 1, WindowMs: 60000, Scope: quota.ScopeAgentContact}, t0),
		"disabled": events.FromDecision(in, quota.Decision{
			Outcome: quota.Allowed, Reason: quota.LimitDisabled, Used: 7, WindowMs: 86400000,
		}, quota.Disabled(), t0),
		"rejected": events.RejectedVerdict(events.Inbound{ID: "att-\"x\"\n", BotID: "b"},
			&events.Error{Field: "data.agent_id", Msg: "required"}, t0),
		"rejected-unreadable-ids": events.RejectedVerdict(events.Inbound{ID: "att-0005"},
			&events.Error{Field: "specversion", Msg: `must be "1.0", got "0.3"`}, t0),
	}
	for name, v := range ruleVerdicts(t) {
		cases[name] = v
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			b := events.AppendVerdict(nil, &v)
			if err := sch.Validate(schemas.Verdict, b); err != nil {
				t.Fatalf("%s\n%v", b, err)
			}
			got, err := events.DecodeVerdict(b)
			if err != nil {
				t.Fatalf("%s\n%v", b, err)
			}
			if got != v {
				t.Fatalf("DecodeVerdict round trip:\n got %+v\nwant %+v", got, v)
			}
			var bin events.Verdict
			if err := bin.UnmarshalBinary(v.AppendBinary(nil)); err != nil || bin != v {
				t.Fatalf("binary round trip: %+v, %v", bin, err)
			}
			if again := events.AppendVerdict(nil, &bin); !bytes.Equal(again, b) {
				t.Fatalf("binary round trip changed the JSON:\n%s\n%s", b, again)
			}
		})
	}
}

// ruleSettings are the contract's example of rules.
func ruleSettings(t *testing.T) quota.Settings {
	sp, err := time.LoadLocation("America/Sao_Paulo")
	if err != nil {
		t.Fatal(err)
	}
	return quota.Settings{Version: 43, Enabled: true, Max: 3, WindowMs: 86400000,
		Rules: []quota.Rule{
			{Name: "weekly", Max: 5, WindowMs: 604800000},
			{Name: "marketing-daily", Max: 1, Calendar: quota.Day, Zone: sp, Categories: []string{"marketing"}},
			{Name: "agent-trial", Max: 2, WindowMs: 86400000, Scope: quota.ScopeAgentContact, Shadow: true},
		},
		Exempt: []string{"authentication"},
	}
}

// ruleVerdicts are verdicts of quota.Decide under ruleSettings, at
// 2026-11-26T10:00:00Z (07:00 in São Paulo).
func ruleVerdicts(t *testing.T) map[string]events.Verdict {
	const t0 = 1795687200000
	const hour = 3600000
	st := ruleSettings(t)
	in := func(id, category string) events.Inbound {
		return events.Inbound{ID: id, BotID: "support@bots", ContactID: "5531999990000@wa", AgentID: "ana@acme", Category: category}
	}
	decide := func(sends []quota.Send, in events.Inbound) events.Verdict {
		d := quota.Decide(sends, st, in.AgentID, in.Category, t0)
		return events.FromDecision(in, d, st, t0)
	}
	marketing := []quota.Send{{At: t0 - hour, Agent: "ana@acme", Attempt: "att-m1", Category: "marketing"}}
	two := []quota.Send{{At: t0 - 2*hour, Agent: "ana@acme", Attempt: "att-1"}, {At: t0 - hour, Agent: "ana@acme", Attempt: "att-2"}}
	return map[string]events.Verdict{
		"rules-allowed":                decide(nil, in("att-r1", "")),
		"rules-blocked-calendar":       decide(marketing, in("att-r2", "marketing")),
		"rules-allowed-category":       decide(marketing[:0], in("att-r3", "marketing")),
		"rules-shadow-would-block":     decide(two, in("att-r4", "utility")),
		"rules-exempt":                 decide(two, in("att-r5", "authentication")),
		"rules-exempt-nothing-counted": decide(nil, in("att-r6", "authentication")),
	}
}

// TestEncoders checks that the test encoders of package events write
// values their schemas accept.
func TestEncoders(t *testing.T) {
	sch := compile(t)
	const t0 = 1795687200000
	check := func(name string, b []byte) {
		t.Helper()
		if err := sch.Validate(name, b); err != nil {
			t.Errorf("%s\n%v", b, err)
		}
	}
	check(schemas.AttemptRequested, events.AppendAttempt(nil, "att-1", "bot", "ctc\"\n\u00e9", "agent", t0))
	check(schemas.AttemptFailed, events.AppendFailed(nil, "fail-1", "bot", "ctc", "att-1", t0))
	for _, s := range []quota.Settings{
		{Version: 1, Enabled: true, Max: 3, WindowMs: 86400000},
		{Version: 2, WindowMs: 60000, Scope: quota.ScopeAgentContact},
		{Version: 3, Max: 1000},
	} {
		ev := events.SettingsChanged{ID: "set-1", BotID: "bot", ChangedBy: "admin", Settings: s}
		check(schemas.SettingsChanged, events.AppendSettingsEvent(nil, &ev, t0))
	}
}
