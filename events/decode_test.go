package events_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
)

// TestDecode runs testdata/decode: "inbound" and "settings" decode the
// input (Go-quoted escapes \xNN are expanded, to write invalid UTF-8) and
// print the result or the error. Regenerate with -rewrite.
func TestDecode(t *testing.T) {
	datadriven.RunTest(t, "testdata/decode", func(t *testing.T, td *datadriven.TestData) string {
		in := []byte(td.Input)
		if td.HasArg("hex") {
			in = unhex(t, td.Input)
		}
		switch td.Cmd {
		case "inbound":
			v, err := events.DecodeInbound(in)
			var b strings.Builder
			if v != (events.Inbound{}) {
				fmt.Fprintf(&b, "failed=%v id=%q bot=%q contact=%q agent=%q attempt=%q",
					v.Failed, v.ID, v.BotID, v.ContactID, v.AgentID, v.AttemptID)
				if v.Category != "" {
					fmt.Fprintf(&b, " category=%q", v.Category)
				}
				b.WriteString("\n")
			}
			if err != nil {
				fmt.Fprintf(&b, "error: %v\n", err)
				var e *events.Error
				if !errors.As(err, &e) {
					t.Errorf("not an *events.Error: %T", err)
				}
			}
			return b.String()
		case "settings":
			v, err := events.DecodeSettings(in)
			if err != nil {
				return fmt.Sprintf("error: %v\n", err)
			}
			s := v.Settings
			var b strings.Builder
			fmt.Fprintf(&b, "id=%q bot=%q changed_by=%q version=%d enabled=%v max=%d window_ms=%d scope=%s\n",
				v.ID, v.BotID, v.ChangedBy, s.Version, s.Enabled, s.Max, s.WindowMs, s.Scope)
			for _, r := range s.Rules {
				fmt.Fprintf(&b, "rule %s: max=%d", r.Name, r.Max)
				if r.Calendar == quota.Rolling {
					fmt.Fprintf(&b, " window_ms=%d", r.WindowMs)
				} else {
					fmt.Fprintf(&b, " calendar=%s zone=%s", r.Calendar, r.ZoneName())
					if r.Zone == nil {
						b.WriteString(" (nil)")
					}
				}
				fmt.Fprintf(&b, " scope=%s shadow=%v", r.Scope, r.Shadow)
				if r.Categories != nil {
					fmt.Fprintf(&b, " categories=%q", r.Categories)
				}
				b.WriteString("\n")
			}
			if s.Exempt != nil {
				fmt.Fprintf(&b, "exempt=%q\n", s.Exempt)
			}
			if s.HasRules() != (s.Rules != nil || s.Exempt != nil) {
				t.Errorf("HasRules %v with rules %v, exempt %v", s.HasRules(), s.Rules, s.Exempt)
			}
			return b.String()
		}
		t.Fatalf("unknown command %q", td.Cmd)
		return ""
	})
}

// unhex expands \xNN escapes.
func unhex(t *testing.T, s string) []byte {
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			var c byte
			if _, err := fmt.Sscanf(s[i+2:i+4], "%02x", &c); err != nil {
				t.Fatal(err)
			}
			out = append(out, c)
			i += 3
			continue
		}
		out = append(out, s[i])
	}
	return out
}

