package e2e

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
)

// TestAnyInstanceAnswers runs three processors in one group. Every
// contact's quota, asked of every instance, is the owner's answer: an
// instance that does not own the contact's partition forwards the query to
// the one that does (found from the group's member metadata).
func TestAnyInstanceAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test; run without -short")
	}
	const contacts = 30
	k := newCluster(t, 8)
	ev := events.SettingsChanged{ID: "s1", BotID: "bot", ChangedBy: "admin",
		Settings: quota.Settings{Version: 1, Enabled: true, Max: 3, WindowMs: 86_400_000, Scope: quota.ScopeContact}}
	k.produce(&kgo.Record{Topic: settingsTopic, Key: []byte("bot"), Value: events.AppendSettingsEvent(nil, &ev, time.Now().UnixMilli())})
	var procs []*proc
	for range 3 {
		procs = append(procs, startProc(t, t.TempDir(), "--brokers", k.addr))
	}
	t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var recs []*kgo.Record
	for c := range contacts {
		contact := fmt.Sprintf("c%02d", c)
		for i := range c % 5 { // 0..4 sends: used 0..3, some at the limit
			ts := t0.Add(time.Duration(c*10+i) * time.Millisecond)
			recs = append(recs, &kgo.Record{Topic: attemptsTopic, Key: []byte("bot/" + contact), Timestamp: ts,
				Value: events.AppendAttempt(nil, fmt.Sprintf("a-%s-%d", contact, i), "bot", contact, "ana", ts.UnixMilli())})
		}
	}
	k.produce(recs...)
	deadline := time.Now().Add(60 * time.Second)
	for k.verdictCount() < len(recs) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	at := url.QueryEscape(t0.Add(time.Minute).UTC().Format(time.RFC3339Nano))
	// Every instance ready, and the group settled: all three own partitions.
	for i, p := range procs {
		for code, _ := p.get(t, "/readyz"); code != 200; code, _ = p.get(t, "/readyz") {
			if time.Now().After(deadline) {
				t.Fatalf("instance %d not ready", i)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for c := range contacts {
		contact := fmt.Sprintf("c%02d", c)
		path := "/v1/bots/bot/contacts/" + contact + "/quota?at=" + at
		want := fmt.Sprintf(`"used":%d`, min(c%5, 3))
		var first string
		for i, p := range procs {
			code, body := p.get(t, path)
			for code == 503 && time.Now().Before(deadline) { // a rebalance still settling
				time.Sleep(100 * time.Millisecond)
				code, body = p.get(t, path)
			}
			if code != 200 || !strings.Contains(body, want) {
				t.Fatalf("%s from instance %d: %d %s, want 200 with %s", contact, i, code, body, want)
			}
			if first == "" {
				first = body
			} else if body != first {
				t.Fatalf("%s: instance %d answered %s, instance 0 %s", contact, i, body, first)
			}
		}
	}
}
