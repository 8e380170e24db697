package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sendgate/sendgate/contract"
	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
)

//go:embed static
var staticFiles embed.FS

// Config configures a Server. Zero fields mean their documented default;
// New calls EnsureDefaults and Validate.
type Config struct {
	// Brokers are the Kafka bootstrap brokers. Required.
	Brokers []string
	// ProcessorURL is the base URL of the processor's HTTP API. Default
	// "http://127.0.0.1:8080".
	ProcessorURL string
	// ProcessorToken, when set, is sent as "Authorization: Bearer <token>"
	// to the processor's query API.
	ProcessorToken string
	// Addr is where the console listens. Default "127.0.0.1:8090".
	Addr string
	// Bot is the bot the console shows. Default DefaultBot.
	Bot string
	// AttemptsTopic, SettingsTopic and VerdictsTopic default to the
	// contract's names.
	AttemptsTopic, SettingsTopic, VerdictsTopic string
	// VerdictTimeout is how long a send waits for its verdict: more than 0,
	// at most a minute. Default 15s.
	VerdictTimeout time.Duration
	// Logf receives the console's log lines. Default: discard.
	Logf func(format string, args ...any)
}

// EnsureDefaults fills in the defaults of unset fields.
func (c *Config) EnsureDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.ProcessorURL, "http://127.0.0.1:8080")
	def(&c.Addr, "127.0.0.1:8090")
	def(&c.Bot, DefaultBot)
	def(&c.AttemptsTopic, contract.AttemptsTopic)
	def(&c.SettingsTopic, contract.SettingsTopic)
	def(&c.VerdictsTopic, contract.VerdictsTopic)
	if c.VerdictTimeout == 0 {
		c.VerdictTimeout = 15 * time.Second
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
}

// Validate reports the first invalid field, naming its flag.
func (c *Config) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("--brokers: at least one broker is required")
	}
	u, err := url.Parse(c.ProcessorURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--processor-url: want a URL such as http://127.0.0.1:8080, got %q", c.ProcessorURL)
	}
	if c.Bot == "" || len(c.Bot) > events.MaxIDBytes {
		return fmt.Errorf("--bot: must be 1..%d bytes", events.MaxIDBytes)
	}
	for _, t := range []struct{ flag, v string }{{"attempts-topic", c.AttemptsTopic},
		{"settings-topic", c.SettingsTopic}, {"verdicts-topic", c.VerdictsTopic}} {
		if t.v == "" {
			return fmt.Errorf("--%s: must not be empty", t.flag)
		}
	}
	if c.VerdictTimeout <= 0 || c.VerdictTimeout > time.Minute {
		return fmt.Errorf("--verdict-timeout: must be more than 0 and at most 1m, got %s", c.VerdictTimeout)
	}
	return nil
}

// Server is the console: the page, a small JSON API for it, a Kafka
// producer of settings events and attempts, and a consumer of the verdicts
// topic that hands each verdict to the send waiting for it and pushes it to
// the open pages (Server-Sent Events).
type Server struct {
	cfg     Config
	procURL string // without a trailing slash
	kafka   *kgo.Client
	web     *http.Client
	hub     *hub
	ln      net.Listener
	srv     *http.Server
	base    context.Context
	cancel  context.CancelFunc

	// settingsMu serializes reading the current version and publishing
	// the next one, so that two saves from this console never share a
	// version.
	settingsMu sync.Mutex

	consumerMu  sync.Mutex
	consumerErr string // the last fetch error, "" once records flow again
}

