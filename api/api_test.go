package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sendgate/sendgate/pipeline"
	"github.com/sendgate/sendgate/quota"
)

// now is the fake clock of the tests: 2026-11-26T10:00:00Z.
var now = time.UnixMilli(1795687200000).UTC()

// fakeBackend answers from fixed settings and decisions and records the
// quota queries it gets.
type fakeBackend struct {
	ready    bool
	settings map[string]quota.Settings // bots without an entry: quota.Disabled()
	// decision and err are what Quota returns, with the bot's settings
	// (or quotaSettings, when set).
	decision      quota.Decision
	quotaSettings *quota.Settings
	err           error
	block         chan struct{} // when set, Quota waits for it to close
	entered       chan struct{} // when set, Quota sends on it before it waits
	owner         string        // what Owner returns

	mu      sync.Mutex
	queries []query
}

type query struct {
	bot, contact, agent, category string
	at                            time.Time
}

func (f *fakeBackend) Ready() bool { return f.ready }

func (f *fakeBackend) Owner(bot, contact string) (string, error) { return f.owner, nil }

func (f *fakeBackend) Settings(bot string) quota.Settings {
	if st, ok := f.settings[bot]; ok {
		return st
	}
	return quota.Disabled()
}

func (f *fakeBackend) Quota(bot, contact, agent, category string, at time.Time) (quota.Decision, quota.Settings, error) {
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	f.queries = append(f.queries, query{bot, contact, agent, category, at})
	f.mu.Unlock()
	st := f.Settings(bot)
	if f.quotaSettings != nil {
		st = *f.quotaSettings
	}
	d := f.decision
	if d.WindowMs == 0 && d.Calendar == quota.Rolling {
		// As quota.Usage does: a decision describes its window (here the
		// default rule's).
		d.Scope, d.WindowMs = st.Scope, st.WindowMs
	}
	return d, st, f.err
}

// newTestServer returns a Server made by New (on a port of its own, closed
// at the end of the test) whose clock is now.
func newTestServer(t *testing.T, cfg Config, b Backend) *Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	cfg.now = func() time.Time { return now }
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.NewRegistry()
	}
	s, err := New(cfg, b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.ln.Close() })
	return s
}

