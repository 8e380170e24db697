package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/internal/httpjson"
	"github.com/sendgate/sendgate/pipeline"
	"github.com/sendgate/sendgate/quota"
)

// Backend answers the queries; *pipeline.Runner is one.
type Backend interface {
	// Ready reports whether the processor is ready to decide.
	Ready() bool
	// Settings returns the settings in force for bot.
	Settings(bot string) quota.Settings
	// Quota evaluates a contact's limit at time at for an attempt of agent
	// and category ("" for none); pipeline.ErrNotOwned when this instance
	// does not own (or has not restored) the contact's partition.
	Quota(bot, contact, agent, category string, at time.Time) (quota.Decision, quota.Settings, error)
	// Owner returns the HTTP address (host:port) of the instance that owns
	// the contact's partition, to forward a quota query to; "" when none
	// other is known.
	Owner(bot, contact string) (string, error)
}

// Config configures a Server.
type Config struct {
	// Addr is the listen address. Default "127.0.0.1:8080".
	Addr string
	// Gatherer serves /metrics; default prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	// Token, when set, is required as "Authorization: Bearer <token>" on
	// the query routes (/v1/...); probes and metrics stay open.
	Token string
	// MaxInFlight bounds concurrent query requests; more get 429.
	// Default 256.
	MaxInFlight int
	// Pprof serves the runtime profiles under /debug/pprof/ (off by
	// default; they are not behind Token).
	Pprof bool
	// Logger receives request errors.
	Logger zerolog.Logger
	// now is the clock for "at" defaults; default time.Now.
	now func() time.Time
}

// Server is the HTTP server.
type Server struct {
	cfg     Config
	backend Backend
	srv     *http.Server
	ln      net.Listener
	slots   chan struct{}
	client  *http.Client // forwards quota queries to their owners
}

// New listens on cfg.Addr (so a bad address fails at start, naming the flag)
// and returns a Server that serves once Serve is called.
func New(cfg Config, b Backend) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.DefaultGatherer
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 256
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("api: http-addr %s: %w", cfg.Addr, err)
	}
	s := &Server{cfg: cfg, backend: b, ln: ln, slots: make(chan struct{}, cfg.MaxInFlight),
		client: &http.Client{Timeout: forwardTimeout}}
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      60 * time.Second, // a CPU profile takes 30 s
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Run serves until ctx is done, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("api: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.srv.Shutdown(sctx)
	return nil
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if s.backend.Ready() {
			httpjson.Write(w, http.StatusOK, map[string]string{"status": "ready"})
			return
		}
		httpjson.Write(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready"})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /v1/bots/{bot_id}/settings", s.guard(s.settings))
	mux.HandleFunc("GET /v1/bots/{bot_id}/contacts/{contact_id}/quota", s.guard(s.quota))
	if s.cfg.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("/", httpjson.NotFound)
	return mux
}

// guard checks the bearer token and bounds the requests in flight.
func (s *Server) guard(h http.HandlerFunc) http.HandlerFunc {
	want := []byte("Bearer " + s.cfg.Token)
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Token != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sendgate"`)
			httpjson.Error(w, http.StatusUnauthorized, "authorization: a valid bearer token is required")
			return
		}
		select {
		case s.slots <- struct{}{}:
			defer func() { <-s.slots }()
		default:
			httpjson.Error(w, http.StatusTooManyRequests, "too many requests in flight; retry shortly")
			return
		}
		h(w, r)
	}
}

// settingsBody is the response of GET /v1/bots/{bot_id}/settings.
type settingsBody struct {
	BotID          string         `json:"bot_id"`
	Version        int64          `json:"version"`
	ActiveMessages activeMessages `json:"active_messages"`
}

type activeMessages struct {
	LimitEnabled     bool       `json:"limit_enabled"`
	MaxPerContact    *int       `json:"max_per_contact,omitempty"`
	WindowSeconds    int64      `json:"window_seconds"`
	Scope            string     `json:"scope"`
	Rules            []ruleBody `json:"rules,omitempty"`
	ExemptCategories []string   `json:"exempt_categories,omitempty"`
}

