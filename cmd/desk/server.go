package main

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sendgate/sendgate/internal/httpjson"
)

//go:embed static
var staticFiles embed.FS

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
	mux.HandleFunc("/", httpjson.NotFound)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		mux.ServeHTTP(w, r)
	})
}