// get serves GET path with the given Authorization header (none if empty).
func get(h http.Handler, path, auth string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// checkJSON checks that w answered code with a JSON body equal to want.
func checkJSON(t *testing.T, w *httptest.ResponseRecorder, code int, want string) {
	t.Helper()
	if w.Code != code {
		t.Errorf("status %d, want %d (body %s)", w.Code, code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var got, exp any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("body is not JSON: %v: %q", err, w.Body)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatalf("bad want %s: %v", want, err)
	}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("body %s\nwant %s", strings.TrimSpace(w.Body.String()), want)
	}
}

var (
	enabled      = quota.Settings{Version: 42, Enabled: true, Max: 3, WindowMs: 86400000, Scope: quota.ScopeContact}
	agentContact = quota.Settings{Version: 7, Enabled: true, Max: 1, WindowMs: 3600000, Scope: quota.ScopeAgentContact}
	disabledMax  = quota.Settings{Version: 3, Max: 5, WindowMs: 60000}
	saoPaulo, _  = time.LoadLocation("America/Sao_Paulo")
	withRules    = quota.Settings{Version: 43, Enabled: true, Max: 3, WindowMs: 86400000, Exempt: []string{"authentication"},
		Rules: []quota.Rule{
			{Name: "weekly", Max: 5, WindowMs: 604800000},
			{Name: "marketing-daily", Max: 1, Calendar: quota.Day, Zone: saoPaulo, Categories: []string{"marketing"}},
			{Name: "agent-trial", Max: 2, WindowMs: 86400000, Scope: quota.ScopeAgentContact, Shadow: true, Categories: []string{"utility"}},
		}}
	long = strings.Repeat("b", 257)
)

func TestProbes(t *testing.T) {
	for _, c := range []struct {
		name  string
		ready bool
		path  string
		code  int
		body  string
	}{
		{"healthz", false, "/healthz", 200, `{"status":"ok"}`},
		{"readyz before", false, "/readyz", 503, `{"status":"not ready"}`},
		{"readyz after", true, "/readyz", 200, `{"status":"ready"}`},
		{"unknown route", true, "/v2/nothing", 404, `{"error":"no such route: GET /v2/nothing"}`},
		{"query route prefix", true, "/v1/bots/b", 404, `{"error":"no such route: GET /v1/bots/b"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newTestServer(t, Config{}, &fakeBackend{ready: c.ready}).Handler()
			checkJSON(t, get(h, c.path, ""), c.code, c.body)
		})
	}
	t.Run("POST healthz", func(t *testing.T) {
		h := newTestServer(t, Config{}, &fakeBackend{}).Handler()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/healthz", nil))
		checkJSON(t, w, 404, `{"error":"no such route: POST /healthz"}`)
	})
	t.Run("metrics", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "sendgate_test_total", Help: "A test counter."}))
		w := get(newTestServer(t, Config{Gatherer: reg}, &fakeBackend{}).Handler(), "/metrics", "")
		if w.Code != 200 || !strings.Contains(w.Body.String(), "sendgate_test_total 0") {
			t.Errorf("%d %s", w.Code, w.Body)
		}
	})
}

func TestSettings(t *testing.T) {
	b := &fakeBackend{settings: map[string]quota.Settings{
		"support@bots": enabled, "sales/bots": agentContact, "quiet": disabledMax, "ruled": withRules,
	}}
	h := newTestServer(t, Config{}, b).Handler()
	for _, c := range []struct {
		name, path string
		code       int
		body       string
	}{
		{"enabled", "/v1/bots/support@bots/settings", 200,
			`{"bot_id":"support@bots","version":42,"active_messages":{"limit_enabled":true,"max_per_contact":3,"window_seconds":86400,"scope":"contact"}}`},
		{"escaped segment", "/v1/bots/support%40bots/settings", 200,
			`{"bot_id":"support@bots","version":42,"active_messages":{"limit_enabled":true,"max_per_contact":3,"window_seconds":86400,"scope":"contact"}}`},
		{"escaped slash", "/v1/bots/sales%2Fbots/settings", 200,
			`{"bot_id":"sales/bots","version":7,"active_messages":{"limit_enabled":true,"max_per_contact":1,"window_seconds":3600,"scope":"agent_contact"}}`},
		{"disabled with a max", "/v1/bots/quiet/settings", 200,
			`{"bot_id":"quiet","version":3,"active_messages":{"limit_enabled":false,"max_per_contact":5,"window_seconds":60,"scope":"contact"}}`},
		{"rules", "/v1/bots/ruled/settings", 200,
			`{"bot_id":"ruled","version":43,"active_messages":{"limit_enabled":true,"max_per_contact":3,"window_seconds":86400,"scope":"contact",` +
				`"rules":[{"name":"weekly","max":5,"window_seconds":604800,"scope":"contact","mode":"enforce"},` +
				`{"name":"marketing-daily","max":1,"calendar":"day","time_zone":"America/Sao_Paulo","scope":"contact","mode":"enforce","categories":["marketing"]},` +
				`{"name":"agent-trial","max":2,"window_seconds":86400,"scope":"agent_contact","mode":"shadow","categories":["utility"]}],` +
				`"exempt_categories":["authentication"]}}`},
		{"unknown bot", "/v1/bots/nobody%20here/settings", 200,
			`{"bot_id":"nobody here","version":0,"active_messages":{"limit_enabled":false,"window_seconds":86400,"scope":"contact"}}`},
		{"bot too long", "/v1/bots/" + long + "/settings", 400, `{"error":"bot_id: must be at most 256 bytes, got 257"}`},
	} {
		t.Run(c.name, func(t *testing.T) { checkJSON(t, get(h, c.path, ""), c.code, c.body) })
	}
}

func TestQuota(t *testing.T) {
	const retryAt = 1795773600000 // 2026-11-27T10:00:00Z
	within := quota.Decision{Outcome: quota.Allowed, Reason: quota.WithinLimit, Enabled: true, Limit: 3, Used: 1, Remaining: 2}
	full := quota.Decision{Outcome: quota.Blocked, Reason: quota.LimitReached, Enabled: true, Limit: 3, Used: 3,
		RetryAt: retryAt, RetryAfterSeconds: 86400}
	off := quota.Decision{Outcome: quota.Allowed, Reason: quota.LimitDisabled, Used: 4}
	byWeekly := quota.Decision{Outcome: quota.Blocked, Reason: quota.LimitReached, Enabled: true, Limit: 5, Used: 5,
		RetryAt: retryAt, RetryAfterSeconds: 86400, WindowMs: 604800000, Rule: "weekly", Rules: []quota.RuleUsage{
			{Name: "default", Limit: 3, Used: 2, Remaining: 1},
			{Name: "weekly", Limit: 5, Used: 5, RetryAt: retryAt},
		}}
	byDaily := quota.Decision{Outcome: quota.Blocked, Reason: quota.LimitReached, Enabled: true, Limit: 1, Used: 1,
		RetryAt: retryAt, RetryAfterSeconds: 86400, Calendar: quota.Day, Zone: saoPaulo, Rule: "marketing-daily", Rules: []quota.RuleUsage{
			{Name: "default", Limit: 3, Used: 1, Remaining: 2},
			{Name: "weekly", Limit: 5, Used: 1, Remaining: 4},
			{Name: "marketing-daily", Limit: 1, Used: 1, RetryAt: retryAt},
		}}
	shadow := quota.Decision{Outcome: quota.Allowed, Reason: quota.WithinLimit, Enabled: true, Limit: 3, Used: 2, Remaining: 1,
		WindowMs: 86400000, Rule: "default", Rules: []quota.RuleUsage{
			{Name: "default", Limit: 3, Used: 2, Remaining: 1},
			{Name: "weekly", Limit: 5, Used: 2, Remaining: 3},
			{Name: "agent-trial", Shadow: true, Limit: 2, Used: 2, RetryAt: retryAt, WouldBlock: true},
		}}
	exempt := quota.Decision{Outcome: quota.Allowed, Reason: quota.Exempt, Enabled: true, Used: 2, WindowMs: 86400000}
	at := time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		name     string
		settings map[string]quota.Settings
		decision quota.Decision
		quotaSt  *quota.Settings // settings Quota returns, when not the bot's
		err      error
		path     string
		code     int
		body     string
		want     *query // the backend's query; nil: none
	}{
		{name: "within the limit", settings: map[string]quota.Settings{"b": enabled}, decision: within,
			path: "/v1/bots/b/contacts/c/quota", code: 200,
			body: `{"bot_id":"b","contact_id":"c","limit_enabled":true,"limit":3,"used":1,"remaining":2,"window_seconds":86400}`,
			want: &query{"b", "c", "", "", now}},
		{name: "at the limit", settings: map[string]quota.Settings{"b": enabled}, decision: full,
			path: "/v1/bots/b/contacts/c/quota", code: 200,
			body: `{"bot_id":"b","contact_id":"c","limit_enabled":true,"limit":3,"used":3,"remaining":0,"window_seconds":86400,` +
				`"retry_at":"2026-11-27T10:00:00.000Z","retry_after_seconds":86400}`,
			want: &query{"b", "c", "", "", now}},
		{name: "disabled", decision: off, path: "/v1/bots/b/contacts/c/quota", code: 200,
			body: `{"bot_id":"b","contact_id":"c","limit_enabled":false,"used":4,"window_seconds":86400}`,
			want: &query{"b", "c", "", "", now}},
		{name: "escaped segments", settings: map[string]quota.Settings{"support@bots": enabled}, decision: within,
			path: "/v1/bots/support%40bots/contacts/5531%2F9999%20wa/quota?agent_id=ana%40acme", code: 200,
			body: `{"bot_id":"support@bots","contact_id":"5531/9999 wa","agent_id":"ana@acme","limit_enabled":true,"limit":3,"used":1,"remaining":2,"window_seconds":86400}`,
			want: &query{"support@bots", "5531/9999 wa", "ana@acme", "", now}},
		{name: "at", decision: off, path: "/v1/bots/b/contacts/c/quota?at=2026-11-26T06:30:00-03:00", code: 200,
			body: `{"bot_id":"b","contact_id":"c","limit_enabled":false,"used":4,"window_seconds":86400}`,
			want: &query{"b", "c", "", "", at}},
		{name: "agent_contact with agent", settings: map[string]quota.Settings{"b": agentContact}, decision: within,
			path: "/v1/bots/b/contacts/c/quota?agent_id=a", code: 200,
			body: `{"bot_id":"b","contact_id":"c","agent_id":"a","limit_enabled":true,"limit":3,"used":1,"remaining":2,"window_seconds":3600}`,
			want: &query{"b", "c", "a", "", now}},

		{name: "rules: blocked by a rolling rule", settings: map[string]quota.Settings{"b": withRules}, decision: byWeekly,
			path: "/v1/bots/b/contacts/c/quota", code: 200,
			body: `{"bot_id":"b","contact_id":"c","limit_enabled":true,"rule":"weekly","limit":5,"used":5,"remaining":0,"window_seconds":604800,` +
				`"retry_at":"2026-11-27T10:00:00.000Z","retry_after_seconds":86400,"rules":[` +
				`{"name":"default","mode":"enforce","limit":3,"used":2,"remaining":1},` +
				`{"name":"weekly","mode":"enforce","limit":5,"used":5,"remaining":0,"retry_at":"2026-11-27T10:00:00.000Z"}]}`,
			want: &query{"b", "c", "", "", now}},
		{name: "rules: a calendar rule binds", settings: map[string]quota.Settings{"b": withRules}, decision: byDaily,
			path: "/v1/bots/b/contacts/c/quota?category=marketing", code: 200,
			body: `{"bot_id":"b","contact_id":"c","limit_enabled":true,"rule":"marketing-daily","limit":1,"used":1,"remaining":0,` +
				`"calendar":"day","time_zone":"America/Sao_Paulo","retry_at":"2026-11-27T10:00:00.000Z","retry_after_seconds":86400,"rules":[` +
				`{"name":"default","mode":"enforce","limit":3,"used":1,"remaining":2},` +
				`{"name":"weekly","mode":"enforce","limit":5,"used":1,"remaining":4},` +
				`{"name":"marketing-daily","mode":"enforce","limit":1,"used":1,"remaining":0,"retry_at":"2026-11-27T10:00:00.000Z"}]}`,
			want: &query{"b", "c", "", "marketing", now}},
		{name: "rules: a shadow rule would block", settings: map[string]quota.Settings{"b": withRules}, decision: shadow,
			path: "/v1/bots/b/contacts/c/quota?category=utility&agent_id=ana", code: 200,
			body: `{"bot_id":"b","contact_id":"c","agent_id":"ana","limit_enabled":true,"rule":"default","limit":3,"used":2,"remaining":1,"window_seconds":86400,"rules":[` +
				`{"name":"default","mode":"enforce","limit":3,"used":2,"remaining":1},` +
				`{"name":"weekly","mode":"enforce","limit":5,"used":2,"remaining":3},` +
				`{"name":"agent-trial","mode":"shadow","limit":2,"used":2,"remaining":0,"retry_at":"2026-11-27T10:00:00.000Z","would_block":true}]}`,
			want: &query{"b", "c", "ana", "utility", now}},
		{name: "rules: exempt category", settings: map[string]quota.Settings{"b": withRules}, decision: exempt,
			path: "/v1/bots/b/contacts/c/quota?category=authentication", code: 200,
			body: `{"bot_id":"b","contact_id":"c","limit_enabled":true,"exempt":true,"used":2,"window_seconds":86400}`,
			want: &query{"b", "c", "", "authentication", now}},
		{name: "rules: an agent_contact rule that applies needs agent_id", settings: map[string]quota.Settings{"b": withRules},
			path: "/v1/bots/b/contacts/c/quota?category=utility", code: 400,
			body: `{"error":"agent_id: required: the bot's limit scope, or that of a rule that applies, is agent_contact"}`},
		{name: "empty category", path: "/v1/bots/b/contacts/c/quota?category=", code: 400,
			body: `{"error":"category: must not be empty (leave it out for an attempt without a category)"}`},
		{name: "category too long", path: "/v1/bots/b/contacts/c/quota?category=" + strings.Repeat("m", 65), code: 400,
			body: `{"error":"category: must be at most 64 bytes, got 65"}`},

		{name: "agent_contact without agent", settings: map[string]quota.Settings{"b": agentContact},
			path: "/v1/bots/b/contacts/c/quota", code: 400,
			body: `{"error":"agent_id: required: the bot's limit scope, or that of a rule that applies, is agent_contact"}`},
		{name: "agent_contact while disabled", settings: map[string]quota.Settings{"b": {Version: 2, WindowMs: 60000, Scope: quota.ScopeAgentContact}},
			path: "/v1/bots/b/contacts/c/quota", code: 400,
			body: `{"error":"agent_id: required: the bot's limit scope, or that of a rule that applies, is agent_contact"}`},
		{name: "agent_contact by the time of the query", quotaSt: &agentContact, decision: within,
			path: "/v1/bots/b/contacts/c/quota", code: 400,
			body: `{"error":"agent_id: required: the bot's limit scope, or that of a rule that applies, is agent_contact"}`,
			want: &query{"b", "c", "", "", now}},
		{name: "empty agent", path: "/v1/bots/b/contacts/c/quota?agent_id=", code: 400,
			body: `{"error":"agent_id: must not be empty"}`},
		{name: "agent too long", path: "/v1/bots/b/contacts/c/quota?agent_id=" + long, code: 400,
			body: `{"error":"agent_id: must be at most 256 bytes, got 257"}`},
		{name: "contact too long", path: "/v1/bots/b/contacts/" + long + "/quota", code: 400,
			body: `{"error":"contact_id: must be at most 256 bytes, got 257"}`},
		{name: "bot too long", path: "/v1/bots/" + long + "/contacts/c/quota", code: 400,
			body: `{"error":"bot_id: must be at most 256 bytes, got 257"}`},
		{name: "bad at", path: "/v1/bots/b/contacts/c/quota?at=yesterday", code: 400,
			body: `{"error":"at: must be an RFC 3339 time such as 2026-11-26T10:00:00Z, got \"yesterday\""}`},
		{name: "empty at", path: "/v1/bots/b/contacts/c/quota?at=", code: 400,
			body: `{"error":"at: must be an RFC 3339 time such as 2026-11-26T10:00:00Z, got \"\""}`},

		{name: "not owned, no owner ready", err: pipeline.ErrNotOwned, path: "/v1/bots/b/contacts/c/quota", code: 503,
			body: `{"error":"no instance has the contact's partition ready (a takeover in progress): retry"}`,
			want: &query{"b", "c", "", "", now}},
		{name: "backend error", err: errors.New("store closed"), path: "/v1/bots/b/contacts/c/quota", code: 503,
			body: `{"error":"quota unavailable; try again"}`,
			want: &query{"b", "c", "", "", now}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := &fakeBackend{settings: c.settings, decision: c.decision, quotaSettings: c.quotaSt, err: c.err}
			checkJSON(t, get(newTestServer(t, Config{}, b).Handler(), c.path, ""), c.code, c.body)
			var want []query
			if c.want != nil {
				want = []query{*c.want}
			}
			for i := range b.queries {
				if c.want != nil && b.queries[i].at.Equal(c.want.at) {
					b.queries[i].at = c.want.at // same instant, maybe another zone
				}
			}
			if !reflect.DeepEqual(b.queries, want) {
				t.Errorf("backend queries %+v, want %+v", b.queries, want)
			}
		})
	}
}

// TestEmptySegment: ServeMux redirects a path with an empty segment to the
// cleaned path (307, an HTML body), which is no route (404, JSON); the
// backend is not asked.
func TestEmptySegment(t *testing.T) {
	b := &fakeBackend{}
	h := newTestServer(t, Config{}, b).Handler()
	for path, clean := range map[string]string{
		"/v1/bots//settings":         "/v1/bots/settings",
		"/v1/bots/b/contacts//quota": "/v1/bots/b/contacts/quota",
		"/v1/bots//contacts/c/quota": "/v1/bots/contacts/c/quota",
	} {
		w := get(h, path, "")
		if w.Code != http.StatusTemporaryRedirect || w.Header().Get("Location") != clean {
			t.Errorf("%s: %d, Location %q; want 307 to %s", path, w.Code, w.Header().Get("Location"), clean)
		}
		checkJSON(t, get(h, clean, ""), 404, `{"error":"no such route: GET `+clean+`"}`)
	}
	if len(b.queries) != 0 {
		t.Errorf("backend asked: %+v", b.queries)
	}
}

func TestToken(t *testing.T) {
	b := &fakeBackend{ready: true, decision: quota.Decision{Outcome: quota.Allowed, Reason: quota.LimitDisabled}}
	h := newTestServer(t, Config{Token: "s3cret"}, b).Handler()
	const unauthorized = `{"error":"authorization: a valid bearer token is required"}`
	for _, c := range []struct {
		name, path, auth string
		code             int
	}{
		{"settings without a token", "/v1/bots/b/settings", "", 401},
		{"settings with a wrong token", "/v1/bots/b/settings", "Bearer s3cre", 401},
		{"settings with the token, another scheme", "/v1/bots/b/settings", "Basic s3cret", 401},
		{"settings with the token, lower-case scheme", "/v1/bots/b/settings", "bearer s3cret", 401},
		{"settings with the token", "/v1/bots/b/settings", "Bearer s3cret", 200},
		{"quota without a token", "/v1/bots/b/contacts/c/quota", "", 401},
		{"quota with the token", "/v1/bots/b/contacts/c/quota", "Bearer s3cret", 200},
		{"healthz stays open", "/healthz", "", 200},
		{"readyz stays open", "/readyz", "", 200},
		{"metrics stay open", "/metrics", "", 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := get(h, c.path, c.auth)
			if w.Code != c.code {
				t.Fatalf("status %d, want %d: %s", w.Code, c.code, w.Body)
			}
			if c.code == 401 {
				checkJSON(t, w, 401, unauthorized)
				if got := w.Header().Get("WWW-Authenticate"); got != `Bearer realm="sendgate"` {
					t.Errorf("WWW-Authenticate %q", got)
				}
			}
		})
	}
}

// TestInFlight: a query beyond MaxInFlight gets 429; probes are not bounded.
func TestInFlight(t *testing.T) {
	b := &fakeBackend{ready: true, block: make(chan struct{}), entered: make(chan struct{}, 1)}
	h := newTestServer(t, Config{MaxInFlight: 1}, b).Handler()
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- get(h, "/v1/bots/b/contacts/c/quota", "") }()
	// The first query holds the only slot once it reached the backend.
	select {
	case <-b.entered:
	case w := <-done:
		t.Fatalf("the first query returned %d %s", w.Code, w.Body)
	}
	checkJSON(t, get(h, "/v1/bots/b/settings", ""), 429, `{"error":"too many requests in flight; retry shortly"}`)
	checkJSON(t, get(h, "/readyz", ""), 200, `{"status":"ready"}`)
	close(b.block)
	if w := <-done; w.Code != 200 {
		t.Errorf("the query in flight: %d %s", w.Code, w.Body)
	}
	checkJSON(t, get(h, "/v1/bots/b/settings", ""), 200,
		`{"bot_id":"b","version":0,"active_messages":{"limit_enabled":false,"window_seconds":86400,"scope":"contact"}}`)
}

// A query for a partition this instance does not own is forwarded to the
// owner's advertised address, with the token, and its answer returned
// unchanged; a forwarded query is never forwarded again; with no owner (or
// an owner that cannot be asked) the answer is 503 with Retry-After.
func TestQuotaForwardedToTheOwner(t *testing.T) {
	var got []*http.Request
	owner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		_, _ = w.Write([]byte(`{"from":"owner"}`))
	}))
	defer owner.Close()
	addr := strings.TrimPrefix(owner.URL, "http://")
	b := &fakeBackend{err: pipeline.ErrNotOwned, owner: addr}
	h := newTestServer(t, Config{Token: "s3cret"}, b).Handler()

	rec := get(h, "/v1/bots/b%40x/contacts/c%2F1/quota?agent_id=a&at=2026-11-26T10:00:00Z", "Bearer s3cret")
	if rec.Code != 200 || rec.Body.String() != `{"from":"owner"}` {
		t.Fatalf("forwarded: %d %s", rec.Code, rec.Body)
	}
	if len(got) != 1 || got[0].URL.RequestURI() != "/v1/bots/b%40x/contacts/c%2F1/quota?agent_id=a&at=2026-11-26T10:00:00Z" ||
		got[0].Header.Get("Authorization") != "Bearer s3cret" || got[0].Header.Get(forwardedHeader) != "1" {
		t.Fatalf("the owner got %+v", got)
	}

	req := httptest.NewRequest(http.MethodGet, "/v1/bots/b/contacts/c/quota", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	req.Header.Set(forwardedHeader, "1")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "1" || len(got) != 1 {
		t.Fatalf("a forwarded query forwarded again or answered %d (Retry-After %q)", rec.Code, rec.Header().Get("Retry-After"))
	}

	owner.Close()
	rec = get(h, "/v1/bots/b/contacts/c/quota", "Bearer s3cret")
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("an owner that cannot be asked: %d (Retry-After %q)", rec.Code, rec.Header().Get("Retry-After"))
	}
}
