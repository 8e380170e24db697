package pipeline_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/pipeline"
	"github.com/sendgate/sendgate/quota"
)

const day = 24 * time.Hour

// base is a decision time in the recent past: record timestamps are the
// decision times (no future clamp applies).
func base() time.Time { return time.Now().Add(-3 * time.Hour).Truncate(time.Second) }

func TestLimitAndRetryAt(t *testing.T) {
	e := runningEnv(t, 4, limit(1, 2, day, quota.ScopeContact))
	t0 := base()
	e.attempt("a1", "bot1", "c1", "ana", t0)
	e.attempt("a2", "bot1", "c1", "bob", t0.Add(time.Minute))
	e.attempt("a3", "bot1", "c1", "ana", t0.Add(2*time.Minute))

	v1 := e.verdict("a1")
	if v1.Outcome != events.Allowed || v1.Reason != events.WithinLimit || v1.Used != 1 || v1.Remaining != 1 || v1.RetryAt != 0 {
		t.Fatalf("a1: %+v", v1)
	}
	if v1.DecidedAt != ms(t0) || v1.SettingsVersion != 1 || v1.Limit != 2 || v1.WindowSeconds != 86400 || v1.Scope != quota.ScopeContact {
		t.Fatalf("a1: %+v", v1)
	}
	v2 := e.verdict("a2")
	if v2.Outcome != events.Allowed || v2.Used != 2 || v2.Remaining != 0 || v2.RetryAt != ms(t0.Add(day)) {
		t.Fatalf("a2 (last allowed send carries the next retry time): %+v", v2)
	}
	v3 := e.verdict("a3")
	if v3.Outcome != events.Blocked || v3.Reason != events.LimitReached || v3.Used != 2 || v3.Remaining != 0 {
		t.Fatalf("a3: %+v", v3)
	}
	if v3.RetryAt != ms(t0.Add(day)) || v3.RetryAfterSeconds != int64((day-2*time.Minute)/time.Second) {
		t.Fatalf("a3 retry: %+v", v3)
	}
}

func TestRollingWindowBoundary(t *testing.T) {
	e := runningEnv(t, 2, limit(1, 1, time.Minute, quota.ScopeContact))
	t0 := base()
	e.attempt("a1", "bot1", "c1", "ana", t0)
	e.attempt("a2", "bot1", "c1", "ana", t0.Add(time.Minute-time.Millisecond))
	e.attempt("a3", "bot1", "c1", "ana", t0.Add(time.Minute))
	if v := e.verdict("a1"); v.Outcome != events.Allowed {
		t.Fatalf("a1: %+v", v)
	}
	if v := e.verdict("a2"); v.Outcome != events.Blocked || v.RetryAt != ms(t0.Add(time.Minute)) || v.RetryAfterSeconds != 1 {
		t.Fatalf("a2, 1 ms before expiry: %+v", v)
	}
	if v := e.verdict("a3"); v.Outcome != events.Allowed || v.Used != 1 {
		t.Fatalf("a3, at expiry: %+v", v)
	}
}

func TestDisabledStillRecords(t *testing.T) {
	e := runningEnv(t, 2)
	t0 := base()
	e.attempt("a1", "bot1", "c1", "ana", t0)
	e.attempt("a2", "bot1", "c1", "ana", t0.Add(time.Second))
	v2 := e.verdict("a2")
	if v2.Outcome != events.Allowed || v2.Reason != events.LimitDisabled || v2.Used != 2 || v2.Enabled || v2.SettingsVersion != 0 {
		t.Fatalf("a2: %+v", v2)
	}
	if _, raw := e.verdictN("a2", 1); bytes.Contains(raw, []byte(`"limit"`)) || bytes.Contains(raw, []byte(`"remaining"`)) {
		t.Fatalf("limit and remaining must be omitted while disabled: %s", raw)
	}
	e.settings("bot1", limit(1, 2, day, quota.ScopeContact))
	e.attempt("a3", "bot1", "c1", "ana", t0.Add(2*time.Second))
	if v := e.verdict("a3"); v.Outcome != events.Blocked || v.Used != 2 || v.RetryAt != ms(t0.Add(day)) || v.SettingsVersion != 1 {
		t.Fatalf("a3 after enabling: %+v", v)
	}
}

func TestScopeAgentContact(t *testing.T) {
	e := runningEnv(t, 2, limit(1, 1, day, quota.ScopeAgentContact))
	t0 := base()
	e.attempt("a1", "bot1", "c1", "ana", t0)
	e.attempt("a2", "bot1", "c1", "bob", t0.Add(time.Second))
	e.attempt("a3", "bot1", "c1", "ana", t0.Add(2*time.Second))
	if v := e.verdict("a1"); v.Outcome != events.Allowed || v.Scope != quota.ScopeAgentContact {
		t.Fatalf("a1: %+v", v)
	}
	if v := e.verdict("a2"); v.Outcome != events.Allowed || v.Used != 1 {
		t.Fatalf("a2 (other agent): %+v", v)
	}
	if v := e.verdict("a3"); v.Outcome != events.Blocked || v.Used != 1 {
		t.Fatalf("a3 (same agent): %+v", v)
	}
}