// ruleBody is a rule in the settings answer, every default filled in.
type ruleBody struct {
	Name          string   `json:"name"`
	Max           int      `json:"max"`
	WindowSeconds *int64   `json:"window_seconds,omitempty"`
	Calendar      string   `json:"calendar,omitempty"`
	TimeZone      string   `json:"time_zone,omitempty"`
	Scope         string   `json:"scope"`
	Mode          string   `json:"mode"`
	Categories    []string `json:"categories,omitempty"`
}

func rulesBody(rules []quota.Rule) []ruleBody {
	var out []ruleBody
	for i := range rules {
		r := &rules[i]
		b := ruleBody{Name: r.Name, Max: r.Max, Calendar: r.Calendar.String(), TimeZone: r.ZoneName(),
			Scope: r.Scope.String(), Mode: mode(r.Shadow), Categories: r.Categories}
		if r.Calendar == quota.Rolling {
			w := r.WindowMs / 1000
			b.WindowSeconds = &w
		}
		out = append(out, b)
	}
	return out
}

func mode(shadow bool) string {
	if shadow {
		return "shadow"
	}
	return "enforce"
}

func (s *Server) settings(w http.ResponseWriter, r *http.Request) {
	bot := r.PathValue("bot_id")
	if msg := checkID("bot_id", bot); msg != "" {
		httpjson.Error(w, http.StatusBadRequest, msg)
		return
	}
	st := s.backend.Settings(bot)
	body := settingsBody{BotID: bot, Version: st.Version, ActiveMessages: activeMessages{
		LimitEnabled: st.Enabled, WindowSeconds: st.WindowSeconds(), Scope: st.Scope.String(),
		Rules: rulesBody(st.Rules), ExemptCategories: st.Exempt,
	}}
	if st.Max > 0 {
		m := st.Max
		body.ActiveMessages.MaxPerContact = &m
	}
	httpjson.Write(w, http.StatusOK, body)
}

// quotaBody is the response of the quota query. Rule, Calendar, TimeZone and
// Rules are there only for a bot with rules or exempt categories whose limit
// is enabled, Exempt only for an exempt category; WindowSeconds is absent
// when the binding rule is a calendar one.
type quotaBody struct {
	BotID             string      `json:"bot_id"`
	ContactID         string      `json:"contact_id"`
	AgentID           string      `json:"agent_id,omitempty"`
	LimitEnabled      bool        `json:"limit_enabled"`
	Exempt            bool        `json:"exempt,omitempty"`
	Rule              string      `json:"rule,omitempty"`
	Limit             *int        `json:"limit,omitempty"`
	Used              int         `json:"used"`
	Remaining         *int        `json:"remaining,omitempty"`
	WindowSeconds     *int64      `json:"window_seconds,omitempty"`
	Calendar          string      `json:"calendar,omitempty"`
	TimeZone          string      `json:"time_zone,omitempty"`
	RetryAt           *string     `json:"retry_at,omitempty"`
	RetryAfterSeconds *int64      `json:"retry_after_seconds,omitempty"`
	Rules             []ruleUsage `json:"rules,omitempty"`
}

// ruleUsage is one rule's state in a quota answer.
type ruleUsage struct {
	Name       string  `json:"name"`
	Mode       string  `json:"mode"`
	Limit      int     `json:"limit"`
	Used       int     `json:"used"`
	Remaining  int     `json:"remaining"`
	RetryAt    *string `json:"retry_at,omitempty"`
	WouldBlock bool    `json:"would_block,omitempty"`
}

