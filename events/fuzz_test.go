package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
	"github.com/sendgate/sendgate/schemas"
	"github.com/sendgate/sendgate/schemas/schematest"
)

var (
	compileOnce sync.Once
	compiled    schematest.Schemas
	compileErr  error
)

func schemaSet(t testing.TB) schematest.Schemas {
	compileOnce.Do(func() { compiled, compileErr = schematest.Compile() })
	if compileErr != nil {
		t.Fatal(compileErr)
	}
	return compiled
}

var (
	// strictTime is RFC 3339 written with digits only. The validator
	// reads hours and offsets with strconv.Atoi and so also accepts
	// "+1:00:00Z"-like oddities the decoder rejects on purpose.
	strictTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$`)
	// loneSurrogate finds \u escapes of surrogates: encoding/json (and so
	// the validator) turns unpaired ones into U+FFFD, the decoder rejects
	// them.
	surrogate = regexp.MustCompile(`\\u[dD][89a-fA-F]`)
	// bigExponent: big.Rat would take forever on 1e999999999.
	bigExponent = regexp.MustCompile(`[eE][+-]?0*\d{5,}`)
)

// generic reads b with encoding/json, exact keys, numbers as json.Number.
func generic(b []byte) (map[string]any, bool) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if d.Decode(&m) != nil || m == nil {
		return nil, false
	}
	return m, true
}

func member(m map[string]any, path ...string) any {
	var v any = m
	for _, k := range path {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[k]
	}
	return v
}

// checkable reports whether the validator's view of b can be compared
// with the decoder's (see strictTime, surrogate, bigExponent).
func checkable(b []byte) bool {
	if !utf8.Valid(b) || surrogate.Match(b) || bigExponent.Match(b) {
		return false
	}
	m, ok := generic(b)
	if !ok {
		return true
	}
	if s, ok := m["time"].(string); ok && !strictTime.MatchString(s) {
		return false
	}
	return true
}

func addSeeds(f *testing.F, paths ...string) {
	for _, dir := range paths {
		for _, kind := range []string{"valid", "invalid"} {
			entries, err := schemas.FS.ReadDir(schemas.Examples + "/" + dir + "/" + kind)
			if err != nil {
				f.Fatal(err)
			}
			for _, e := range entries {
				b, err := schemas.FS.ReadFile(schemas.Examples + "/" + dir + "/" + kind + "/" + e.Name())
				if err != nil {
					f.Fatal(err)
				}
				f.Add(b)
			}
		}
	}
}

func FuzzDecodeInbound(f *testing.F) {
	f.Add([]byte(contractAttempt))
	f.Add([]byte(categoryAttempt))
	addSeeds(f, "attempt-requested", "attempt-failed")
	sch := schemaSet(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := events.DecodeInbound(b)
		var e *events.Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("error is %T", err)
		}
		m, isJSON := generic(b)
		if err != nil {
			if in.ID == "" {
				if in != (events.Inbound{}) {
					t.Fatalf("fields without an id: %+v", in)
				}
				return
			}
			if in.Category != "" {
				t.Fatalf("category of an invalid attempt: %+v", in)
			}
			// The readable id and ids are what encoding/json reads.
			if !isJSON || member(m, "id") != in.ID || in.Failed || in.AttemptID != "" {
				t.Fatalf("readable id %+v, encoding/json reads %v", in, member(m, "id"))
			}
			for k, v := range map[string]string{"bot_id": in.BotID, "contact_id": in.ContactID, "agent_id": in.AgentID} {
				if v != "" && member(m, "data", k) != v {
					t.Fatalf("readable %s %q, encoding/json reads %v", k, v, member(m, "data", k))
				}
			}
		} else {
			name := schemas.AttemptRequested
			if in.Failed {
				name = schemas.AttemptFailed
			}
			if serr := sch.Validate(name, b); serr != nil {
				t.Fatalf("decoder accepts (%+v), schema %s rejects: %v", in, name, serr)
			}
			want := map[string]string{"id": in.ID, "bot_id": in.BotID, "contact_id": in.ContactID}
			if in.Failed {
				want["attempt_id"] = in.AttemptID
			} else {
				want["agent_id"] = in.AgentID
				if c := member(m, "data", "category"); c != nil || in.Category != "" {
					want["category"] = in.Category
				}
			}
			for k, v := range want {
				path := []string{"data", k}
				if k == "id" {
					path = path[1:]
				}
				if got := member(m, path...); got != v {
					t.Fatalf("%s: decoder %q, encoding/json %v", k, v, got)
				}
			}
		}
		// The converse: what a schema accepts, the decoder accepts.
		if !checkable(b) {
			return
		}
		if sch.Validate(schemas.AttemptFailed, b) == nil {
			if err != nil || !in.Failed {
				t.Fatalf("schema accepts a failed event, decoder: %+v, %v", in, err)
			}
		} else if sch.Validate(schemas.AttemptRequested, b) == nil {
			if err != nil || in.Failed {
				t.Fatalf("schema accepts an attempt, decoder: %+v, %v", in, err)
			}
		}
	})
}

func FuzzDecodeSettings(f *testing.F) {
	f.Add([]byte(contractSettings))
	f.Add([]byte(rulesSettingsJSON))
	addSeeds(f, "settings-changed")
	sch := schemaSet(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := events.DecodeSettings(b)
		if err != nil {
			var e *events.Error
			if !errors.As(err, &e) {
				t.Fatalf("error is %T", err)
			}
			if !reflect.DeepEqual(ev, events.SettingsChanged{}) {
				t.Fatalf("fields with an error: %+v", ev)
			}
			if checkable(b) && !beyondSchema(e) {
				if serr := sch.Validate(schemas.SettingsChanged, b); serr == nil {
					t.Fatalf("schema accepts, decoder rejects: %v", err)
				}
			}
			return
		}
		if serr := sch.Validate(schemas.SettingsChanged, b); serr != nil {
			t.Fatalf("decoder accepts (%+v), schema rejects: %v", ev, serr)
		}
		m, _ := generic(b)
		str := func(path ...string) string { v, _ := member(m, path...).(string); return v }
		num := func(def int64, path ...string) int64 {
			n, ok := member(m, path...).(json.Number)
			if !ok {
				return def
			}
			r, _ := new(big.Rat).SetString(string(n))
			return r.Num().Int64()
		}
		want := events.SettingsChanged{
			ID: str("id"), BotID: str("data", "bot_id"), ChangedBy: str("data", "changed_by"),
			Settings: quota.Settings{
				Version:  num(-1, "data", "version"),
				Enabled:  member(m, "data", "active_messages", "limit_enabled") == true,
				Max:      int(num(0, "data", "active_messages", "max_per_contact")),
				WindowMs: 1000 * num(quota.DefaultWindowSeconds, "data", "active_messages", "window_seconds"),
			},
		}
		if str("data", "active_messages", "scope") == "agent_contact" {
			want.Settings.Scope = quota.ScopeAgentContact
		}
		want.Settings.Rules, want.Settings.Exempt = genericRules(t, member(m, "data", "active_messages"))
		if !reflect.DeepEqual(ev, want) {
			t.Fatalf("decoder %+v, encoding/json %+v", ev, want)
		}
	})
}

// beyondSchema reports whether a decoder error is one the settings schema
// cannot express: a rule name used twice, a time zone not in the database.
func beyondSchema(e *events.Error) bool {
	return strings.HasSuffix(e.Field, ".name") && strings.Contains(e.Msg, "already the name") ||
		strings.HasSuffix(e.Field, ".time_zone") && strings.HasPrefix(e.Msg, "unknown time zone")
}

// genericRules reads the rules and exempt categories of active_messages as
// encoding/json decoded them, as DecodeSettings should return them.
func genericRules(t *testing.T, am any) ([]quota.Rule, []string) {
	o, _ := am.(map[string]any)
	strs := func(v any) []string {
		l, _ := v.([]any)
		if len(l) == 0 {
			return nil
		}
		out := make([]string, len(l))
		for i, c := range l {
			out[i] = c.(string)
		}
		return out
	}
	rs, _ := o["rules"].([]any)
	var rules []quota.Rule
	for _, x := range rs {
		m := x.(map[string]any)
		r := quota.Rule{Name: m["name"].(string), Categories: strs(m["categories"])}
		r.Max = int(ratInt(m["max"]))
		if w, ok := m["window_seconds"]; ok {
			r.WindowMs = 1000 * ratInt(w)
		}
		if c, ok := m["calendar"].(string); ok {
			r.Calendar, _ = quota.ParseCalendar(c)
		}
		if z, ok := m["time_zone"].(string); ok && z != "UTC" {
			loc, err := time.LoadLocation(z)
			if err != nil {
				t.Fatalf("time_zone %q accepted: %v", z, err)
			}
			r.Zone = loc
		}
		r.Scope, _ = quota.ParseScope(fmt.Sprint(m["scope"]))
		r.Shadow = m["mode"] == "shadow"
		rules = append(rules, r)
	}
	return rules, strs(o["exempt_categories"])
}

// ratInt returns the integer value of a json.Number.
func ratInt(v any) int64 {
	r, _ := new(big.Rat).SetString(string(v.(json.Number)))
	return r.Num().Int64()
}

func FuzzVerdictBinary(f *testing.F) {
	f.Add(contractVerdict.AppendBinary(nil), "att-1", "bot", "", uint8(0), uint8(0), uint8(0), false, 3, 2, int64(0), int64(1795687380000))
	f.Add([]byte{1, 3, 4, 0, 0}, "a\"\x00\xff", "", "err\n", uint8(2), uint8(3), uint8(1), true, -1, 1<<40, int64(-1), int64(-1<<62))
	f.Add([]byte{2, 1, 5, 0, 1, 0, 0}, "America/Sao_Paulo", "weekly", "default", uint8(5), uint8(4), uint8(7), true, 5, 5, int64(1795773600000), int64(1795687380000))
	f.Fuzz(func(t *testing.T, raw []byte, attempt, bot, errS string, o, r, sc uint8, enabled bool, limit, used int, retryAt, decidedAt int64) {
		// Any input: accepted only in canonical form, which re-encodes
		// to the same bytes.
		var v events.Verdict
		if v.UnmarshalBinary(raw) == nil {
			if again := v.AppendBinary(nil); !bytes.Equal(again, raw) {
				t.Fatalf("not canonical: %x -> %+v -> %x", raw, v, again)
			}
			_ = events.AppendVerdict(nil, &v)
		}
		// Any verdict: round trips, and so does its JSON.
		v = events.Verdict{
			AttemptID: attempt, BotID: bot, ContactID: attempt + bot, AgentID: bot,
			Outcome: events.Outcome(1 + o%3), Reason: events.Reason(1 + r%5), Scope: quota.Scope(sc % 2),
			Enabled: enabled, Limit: limit, Used: used, Remaining: limit - used, WindowSeconds: int64(limit) * 60,
			RetryAt: retryAt, RetryAfterSeconds: retryAt / 1000, DecidedAt: decidedAt, SettingsVersion: int64(used),
			Error: errS,
		}
		// The members of rules, derived from the same inputs (the
		// corpus keeps its arity): a calendar, a binding rule and
		// entries.
		if cal := quota.Calendar(o / 3 % 4); cal != quota.Rolling {
			v.Calendar, v.TimeZone, v.WindowSeconds = cal, attempt, 0
		}
		if n := int(sc/2) % (quota.MaxRules + 1); n > 0 {
			v.Rule, v.NumRules = bot, n
			for i := range n {
				v.Rules[i] = quota.RuleUsage{Name: errS[:min(i, len(errS))], Shadow: i%2 == 1, WouldBlock: enabled && i%3 == 2,
					Limit: limit + i, Used: used - i, Remaining: limit - used, RetryAt: retryAt + int64(i)}
			}
		}
		b := v.AppendBinary(nil)
		if (b[0] == 2) != (v.Reason == events.Exempt || v.Calendar != quota.Rolling || v.TimeZone != "" || v.Rule != "" || v.NumRules != 0) {
			t.Fatalf("version %d for %+v", b[0], v)
		}
		var got events.Verdict
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("%+v: %v", v, err)
		}
		if got != v {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, v)
		}
		j1, j2 := events.AppendVerdict(nil, &v), events.AppendVerdict(nil, &got)
		if !bytes.Equal(j1, j2) {
			t.Fatalf("JSON differs:\n%s\n%s", j1, j2)
		}
		if !json.Valid(j1) {
			t.Fatalf("invalid JSON: %s", j1)
		}
	})
}