// New validates cfg, listens on cfg.Addr and creates the Kafka client. It
// serves once Run is called; Run closes what New opened.
func New(cfg Config) (*Server, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("--addr %s: %w", cfg.Addr, err)
	}
	// Verdicts are stamped when published; starting a little before now
	// means no verdict of an attempt sent after start can be missed, even
	// if the first fetch is slow to resolve its offsets.
	start := time.Now().Add(-5 * time.Second).UnixMilli()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), // murmur2, as the contract requires
		kgo.ProducerLinger(0),
		kgo.ConsumeTopics(cfg.VerdictsTopic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AfterMilli(start)),
		kgo.FetchMaxWait(250*time.Millisecond),
	)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("--brokers: %w", err)
	}
	s := &Server{
		cfg:     cfg,
		procURL: strings.TrimRight(cfg.ProcessorURL, "/"),
		kafka:   cl,
		web:     &http.Client{Timeout: 5 * time.Second},
		hub:     newHub(cfg.Bot),
		ln:      ln,
	}
	s.base, s.cancel = context.WithCancel(context.Background())
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		// Sends wait up to VerdictTimeout; the event stream clears its
		// own deadline.
		WriteTimeout:   cfg.VerdictTimeout + 20*time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 16 << 10,
		BaseContext:    func(net.Listener) context.Context { return s.base },
	}
	return s, nil
}

// Addr is the address the console listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Run consumes verdicts and serves until ctx is done, then stops both and
// closes the Kafka client.
func (s *Server) Run(ctx context.Context) error {
	cctx, stopConsumer := context.WithCancel(ctx)
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		s.consume(cctx)
	}()
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	var err error
	select {
	case err = <-errc:
		err = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.cancel() // ends the event streams and the sends in flight
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(sctx)
	stopConsumer()
	<-consumed
	s.kafka.Close()
	return err
}

// consume reads the verdicts topic until ctx is done.
func (s *Server) consume(ctx context.Context) {
	for {
		fs := s.kafka.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		var errs []string
		fs.EachError(func(topic string, p int32, err error) {
			errs = append(errs, fmt.Sprintf("%s[%d]: %v", topic, p, err))
		})
		s.consumerMu.Lock()
		if len(errs) > 0 {
			msg := strings.Join(errs, "; ")
			if msg != s.consumerErr {
				s.cfg.Logf("reading verdicts: %s", msg)
			}
			s.consumerErr = msg
		} else {
			s.consumerErr = ""
		}
		s.consumerMu.Unlock()
		fs.EachRecord(func(r *kgo.Record) {
			v, err := events.DecodeVerdict(r.Value)
			if err != nil {
				s.cfg.Logf("ignoring an undecodable verdict at %s[%d]@%d: %v", r.Topic, r.Partition, r.Offset, err)
				return
			}
			s.hub.deliver(v)
		})
	}
}

// Handler returns the console's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(static)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		files.ServeHTTP(w, r)
	})
	mux.Handle("GET /static/", http.StripPrefix("/static", files))
	mux.HandleFunc("GET /api/config", s.config)
	mux.HandleFunc("GET /api/status", s.status)
	mux.HandleFunc("GET /api/settings", s.getSettings)
	mux.HandleFunc("PUT /api/settings", s.putSettings)
	mux.HandleFunc("GET /api/quota", s.quota)
	mux.HandleFunc("POST /api/send", s.send)
	mux.HandleFunc("GET /api/events", s.events)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such route: "+r.Method+" "+r.URL.Path)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) config(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"bot_id":          s.cfg.Bot,
		"processor_url":   s.cfg.ProcessorURL,
		"brokers":         s.cfg.Brokers,
		"roles":           roles,
		"agents":          agents,
		"contacts":        contacts,
		"verdict_timeout": s.cfg.VerdictTimeout.String(),
	})
}

// status reports whether the processor answers and is ready, and whether
// the verdict consumer has a fetch error.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	body := map[string]string{"processor": "ready"}
	code, msg, err := s.processorGet(r.Context(), "/readyz")
	switch {
	case err != nil:
		body["processor"], body["detail"] = "unreachable", err.Error()
	case code != http.StatusOK:
		body["processor"], body["detail"] = "starting", strings.TrimSpace(string(msg))
	}
	s.consumerMu.Lock()
	if s.consumerErr != "" {
		body["verdicts"] = s.consumerErr
	}
	s.consumerMu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

