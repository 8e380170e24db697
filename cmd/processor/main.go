// Command processor is sendgate: it decides every active-message send
// attempt against its bot's per-customer limit. See README.md.
//
// Without --brokers it starts an embedded Kafka-protocol broker (the
// single-machine development mode).
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"github.com/sendgate/sendgate/api"
	"github.com/sendgate/sendgate/broker"
	"github.com/sendgate/sendgate/internal/cli"
	"github.com/sendgate/sendgate/pipeline"
	"github.com/sendgate/sendgate/state"
)

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stderr))
}

func run(args, environ []string, stderr io.Writer) int {
	opts, err := parseOptions(args, environ, stderr)
	if code, exit := cli.ParseExit(stderr, "processor", err); exit {
		return code
	}
	log := zerolog.New(stderr).Level(opts.logLevel).With().Timestamp().Str("service", "sendgate").Logger()
	for _, w := range opts.warnings {
		log.Warn().Msg(w)
	}
	if opts.checkConfig {
		fmt.Fprintln(stderr, "processor: configuration is valid")
		return 0
	}
	ctx, stop := cli.SignalContext()
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the process at once
		log.Info().Msg("shutting down: finishing the batches in hand")
	}()
	if err := serve(ctx, opts, log); err != nil {
		log.Error().Err(err).Msg("processor stopped")
		return 1
	}
	log.Info().Msg("stopped")
	return 0
}

// serve wires the components and runs them until ctx is done.
func serve(ctx context.Context, o *options, log zerolog.Logger) error {
	brokers := o.brokers
	if len(brokers) == 0 {
		b, err := broker.Start(broker.Config{
			Addr: o.embeddedAddr, Dir: filepath.Join(o.dataDir, "broker"), Partitions: o.pipeline.Partitions,
			SyncWrites: o.embeddedSync,
			Logf: func(level, msg string, args ...any) {
				log.Debug().Str("component", "embedded-broker").Str("broker_level", level).Msgf(msg, args...)
			},
		})
		if err != nil {
			return err
		}
		defer b.Close()
		brokers = []string{b.Addr()}
		// kfake commits a transaction partition by partition, with no
		// transaction log: a kill -9 in the middle can commit it on the
		// changelog and abort it on the verdicts.
		o.pipeline.ReemitLastBatch = true
		log.Warn().Str("addr", b.Addr()).Str("log_dir", filepath.Join(o.dataDir, "broker")).
			Msg("no --brokers: started the embedded Kafka-protocol broker; this is the single-machine development mode, not for production")
	}
	store, err := state.Open(filepath.Join(o.dataDir, "state"), state.Options{
		Logf: func(format string, args ...any) {
			log.Debug().Str("component", "pebble").Msgf(format, args...)
		},
	})
	if err != nil {
		return fmt.Errorf("data-dir %s: %w", o.dataDir, err)
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error().Err(err).Msg("closing the state store")
		}
	}()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg := o.pipeline
	cfg.Brokers = brokers
	cfg.Logger = log
	runner, err := pipeline.New(cfg, store, reg)
	if err != nil {
		return err
	}
	srv, err := api.New(api.Config{Addr: o.httpAddr, Gatherer: reg, Logger: log, Token: o.httpToken, Pprof: o.pprof}, runner)
	if err != nil {
		return err
	}
	runner.Advertise(advertisedAddr(o.advertised, srv.Addr()))
	log.Info().Strs("brokers", brokers).Str("http", srv.Addr()).Str("data_dir", o.dataDir).
		Str("attempts_topic", cfg.AttemptsTopic).Str("verdicts_topic", cfg.VerdictsTopic).Msg("sendgate starting")

	hctx, hcancel := context.WithCancel(context.Background())
	herr := make(chan error, 1)
	go func() { herr <- srv.Run(hctx) }()
	rerr := runner.Run(ctx)
	hcancel()
	// The HTTP server stops (1 s at most) before the store closes under it.
	if err := <-herr; err != nil && rerr == nil {
		rerr = err
	}
	return rerr
}

// advertisedAddr is the address other instances forward quota queries to:
// the flag's, or the address the API listens on, with this host's name for
// an unspecified (all interfaces) one.
func advertisedAddr(flag, listening string) string {
	if flag != "" {
		return flag
	}
	host, port, err := net.SplitHostPort(listening)
	if err != nil {
		return listening
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if h, err := os.Hostname(); err == nil {
			return net.JoinHostPort(h, port)
		}
	}
	return listening
}
