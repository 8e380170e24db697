package pipeline_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/sendgate/sendgate/events"
)

// rulesSettings is a settings event of bot1 with rules and an exemption, as
// the settings service writes it: the default rule (10 per day), a marketing
// rule of 1 per calendar day in UTC, a shadow rule of 1 per day, and
// authentication exempt.
const rulesSettings = `{"specversion":"1.0","id":"set-r1","source":"/settings","type":"desk.settings.changed",
 "time":"2026-11-26T09:00:00Z","data":{"bot_id":"bot1","version":1,"changed_by":"admin@acme",
 "active_messages":{"limit_enabled":true,"max_per_contact":10,"window_seconds":86400,"scope":"contact",
  "rules":[{"name":"marketing-daily","max":1,"calendar":"day","time_zone":"UTC","categories":["marketing"]},
           {"name":"strict","max":1,"window_seconds":86400,"mode":"shadow"}],
  "exempt_categories":["authentication"]}}}`

// attemptWith publishes an attempt of bot1/c1 by ana with a category ("" for
// none).
func (e *env) attemptWith(id, category string, ts time.Time) {
	e.t.Helper()
	cat := ""
	if category != "" {
		cat = fmt.Sprintf(`,"category":%q`, category)
	}
	v := fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"/desk/sender","type":"desk.active_message.requested","time":"2026-11-26T10:00:00Z",`+
		`"data":{"bot_id":"bot1","contact_id":"c1","agent_id":"ana"%s}}`, id, cat)
	e.produce(attemptsTopic, []byte("bot1/c1"), []byte(v), ts)
}

// TestRules decides with several rules end to end: settings with rules read
// from the settings topic, attempts with categories, verdicts naming the
// binding rule, an exemption, a shadow rule's would-block, and the sends'
// categories kept through a restore from the changelog.
func TestRules(t *testing.T) {
	e := newEnv(t, 2)
	e.produce(settingsTopic, []byte("bot1"), []byte(rulesSettings), time.Now())
	e.start()
	t.Cleanup(e.stop)

	// Early on a UTC day, so that every attempt falls in it.
	t0 := time.Now().UTC().Truncate(24 * time.Hour).Add(-22 * time.Hour)
	midnight := t0.Truncate(24 * time.Hour).Add(24 * time.Hour)
	e.attemptWith("m1", "marketing", t0)
	e.attemptWith("m2", "marketing", t0.Add(time.Minute))
	e.attemptWith("u1", "utility", t0.Add(2*time.Minute))
	e.attemptWith("x1", "authentication", t0.Add(3*time.Minute))

	v := e.verdict("m1")
	if v.Outcome != events.Allowed || v.Rule != "marketing-daily" || v.Limit != 1 || v.Remaining != 0 || v.RetryAt != ms(midnight) {
		t.Fatalf("m1: %+v", v)
	}
	if v.NumRules != 3 || v.RuleUsages()[0].Name != "default" || v.RuleUsages()[1].Name != "marketing-daily" || v.RuleUsages()[2].Name != "strict" || v.RuleUsages()[2].WouldBlock {
		t.Fatalf("m1 rules: %+v", v.Rules)
	}
	v = e.verdict("m2")
	if v.Outcome != events.Blocked || v.Reason != events.LimitReached || v.Rule != "marketing-daily" || v.RetryAt != ms(midnight) {
		t.Fatalf("m2, the day's second marketing send: %+v", v)
	}
	_, raw := e.verdictN("m2", 1)
	if !bytes.Contains(raw, []byte(`"calendar":"day","time_zone":"UTC"`)) || bytes.Contains(raw, []byte(`"window_seconds"`)) {
		t.Fatalf("m2: a calendar rule binds, so calendar and time_zone replace window_seconds: %s", raw)
	}
	v = e.verdict("u1")
	if v.Outcome != events.Allowed || v.Rule != "default" || v.Used != 2 || v.NumRules != 2 || v.RuleUsages()[1].Name != "strict" || !v.RuleUsages()[1].WouldBlock {
		t.Fatalf("u1: marketing-daily does not apply, strict would block: %+v", v)
	}
	v = e.verdict("x1")
	if v.Outcome != events.Allowed || v.Reason != events.Exempt || v.Used != 2 || v.Rule != "" || v.NumRules != 0 {
		t.Fatalf("x1, exempt: %+v", v)
	}
	if _, raw := e.verdictN("x1", 1); bytes.Contains(raw, []byte(`"limit"`)) || bytes.Contains(raw, []byte(`"rules"`)) {
		t.Fatalf("x1: an exempt verdict has no limit and no rules: %s", raw)
	}

	// A new instance with an empty data dir restores the histories from the
	// changelog, categories included: marketing is still full today.
	e.stop()
	e.dir = t.TempDir()
	e.start()
	e.attemptWith("m3", "marketing", t0.Add(4*time.Minute))
	e.attemptWith("n1", "", t0.Add(5*time.Minute))
	if v := e.verdict("m3"); v.Outcome != events.Blocked || v.Rule != "marketing-daily" {
		t.Fatalf("m3 after a restore: %+v", v)
	}
	if v := e.verdict("n1"); v.Outcome != events.Allowed || v.Used != 3 || v.Rule != "default" {
		t.Fatalf("n1 after a restore (m1, u1 and n1 count for default): %+v", v)
	}
	// A redelivered attempt re-emits its stored verdict, rules and all.
	e.attemptWith("m1", "marketing", t0.Add(6*time.Minute))
	_, first := e.verdictN("m1", 1)
	_, again := e.verdictN("m1", 2)
	if !bytes.Equal(first, again) {
		t.Fatalf("re-emitted verdict differs:\n%s\n%s", first, again)
	}
}