// processorGet GETs path from the processor's API.
func (s *Server) processorGet(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.procURL+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if s.cfg.ProcessorToken != "" {
		req.Header.Set("Authorization", "Bearer "+s.cfg.ProcessorToken)
	}
	resp, err := s.web.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("processor at %s: %w", s.cfg.ProcessorURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("processor at %s: %w", s.cfg.ProcessorURL, err)
	}
	return resp.StatusCode, b, nil
}

// proxy answers with what the processor answered for path: its JSON and
// status, or 502 when it cannot be reached.
func (s *Server) proxy(w http.ResponseWriter, r *http.Request, path string) {
	code, b, err := s.processorGet(r.Context(), path)
	if err != nil {
		writeError(w, http.StatusBadGateway, err.Error()+" (is the processor running?)")
		return
	}
	if !json.Valid(b) {
		writeError(w, http.StatusBadGateway, fmt.Sprintf("processor at %s answered %d with no JSON", s.cfg.ProcessorURL, code))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// botSettings is the processor's settings body.
type botSettings struct {
	BotID          string `json:"bot_id"`
	Version        int64  `json:"version"`
	ActiveMessages struct {
		LimitEnabled  bool   `json:"limit_enabled"`
		MaxPerContact int    `json:"max_per_contact,omitempty"`
		WindowSeconds int64  `json:"window_seconds"`
		Scope         string `json:"scope"`
	} `json:"active_messages"`
}

func (s *Server) settingsPath() string { return "/v1/bots/" + url.PathEscape(s.cfg.Bot) + "/settings" }

// currentSettings reads the bot's settings from the processor.
func (s *Server) currentSettings(ctx context.Context) (botSettings, error) {
	var b botSettings
	code, body, err := s.processorGet(ctx, s.settingsPath())
	if err != nil {
		return b, err
	}
	if code != http.StatusOK {
		return b, fmt.Errorf("processor at %s: settings: %d %s", s.cfg.ProcessorURL, code, bytes.TrimSpace(body))
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return b, fmt.Errorf("processor at %s: settings: %w", s.cfg.ProcessorURL, err)
	}
	return b, nil
}

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request) {
	s.proxy(w, r, s.settingsPath())
}

// settingsRequest is the body of PUT /api/settings.
type settingsRequest struct {
	// BaseVersion, when given, is the version the form was loaded at: a
	// save over a newer version is refused (409) rather than overwriting it.
	BaseVersion   *int64 `json:"base_version"`
	LimitEnabled  bool   `json:"limit_enabled"`
	MaxPerContact int    `json:"max_per_contact"`
	WindowSeconds int64  `json:"window_seconds"`
	Scope         string `json:"scope"`
}

// putSettings publishes a desk.settings.changed event with the next version,
// for a role with the "edit bot general settings" permission, then waits
// (briefly) for the processor to apply it.
func (s *Server) putSettings(w http.ResponseWriter, r *http.Request) {
	role, ok := roleByID(r.Header.Get("X-Desk-Role"))
	if !ok || !role.CanEditSettings {
		writeError(w, http.StatusForbidden, `changing the bot's settings needs the "edit bot general settings" permission; switch the role to Admin`)
		return
	}
	var req settingsRequest
	if !readJSON(w, r, &req) {
		return
	}
	st := quota.Settings{Enabled: req.LimitEnabled, Max: req.MaxPerContact, WindowMs: req.WindowSeconds * 1000}
	switch sc, ok := quota.ParseScope(req.Scope); {
	case req.Scope == "":
		st.Scope = quota.ScopeContact
	case !ok:
		writeError(w, http.StatusBadRequest, fmt.Sprintf(`scope: must be "contact" or "agent_contact", got %q`, req.Scope))
		return
	default:
		st.Scope = sc
	}
	if req.WindowSeconds == 0 {
		st.WindowMs = quota.DefaultWindowSeconds * 1000
	}
	switch {
	case (req.LimitEnabled || req.MaxPerContact != 0) && (req.MaxPerContact < quota.MinMax || req.MaxPerContact > quota.MaxMax):
		writeError(w, http.StatusBadRequest, fmt.Sprintf("max_per_contact: the maximum per customer must be %d to %d, got %d", quota.MinMax, quota.MaxMax, req.MaxPerContact))
		return
	case st.WindowSeconds() < quota.MinWindowSeconds || st.WindowSeconds() > quota.MaxWindowSeconds:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("window_seconds: the window must be %d s (1 minute) to %d s (30 days), got %d", quota.MinWindowSeconds, quota.MaxWindowSeconds, req.WindowSeconds))
		return
	}

	s.settingsMu.Lock()
	defer s.settingsMu.Unlock()
	cur, err := s.currentSettings(r.Context())
	if err != nil {
		writeError(w, http.StatusBadGateway, "reading the current settings version: "+err.Error()+" (is the processor running?)")
		return
	}
	if req.BaseVersion != nil && *req.BaseVersion != cur.Version {
		writeJSON(w, http.StatusConflict, map[string]any{
			"error":   fmt.Sprintf("the settings changed since this page loaded them (version %d, now %d); reload them and save again", *req.BaseVersion, cur.Version),
			"version": cur.Version,
		})
		return
	}
	st.Version = cur.Version + 1
	ev := events.SettingsChanged{ID: "set-desk-" + randomHex(), BotID: s.cfg.Bot, ChangedBy: role.User, Settings: st}
	pctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	rec := &kgo.Record{Topic: s.cfg.SettingsTopic, Key: []byte(s.cfg.Bot), Value: events.AppendSettingsEvent(nil, &ev, time.Now().UnixMilli())}
	if err := s.kafka.ProduceSync(pctx, rec).FirstErr(); err != nil {
		writeError(w, http.StatusBadGateway, fmt.Sprintf("publishing the settings to %s: %v (is the broker at %s up?)", s.cfg.SettingsTopic, err, strings.Join(s.cfg.Brokers, ",")))
		return
	}
	s.cfg.Logf("published settings version %d for %s by %s", st.Version, s.cfg.Bot, role.User)

	// Kafka acknowledged the event, so every attempt fetched from now on is
	// decided under it; the query API follows the settings topic a moment
	// later. Wait for that, so the page shows what is in force.
	applied := false
	var now botSettings
	for wait := time.Now().Add(5 * time.Second); time.Now().Before(wait) && r.Context().Err() == nil; {
		if now, err = s.currentSettings(r.Context()); err == nil && now.Version >= st.Version {
			applied = true
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp := map[string]any{"version": st.Version, "applied": applied, "changed_by": role.User}
	if applied {
		resp["settings"] = now
	}
	s.hub.broadcast(sseEvent{name: "settings", data: mustJSON(map[string]any{"version": st.Version, "changed_by": role.User})})
	writeJSON(w, http.StatusOK, resp)
}

// quota proxies the processor's quota query for one of the bot's contacts.
func (s *Server) quota(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	contact, agent := q.Get("contact_id"), q.Get("agent_id")
	if contact == "" || len(contact) > events.MaxIDBytes || len(agent) > events.MaxIDBytes {
		writeError(w, http.StatusBadRequest, "contact_id: required, at most 256 bytes (agent_id too)")
		return
	}
	path := "/v1/bots/" + url.PathEscape(s.cfg.Bot) + "/contacts/" + url.PathEscape(contact) + "/quota"
	if agent != "" {
		path += "?agent_id=" + url.QueryEscape(agent)
	}
	s.proxy(w, r, path)
}

// sendRequest is the body of POST /api/send.
type sendRequest struct {
	AgentID   string `json:"agent_id"`
	ContactID string `json:"contact_id"`
}

// send publishes a desk.active_message.requested event and answers with its
// verdict.
func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	var req sendRequest
	if !readJSON(w, r, &req) {
		return
	}
	if !known(agents, req.AgentID) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("agent_id: unknown agent %q", req.AgentID))
		return
	}
	if !known(contacts, req.ContactID) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("contact_id: unknown contact %q", req.ContactID))
		return
	}
	id := "att-desk-" + randomHex()
	verdict := s.hub.wait(id)
	defer s.hub.unwait(id)
	pctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	rec := &kgo.Record{Topic: s.cfg.AttemptsTopic, Key: []byte(s.cfg.Bot + "/" + req.ContactID),
		Value: events.AppendAttempt(nil, id, s.cfg.Bot, req.ContactID, req.AgentID, time.Now().UnixMilli())}
	if err := s.kafka.ProduceSync(pctx, rec).FirstErr(); err != nil {
		writeError(w, http.StatusBadGateway, fmt.Sprintf("publishing the attempt to %s: %v (is the broker at %s up, and has the processor created its topics?)",
			s.cfg.AttemptsTopic, err, strings.Join(s.cfg.Brokers, ",")))
		return
	}
	t := time.NewTimer(s.cfg.VerdictTimeout)
	defer t.Stop()
	select {
	case v := <-verdict:
		writeJSON(w, http.StatusOK, toJSON(v))
	case <-t.C:
		writeJSON(w, http.StatusGatewayTimeout, map[string]string{"attempt_id": id,
			"error": fmt.Sprintf("no verdict for attempt %s within %s: is the processor running and consuming %s?", id, s.cfg.VerdictTimeout, s.cfg.AttemptsTopic)})
	case <-r.Context().Done():
	}
}