func TestDuplicateAttemptReemitsSameVerdict(t *testing.T) {
	e := runningEnv(t, 2, limit(1, 5, day, quota.ScopeContact))
	t0 := base()
	e.attempt("a1", "bot1", "c1", "ana", t0)
	e.attempt("a1", "bot1", "c1", "ana", t0.Add(time.Second))
	e.attempt("a2", "bot1", "c1", "ana", t0.Add(2*time.Second))
	_, first := e.verdictN("a1", 1)
	_, second := e.verdictN("a1", 2)
	if !bytes.Equal(first, second) {
		t.Fatalf("re-emitted verdict differs:\n%s\n%s", first, second)
	}
	if v := e.verdict("a2"); v.Used != 2 {
		t.Fatalf("a duplicate counted: a2 used=%d, want 2", v.Used)
	}
}

func TestFailedSendReleasesSlot(t *testing.T) {
	e := runningEnv(t, 2, limit(1, 1, day, quota.ScopeContact))
	t0 := base()
	e.attempt("a1", "bot1", "c1", "ana", t0)
	e.failed("f0", "bot1", "c1", "nope", t0.Add(time.Second)) // unknown: ignored
	e.attempt("a2", "bot1", "c1", "ana", t0.Add(2*time.Second))
	e.failed("f1", "bot1", "c1", "a1", t0.Add(3*time.Second))
	e.failed("f1", "bot1", "c1", "a1", t0.Add(4*time.Second)) // idempotent
	e.attempt("a3", "bot1", "c1", "ana", t0.Add(5*time.Second))
	e.attempt("a4", "bot1", "c1", "ana", t0.Add(6*time.Second))
	if v := e.verdict("a2"); v.Outcome != events.Blocked {
		t.Fatalf("a2: %+v", v)
	}
	if v := e.verdict("a3"); v.Outcome != events.Allowed || v.Used != 1 {
		t.Fatalf("a3 after the failed send: %+v", v)
	}
	if v := e.verdict("a4"); v.Outcome != events.Blocked || v.RetryAt != ms(t0.Add(5*time.Second).Add(day)) {
		t.Fatalf("a4: %+v", v)
	}
	if n := e.verdictCount("f0") + e.verdictCount("f1"); n != 0 {
		t.Fatalf("failed events got %d verdicts", n)
	}
}

func TestSettingsVersionsAndTombstones(t *testing.T) {
	e := newEnv(t, 2)
	e.settings("bot1", limit(2, 1, day, quota.ScopeContact))
	e.settings("bot1", limit(1, 5, day, quota.ScopeContact)) // older: ignored
	e.start()
	defer e.stop()
	if s := e.runner.Settings("bot1"); s.Version != 2 || s.Max != 1 {
		t.Fatalf("settings in force: %+v", s)
	}
	e.tombstone("bot1")
	e.waitFor("tombstone applied", func() bool { return !e.runner.Settings("bot1").Enabled })
	if s := e.runner.Settings("bot1"); s.Version != 0 {
		t.Fatalf("after tombstone: %+v", s)
	}
	e.settings("bot1", limit(2, 7, day, quota.ScopeContact)) // late: not above the floor
	e.settings("bot1", limit(3, 3, time.Hour, quota.ScopeAgentContact))
	e.waitFor("v3", func() bool { return e.runner.Settings("bot1").Version == 3 })
	if s := e.runner.Settings("bot1"); s.Max != 3 || s.WindowMs != time.Hour.Milliseconds() || s.Scope != quota.ScopeAgentContact {
		t.Fatalf("v3: %+v", s)
	}
	// Settings survive a restart.
	e.stop()
	e.start()
	if s := e.runner.Settings("bot1"); s.Version != 3 {
		t.Fatalf("after restart: %+v", s)
	}
}

// A settings change acknowledged before an attempt was produced applies to
// it, every time.
func TestReadYourSettings(t *testing.T) {
	e := runningEnv(t, 2)
	t0 := base()
	for i := range 20 {
		enabled := i%2 == 0
		s := limit(int64(i+1), 1, day, quota.ScopeContact)
		s.Enabled = enabled
		e.settings("bot1", s)
		id := "r" + string(rune('a'+i))
		e.attempt(id, "bot1", "c1", "ana", t0.Add(time.Duration(i)*time.Second))
		v := e.verdict(id)
		if v.SettingsVersion != int64(i+1) {
			t.Fatalf("attempt %d decided with settings version %d, want %d", i, v.SettingsVersion, i+1)
		}
		if enabled != (v.Reason != events.LimitDisabled) {
			t.Fatalf("attempt %d: %+v", i, v)
		}
	}
}

