// Command desk is a small web console that plays Blip Desk and the sender
// against a running sendgate processor: an admin enables the per-customer
// active-message limit in General settings, an agent sends active messages
// to demo contacts, and the console shows what the agent sees (the warning
// icon, the countdown tooltip, the error and success toasts).
//
//	desk --brokers 127.0.0.1:9092 --processor-url http://127.0.0.1:8080 --addr 127.0.0.1:8090
//
// The browser talks only to this server; it publishes settings events and
// attempts to Kafka, waits for the verdicts and reads the processor's query
// API. The page is embedded in the binary: nothing is downloaded at run time.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sendgate/sendgate/contract"
	"github.com/sendgate/sendgate/flagenv"
	"github.com/sendgate/sendgate/internal/cli"
)

func main() {
	cli.Main(run)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, getenv, stderr)
	if code, exit := cli.ParseExit(stderr, "desk", err); exit {
		return code
	}
	cfg.Logf = func(format string, args ...any) {
		fmt.Fprintf(stderr, "desk: "+format+"\n", args...)
	}
	s, err := New(cfg)
	if err != nil {
		return cli.Fail(stderr, "desk", err)
	}
	fmt.Fprintf(stdout, "Desk console: http://%s (bot %s, processor %s, brokers %s)\n",
		s.Addr(), cfg.Bot, cfg.ProcessorURL, strings.Join(cfg.Brokers, ","))
	if err := s.Run(ctx); err != nil {
		return cli.Fail(stderr, "desk", err)
	}
	return 0
}

// envPrefix starts the console's variables: its flags are not the
// processor's, so they are not SENDGATE_*.
const envPrefix = "DESK_"

// parseFlags reads the flags; every flag can also be set as DESK_<FLAG>
// (upper case, dashes as underscores), a flag on the command line wins
// (package flagenv).
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("desk", flag.ContinueOnError)
	fs.SetOutput(stderr)
	brokers := fs.String("brokers", "127.0.0.1:9092", "comma-separated Kafka bootstrap brokers (the processor's embedded broker by default)")
	procURL := fs.String("processor-url", "http://127.0.0.1:8080", "base URL of the processor's HTTP API")
	procToken := fs.String("processor-token", "", "bearer token for the processor's query API, when it requires one")
	addr := fs.String("addr", "127.0.0.1:8090", "where the console listens")
	bot := fs.String("bot", DefaultBot, "the bot whose settings and contacts the console shows")
	attempts := fs.String("attempts-topic", contract.AttemptsTopic, "attempts topic")
	settings := fs.String("settings-topic", contract.SettingsTopic, "settings topic")
	verdicts := fs.String("verdicts-topic", contract.VerdictsTopic, "verdicts topic")
	timeout := fs.Duration("verdict-timeout", 15*time.Second, "how long a send waits for its verdict")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: desk [flags]\n\nThe Desk console: settings, active messages and verdicts of one bot, in the browser.\nEvery flag can also be set as DESK_<FLAG>, e.g. DESK_PROCESSOR_URL.\n\nflags:")
		fs.PrintDefaults()
	}
	if _, err := flagenv.Parse(fs, envPrefix, args, getenv); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	cfg := Config{
		ProcessorURL:   *procURL,
		ProcessorToken: *procToken,
		Addr:           *addr,
		Bot:            *bot,
		AttemptsTopic:  *attempts,
		SettingsTopic:  *settings,
		VerdictsTopic:  *verdicts,
		VerdictTimeout: *timeout,
	}
	for _, b := range strings.Split(*brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			cfg.Brokers = append(cfg.Brokers, b)
		}
	}
	return cfg, cfg.Validate()
}