// events streams the bot's verdicts (and settings saves) to the page as
// Server-Sent Events, starting with the recent ones.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	ch, backlog := s.hub.subscribe()
	defer s.hub.unsubscribe(ch)
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "retry: 2000\n\n")
	for _, e := range backlog {
		e.write(w)
	}
	if rc.Flush() != nil {
		return
	}
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case e, ok := <-ch:
			if !ok {
				return // too slow: the page reconnects and resyncs
			}
			e.write(w)
		case <-ping.C:
			_, _ = io.WriteString(w, ": ping\n\n")
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// verdictJSON is a verdict as the page gets it: the verdict event's data,
// with times also in Unix ms.
type verdictJSON struct {
	AttemptID         string `json:"attempt_id"`
	BotID             string `json:"bot_id,omitempty"`
	ContactID         string `json:"contact_id,omitempty"`
	AgentID           string `json:"agent_id,omitempty"`
	Verdict           string `json:"verdict"`
	Reason            string `json:"reason"`
	Scope             string `json:"scope,omitempty"`
	LimitEnabled      bool   `json:"limit_enabled"`
	Limit             *int   `json:"limit,omitempty"`
	Used              *int   `json:"used,omitempty"`
	Remaining         *int   `json:"remaining,omitempty"`
	WindowSeconds     int64  `json:"window_seconds,omitempty"`
	RetryAt           string `json:"retry_at,omitempty"`
	RetryAtMs         int64  `json:"retry_at_ms,omitempty"`
	RetryAfterSeconds int64  `json:"retry_after_seconds,omitempty"`
	DecidedAt         string `json:"decided_at"`
	DecidedAtMs       int64  `json:"decided_at_ms"`
	SettingsVersion   int64  `json:"settings_version"`
	Error             string `json:"error,omitempty"`
	// Replay marks a verdict sent from the backlog when the stream opens.
	Replay bool `json:"replay,omitempty"`
}