// The same with the follower slowed down (the broker holds each of its
// settings fetches for 300 ms): the attempt waits for the settings the
// fetch that read it saw, and is never decided under older ones.
func TestReadYourSettingsWithASlowFollower(t *testing.T) {
	e := runningEnv(t, 1)
	var slow atomic.Bool
	e.cluster.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		e.cluster.KeepControl()
		fr := req.(*kmsg.FetchRequest)
		if slow.Load() && len(fr.Topics) == 1 && fr.Topics[0].Topic == settingsTopic {
			e.cluster.SleepControl(func() { time.Sleep(300 * time.Millisecond) })
		}
		return nil, nil, false
	})
	slow.Store(true)
	t0 := base()
	for i := range 5 {
		e.settings("bot1", limit(int64(i+1), 1, day, quota.ScopeContact))
		id := fmt.Sprintf("s%d", i)
		e.attempt(id, "bot1", fmt.Sprintf("c%d", i), "ana", t0.Add(time.Duration(i)*time.Second))
		if v := e.verdict(id); v.SettingsVersion != int64(i+1) {
			t.Fatalf("attempt %d decided with settings version %d, want %d", i, v.SettingsVersion, i+1)
		}
	}
}

// The fetch of attempts reads the settings topic's ends in the same
// request: a batch asks for them with no ListOffsets of its own.
func TestBatchesNeedNoListOffsetsOfSettings(t *testing.T) {
	e := runningEnv(t, 1, limit(1, 100, day, quota.ScopeContact))
	lists := e.countListOffsets(settingsTopic)
	t0 := base()
	for i := range 30 { // a batch each
		id := fmt.Sprintf("a%d", i)
		e.attempt(id, "bot1", "c1", "ana", t0.Add(time.Duration(i)*time.Second))
		if v := e.verdict(id); v.Used != i+1 {
			t.Fatalf("%s: %+v", id, v)
		}
	}
	if n := lists.Load(); n != 0 {
		t.Fatalf("%d ListOffsets of the settings topic for 30 batches, want none", n)
	}
}

// On a cluster where the settings partition has another leader than the
// attempts partition (one fetch cannot read both), batches catch up on the
// settings with a ListOffsets of their own, and read-your-settings holds;
// after the settings partition moves to the attempts partition's leader,
// the fetch reads its ends again.
func TestSettingsOnAnotherLeader(t *testing.T) {
	e := newEnvWith(t, 1, []kfake.Opt{kfake.NumBrokers(3)}, nil)
	attemptsLeader := e.cluster.LeaderFor(attemptsTopic, 0)
	other := (attemptsLeader + 1) % 3 // kfake numbers its brokers from 0
	if err := e.cluster.MoveTopicPartition(settingsTopic, 0, other); err != nil {
		t.Fatal(err)
	}
	lists := e.countListOffsets(settingsTopic)
	e.start(func(c *pipeline.Config) { c.SettingsWatchCheck = 200 * time.Millisecond })
	t.Cleanup(e.stop)
	t0 := base()
	for i := range 5 {
		e.settings("bot1", limit(int64(i+1), 1, day, quota.ScopeContact))
		id := fmt.Sprintf("a%d", i)
		e.attempt(id, "bot1", fmt.Sprintf("c%d", i), "ana", t0.Add(time.Duration(i)*time.Second))
		if v := e.verdict(id); v.SettingsVersion != int64(i+1) || v.Outcome != events.Allowed {
			t.Fatalf("%s: %+v, want allowed under settings version %d", id, v, i+1)
		}
	}
	if lists.Load() == 0 {
		t.Fatal("no ListOffsets of the settings topic, with the settings on another leader")
	}
	if err := e.cluster.MoveTopicPartition(settingsTopic, 0, attemptsLeader); err != nil {
		t.Fatal(err)
	}
	// Once the leader checks (and kafka-go's metadata) see the move, a
	// batch needs no ListOffsets again.
	i := 5
	e.waitFor("a batch without a ListOffsets of the settings", func() bool {
		before := lists.Load()
		id := fmt.Sprintf("a%d", i)
		e.attempt(id, "bot1", fmt.Sprintf("c%d", i), "ana", t0.Add(time.Duration(i)*time.Second))
		e.verdict(id)
		i++
		return lists.Load() == before
	})
	t.Logf("watching again after %d batches", i-5)
}