func TestDecodeInboundContract(t *testing.T) {
	got, err := events.DecodeInbound([]byte(contractAttempt))
	want := events.Inbound{ID: "att-0001", BotID: "support@bots", ContactID: "5531999990000@wa", AgentID: "ana@acme"}
	if err != nil || got != want {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
}

// categoryAttempt is an attempt with a category.
const categoryAttempt = `{"specversion":"1.0","id":"att-0002","source":"/desk/sender","type":"desk.active_message.requested",
 "time":"2026-11-26T10:00:00.000Z",
 "data":{"bot_id":"support@bots","contact_id":"5531999990000@wa","agent_id":"ana@acme","category":"marketing"}}`

func TestDecodeInboundCategory(t *testing.T) {
	got, err := events.DecodeInbound([]byte(categoryAttempt))
	want := events.Inbound{ID: "att-0002", BotID: "support@bots", ContactID: "5531999990000@wa", AgentID: "ana@acme", Category: "marketing"}
	if err != nil || got != want {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
}

// rulesSettings are the settings of the contract's example of rules.
func rulesSettings() quota.Settings {
	sp, err := time.LoadLocation("America/Sao_Paulo")
	if err != nil {
		panic(err)
	}
	return quota.Settings{Version: 42, Enabled: true, Max: 3, WindowMs: 86400000, Scope: quota.ScopeContact,
		Rules: []quota.Rule{
			{Name: "weekly", Max: 5, WindowMs: 604800000},
			{Name: "marketing-daily", Max: 1, Calendar: quota.Day, Zone: sp, Categories: []string{"marketing"}},
			{Name: "agent-trial", Max: 2, WindowMs: 86400000, Scope: quota.ScopeAgentContact, Shadow: true},
			{Name: "monthly-utc", Max: 1000, Calendar: quota.Month},
		},
		Exempt: []string{"authentication"},
	}
}

// rulesSettingsJSON is the contract's example of rules, plus a month rule in
// UTC.
const rulesSettingsJSON = `{"specversion":"1.0","id":"set-43","source":"/settings","type":"desk.settings.changed",
 "time":"2026-11-26T09:00:00Z",
 "data":{"bot_id":"support@bots","version":42,"changed_by":"admin@acme",
   "active_messages":{"limit_enabled":true,"max_per_contact":3,"window_seconds":86400,"scope":"contact",
     "rules":[
       {"name":"weekly","max":5,"window_seconds":604800},
       {"name":"marketing-daily","max":1,"calendar":"day","time_zone":"America/Sao_Paulo","categories":["marketing"]},
       {"name":"agent-trial","max":2,"window_seconds":86400,"scope":"agent_contact","mode":"shadow"},
       {"name":"monthly-utc","max":1000,"calendar":"month"}],
     "exempt_categories":["authentication"]}}}`

func TestDecodeSettingsRules(t *testing.T) {
	got, err := events.DecodeSettings([]byte(rulesSettingsJSON))
	want := events.SettingsChanged{ID: "set-43", BotID: "support@bots", ChangedBy: "admin@acme", Settings: rulesSettings()}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
	if !got.Settings.HasRules() || got.Settings.Validate() != nil {
		t.Fatalf("HasRules %v, Validate %v", got.Settings.HasRules(), got.Settings.Validate())
	}
}

func TestDecodeSettingsContract(t *testing.T) {
	got, err := events.DecodeSettings([]byte(contractSettings))
	want := events.SettingsChanged{ID: "set-42", BotID: "support@bots", ChangedBy: "admin@acme",
		Settings: quota.Settings{Version: 42, Enabled: true, Max: 3, WindowMs: 86400000, Scope: quota.ScopeContact}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
}

// TestEncodersRoundTrip: what the test encoders write, the decoders read.
func TestEncodersRoundTrip(t *testing.T) {
	ids := []string{"a", "att-\"1\"\\\n\t\u00e9\U0001F600", strings.Repeat("x", events.MaxIDBytes), "\x01\x7f"}
	for _, id := range ids {
		b := events.AppendAttempt(nil, id, "bot"+id, "contact"+id[:1], "agent", 1795687200000)
		got, err := events.DecodeInbound(b)
		want := events.Inbound{ID: id, BotID: "bot" + id, ContactID: "contact" + id[:1], AgentID: "agent"}
		if len(want.BotID) > events.MaxIDBytes {
			var e *events.Error
			if !errors.As(err, &e) || e.Field != "data.bot_id" || got.ID != id || got.BotID != "" {
				t.Errorf("%s: got %+v, %v", b, got, err)
			}
		} else if err != nil || got != want {
			t.Errorf("%s: got %+v, %v; want %+v", b, got, err, want)
		}
		if len(id) <= quota.MaxCategoryLen {
			b = events.AppendAttemptCategory(nil, "c"+id[:1], "bot", "contact", "agent", id, 0)
			got, err = events.DecodeInbound(b)
			want = events.Inbound{ID: "c" + id[:1], BotID: "bot", ContactID: "contact", AgentID: "agent", Category: id}
			if err != nil || got != want {
				t.Errorf("%s: got %+v, %v; want %+v", b, got, err, want)
			}
		}
		b = events.AppendFailed(nil, "f"+id[:1], "bot", "contact", id, 0)
		got, err = events.DecodeInbound(b)
		want = events.Inbound{Failed: true, ID: "f" + id[:1], BotID: "bot", ContactID: "contact", AttemptID: id}
		if err != nil || got != want {
			t.Errorf("%s: got %+v, %v; want %+v", b, got, err, want)
		}
	}
	for _, s := range []quota.Settings{
		{Version: 1, Enabled: true, Max: 3, WindowMs: 86400000},
		{Version: 1 << 62, Max: 0, WindowMs: 60000, Scope: quota.ScopeAgentContact},
		{Version: 7, Max: 1000, WindowMs: 2592000000},
		rulesSettings(),
		{Version: 8, WindowMs: 60000, Exempt: []string{"a\"\n", "\u00e9"}},
	} {
		ev := events.SettingsChanged{ID: "set\u2028", BotID: "b", ChangedBy: "me", Settings: s}
		b := events.AppendSettingsEvent(nil, &ev, 0)
		got, err := events.DecodeSettings(b)
		if err != nil || !reflect.DeepEqual(got, ev) {
			t.Errorf("%s: got %+v, %v; want %+v", b, got, err, ev)
		}
	}
}

func TestAllocs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	for _, in := range [][]byte{[]byte(contractAttempt), []byte(categoryAttempt)} {
		if n := testing.AllocsPerRun(100, func() { _, _ = events.DecodeInbound(in) }); n > 1 {
			t.Errorf("DecodeInbound: %v allocs, want <= 1", n)
		}
	}
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { buf = events.AppendVerdict(buf[:0], &contractVerdict) }); n != 0 {
		t.Errorf("AppendVerdict: %v allocs, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { buf = contractVerdict.AppendBinary(buf[:0]) }); n != 0 {
		t.Errorf("AppendBinary: %v allocs, want 0", n)
	}
}