func toJSON(v events.Verdict) verdictJSON {
	j := verdictJSON{
		AttemptID: v.AttemptID, BotID: v.BotID, ContactID: v.ContactID, AgentID: v.AgentID,
		Verdict: v.Outcome.String(), Reason: v.Reason.String(),
		DecidedAt: string(events.AppendTime(nil, v.DecidedAt)), DecidedAtMs: v.DecidedAt,
		Error: v.Error,
	}
	if v.Outcome == events.Rejected {
		return j
	}
	used := v.Used
	j.Scope, j.Used, j.WindowSeconds, j.SettingsVersion = v.Scope.String(), &used, v.WindowSeconds, v.SettingsVersion
	if v.Enabled {
		limit, rem := v.Limit, v.Remaining
		j.LimitEnabled, j.Limit, j.Remaining = true, &limit, &rem
	}
	if v.RetryAt != 0 {
		j.RetryAt, j.RetryAtMs, j.RetryAfterSeconds = string(events.AppendTime(nil, v.RetryAt)), v.RetryAt, v.RetryAfterSeconds
	}
	return j
}

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	name string
	data []byte // one line of JSON
}

func (e sseEvent) write(w io.Writer) {
	_, _ = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.name, e.data)
}

// recentVerdicts is how many of the bot's latest verdicts a new event
// stream starts with.
const recentVerdicts = 50