// quotaAnswer is the quota answer of decision d (quota.Usage): its window is
// the one the decision describes (the binding rule's, or the default rule's).
func quotaAnswer(bot, contact, agent string, d quota.Decision) quotaBody {
	body := quotaBody{BotID: bot, ContactID: contact, AgentID: agent, LimitEnabled: d.Enabled, Used: d.Used}
	if d.Calendar == quota.Rolling {
		w := d.WindowMs / 1000
		body.WindowSeconds = &w
	} else {
		body.Calendar, body.TimeZone = d.Calendar.String(), d.Zone.String()
	}
	if d.Reason == quota.Exempt {
		body.Exempt = true
		return body
	}
	if d.Enabled {
		l, rem := d.Limit, d.Remaining
		body.Limit, body.Remaining = &l, &rem
	}
	if d.RetryAt != 0 {
		ts := string(events.AppendTime(nil, d.RetryAt))
		ra := d.RetryAfterSeconds
		body.RetryAt, body.RetryAfterSeconds = &ts, &ra
	}
	body.Rule = d.Rule
	for _, u := range d.Rules {
		ru := ruleUsage{Name: u.Name, Mode: mode(u.Shadow), Limit: u.Limit, Used: u.Used, Remaining: u.Remaining, WouldBlock: u.WouldBlock}
		if u.RetryAt != 0 {
			ts := string(events.AppendTime(nil, u.RetryAt))
			ru.RetryAt = &ts
		}
		body.Rules = append(body.Rules, ru)
	}
	return body
}

func (s *Server) quota(w http.ResponseWriter, r *http.Request) {
	bot, contact := r.PathValue("bot_id"), r.PathValue("contact_id")
	q := r.URL.Query()
	agent := q.Get("agent_id")
	for _, c := range []struct{ name, v string }{{"bot_id", bot}, {"contact_id", contact}} {
		if msg := checkID(c.name, c.v); msg != "" {
			httpjson.Error(w, http.StatusBadRequest, msg)
			return
		}
	}
	if q.Has("agent_id") {
		if msg := checkID("agent_id", agent); msg != "" {
			httpjson.Error(w, http.StatusBadRequest, msg)
			return
		}
	}
	category := q.Get("category")
	if q.Has("category") {
		switch {
		case category == "":
			httpjson.Error(w, http.StatusBadRequest, "category: must not be empty (leave it out for an attempt without a category)")
			return
		case len(category) > quota.MaxCategoryLen:
			httpjson.Error(w, http.StatusBadRequest, fmt.Sprintf("category: must be at most %d bytes, got %d", quota.MaxCategoryLen, len(category)))
			return
		}
	}
	at := s.cfg.now()
	if v := q.Get("at"); v != "" || q.Has("at") {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			httpjson.Error(w, http.StatusBadRequest, fmt.Sprintf("at: must be an RFC 3339 time such as 2026-11-26T10:00:00Z, got %q", v))
			return
		}
		at = t
	}
	if st := s.backend.Settings(bot); agent == "" && st.NeedsAgent(category) {
		httpjson.Error(w, http.StatusBadRequest, agentRequired)
		return
	}
	d, st, err := s.backend.Quota(bot, contact, agent, category, at)
	if errors.Is(err, pipeline.ErrNotOwned) {
		if r.Header.Get(forwardedHeader) == "" {
			owner, oerr := s.backend.Owner(bot, contact)
			if oerr != nil {
				s.cfg.Logger.Warn().Err(oerr).Msg("finding the owner of a contact's partition")
			}
			if owner != "" && s.forward(w, r, owner) {
				return
			}
		}
		// A takeover in progress: no instance has the partition ready.
		w.Header().Set("Retry-After", "1")
		httpjson.Error(w, http.StatusServiceUnavailable, "no instance has the contact's partition ready (a takeover in progress): retry")
		return
	}
	if err != nil {
		s.cfg.Logger.Error().Err(err).Str("bot_id", bot).Str("contact_id", contact).Msg("quota query failed")
		httpjson.Error(w, http.StatusServiceUnavailable, "quota unavailable; try again")
		return
	}
	if agent == "" && st.NeedsAgent(category) {
		httpjson.Error(w, http.StatusBadRequest, agentRequired)
		return
	}
	httpjson.Write(w, http.StatusOK, quotaAnswer(bot, contact, agent, d))
}

// agentRequired is the 400 of a quota query without agent_id that needs one.
const agentRequired = "agent_id: required: the bot's limit scope, or that of a rule that applies, is agent_contact"

func checkID(name, v string) string {
	switch {
	case v == "":
		return name + ": must not be empty"
	case len(v) > events.MaxIDBytes:
		return fmt.Sprintf("%s: must be at most %d bytes, got %d", name, events.MaxIDBytes, len(v))
	}
	return ""
}