func TestBadInputIsRejectedOrDeadLettered(t *testing.T) {
	e := runningEnv(t, 2, limit(1, 3, day, quota.ScopeContact))
	t0 := base()

	// Not JSON at all: DLQ only.
	e.produce(attemptsTopic, []byte("bot1/c1"), []byte("not json"), t0)
	// A readable id but no agent_id: rejected and dead-lettered.
	e.produce(attemptsTopic, []byte("bot1/c1"), []byte(`{"specversion":"1.0","id":"bad1","source":"/x","type":"desk.active_message.requested","time":"2026-11-26T10:00:00Z","data":{"bot_id":"bot1","contact_id":"c1"}}`), t0)
	// A valid attempt under the wrong key.
	e.produce(attemptsTopic, []byte("other"), events.AppendAttempt(nil, "bad2", "bot1", "c1", "ana", ms(t0)), t0)
	// An invalid settings event: settings unchanged, dead-lettered.
	e.produce(settingsTopic, []byte("bot1"), []byte(`{"specversion":"1.0","id":"s9","source":"/s","type":"desk.settings.changed","time":"2026-11-26T10:00:00Z","data":{"bot_id":"bot1","version":9,"active_messages":{"limit_enabled":true,"max_per_contact":0}}}`), t0)
	// The rest keeps flowing.
	e.attempt("ok1", "bot1", "c1", "ana", t0.Add(time.Second))

	v := e.verdict("bad1")
	if v.Outcome != events.Rejected || v.Reason != events.InvalidRequest || !strings.Contains(v.Error, "data.agent_id") ||
		v.BotID != "bot1" || v.ContactID != "c1" || v.DecidedAt == 0 {
		t.Fatalf("bad1: %+v", v)
	}
	if v := e.verdict("bad2"); v.Outcome != events.Rejected || !strings.Contains(v.Error, "key") {
		t.Fatalf("bad2: %+v", v)
	}
	if v := e.verdict("ok1"); v.Outcome != events.Allowed || v.Used != 1 || v.SettingsVersion != 1 {
		t.Fatalf("ok1 (rejected attempts count nothing; invalid settings change nothing): %+v", v)
	}
	dl := e.dlqN(4)
	var sawUnreadable, sawSettings bool
	for _, r := range dl {
		if header(r, "sendgate-error") == "" || header(r, "sendgate-source-topic") == "" ||
			header(r, "sendgate-source-partition") == "" || header(r, "sendgate-source-offset") == "" {
			t.Fatalf("dead letter without headers: %+v", r.Headers)
		}
		switch {
		case string(r.Value) == "not json":
			sawUnreadable = header(r, "sendgate-source-topic") == attemptsTopic && string(r.Key) == "bot1/c1"
		case header(r, "sendgate-source-topic") == settingsTopic:
			sawSettings = strings.Contains(header(r, "sendgate-error"), "data.active_messages.max_per_contact")
		}
	}
	if !sawUnreadable || !sawSettings {
		t.Fatalf("dead letters: unreadable=%v settings=%v", sawUnreadable, sawSettings)
	}
	if s := e.runner.Settings("bot1"); s.Version != 1 {
		t.Fatalf("invalid settings changed the version: %+v", s)
	}
}

func TestRestartKeepsStateAndOffsets(t *testing.T) {
	e := newEnv(t, 4)
	e.settings("bot1", limit(1, 2, day, quota.ScopeContact))
	e.start()
	t0 := base()
	e.attempt("a1", "bot1", "c1", "ana", t0)
	e.attempt("a2", "bot1", "c1", "ana", t0.Add(time.Second))
	e.verdict("a2")
	e.stop()
	e.attempt("a3", "bot1", "c1", "ana", t0.Add(2*time.Second))
	e.start()
	defer e.stop()
	if v := e.verdict("a3"); v.Outcome != events.Blocked || v.Used != 2 {
		t.Fatalf("a3 after restart: %+v", v)
	}
	if n := e.verdictCount("a1"); n != 1 {
		t.Fatalf("a1 got %d verdicts after a graceful restart, want 1", n)
	}
}

func TestQuotaReflectsPublishedVerdicts(t *testing.T) {
	e := runningEnv(t, 4, limit(1, 2, day, quota.ScopeContact))
	t0 := base()
	e.attempt("a1", "bot1", "c1", "ana", t0)
	e.attempt("a2", "bot1", "c1", "ana", t0.Add(time.Second))
	e.verdict("a2")
	d, s, err := e.runner.Quota("bot1", "c1", "", "", t0.Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != 1 || d.Used != 2 || d.Remaining != 0 || d.RetryAt != ms(t0.Add(day)) {
		t.Fatalf("quota: %+v", d)
	}
	// Evaluated in the past, only the sends decided by then count.
	if d, _, _ := e.runner.Quota("bot1", "c1", "", "", t0.Add(500*time.Millisecond)); d.Used != 1 || d.Remaining != 1 {
		t.Fatalf("quota at t0+0.5s: %+v", d)
	}
}