// hub hands verdicts to the sends waiting for them, by attempt id, and to
// the event streams of the open pages.
type hub struct {
	bot     string
	mu      sync.Mutex
	waiters map[string]chan events.Verdict
	subs    map[chan sseEvent]struct{}
	recent  []verdictJSON
}

func newHub(bot string) *hub {
	return &hub{bot: bot, waiters: map[string]chan events.Verdict{}, subs: map[chan sseEvent]struct{}{}}
}

// wait registers a send waiting for the verdict of attempt id; unwait ends
// the wait.
func (h *hub) wait(id string) <-chan events.Verdict {
	ch := make(chan events.Verdict, 1)
	h.mu.Lock()
	h.waiters[id] = ch
	h.mu.Unlock()
	return ch
}

func (h *hub) unwait(id string) {
	h.mu.Lock()
	delete(h.waiters, id)
	h.mu.Unlock()
}

// deliver hands v to its waiting send, if any, and streams it when it is
// about the console's bot or answers one of its sends.
func (h *hub) deliver(v events.Verdict) {
	h.mu.Lock()
	ch, mine := h.waiters[v.AttemptID]
	if mine {
		delete(h.waiters, v.AttemptID)
		ch <- v
	}
	h.mu.Unlock()
	if !mine && v.BotID != h.bot {
		return
	}
	j := toJSON(v)
	h.mu.Lock()
	h.recent = append(h.recent, j)
	if len(h.recent) > recentVerdicts {
		h.recent = append(h.recent[:0], h.recent[len(h.recent)-recentVerdicts:]...)
	}
	h.mu.Unlock()
	h.broadcast(sseEvent{name: "verdict", data: mustJSON(j)})
}

// broadcast sends e to every stream; a stream whose buffer is full is
// closed (its page reconnects and reloads what it shows).
func (h *hub) broadcast(e sseEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- e:
		default:
			delete(h.subs, ch)
			close(ch)
		}
	}
}

// subscribe opens a stream and returns the recent verdicts to send first.
func (h *hub) subscribe() (chan sseEvent, []sseEvent) {
	ch := make(chan sseEvent, 64)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs[ch] = struct{}{}
	backlog := make([]sseEvent, 0, len(h.recent))
	for _, j := range h.recent {
		j.Replay = true
		backlog = append(backlog, sseEvent{name: "verdict", data: mustJSON(j)})
	}
	return ch, backlog
}

func (h *hub) unsubscribe(ch chan sseEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[ch]; ok {
		delete(h.subs, ch)
		close(ch)
	}
}

// readJSON decodes a JSON request body into v, answering 415 or 400 itself
// when it cannot. Requiring application/json also means a cross-site form
// cannot post here without a CORS preflight, which this server never grants.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type: must be application/json")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "body: "+err.Error())
		return false
	}
	return true
}

func randomHex() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs and maps are marshalled
	}
	return b
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
