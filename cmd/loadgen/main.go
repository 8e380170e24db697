// Command loadgen publishes a synthetic workload of active-message attempts
// to sendgate, measures decisions/s and verdict latency, and checks every
// verdict against a model of the rule. It exits 1 when a verdict is missing
// or differs from the model's, 2 on bad flags.
//
//	loadgen --brokers 127.0.0.1:9092 --attempts 200000 --contacts 20000
//	loadgen --rate 5000 --attempts 150000 --duplicates 0.02 --failed 0.02 --json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/sendgate/sendgate/contract"
	"github.com/sendgate/sendgate/flagenv"
	"github.com/sendgate/sendgate/internal/cli"
	"github.com/sendgate/sendgate/loadgen"
)

func main() {
	cli.Main(run)
}

// parse reads the flags from args and, for --brokers and the topics when
// args does not set them, the processor's variables SENDGATE_BROKERS and
// SENDGATE_<X>_TOPIC (package flagenv).
func parse(args []string, getenv func(string) string, stderr io.Writer) (cfg loadgen.Config, asJSON bool, err error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	brokers := fs.String("brokers", "127.0.0.1:9092", "comma-separated bootstrap brokers")
	fs.StringVar(&cfg.AttemptsTopic, "attempts-topic", contract.AttemptsTopic, "attempts topic")
	fs.StringVar(&cfg.SettingsTopic, "settings-topic", contract.SettingsTopic, "settings topic")
	fs.StringVar(&cfg.VerdictsTopic, "verdicts-topic", contract.VerdictsTopic, "verdicts topic")
	fs.IntVar(&cfg.Attempts, "attempts", 100_000, "distinct attempts to publish")
	fs.Float64Var(&cfg.Rate, "rate", 0, "records per second; 0 publishes as fast as possible")
	fs.IntVar(&cfg.Bots, "bots", loadgen.DefaultBots, "bots")
	fs.IntVar(&cfg.Contacts, "contacts", loadgen.DefaultContacts, "distinct contacts (bot/contact keys) over all bots")
	fs.IntVar(&cfg.Agents, "agents", loadgen.DefaultAgents, "agents")
	fs.IntVar(&cfg.Limit, "limit", loadgen.DefaultLimit, "max_per_contact of the bots with the limit enabled")
	fs.DurationVar(&cfg.Window, "window", loadgen.DefaultWindow, "window of every bot")
	fs.Float64Var(&cfg.AgentContact, "agent-contact", 0.1, "fraction of bots with scope agent_contact")
	fs.Float64Var(&cfg.Disabled, "disabled", 0.1, "fraction of bots with the limit disabled")
	fs.Float64Var(&cfg.Duplicates, "duplicates", 0, "extra records re-sending an earlier attempt id, as a fraction of --attempts")
	fs.Float64Var(&cfg.Failed, "failed", 0, "extra send-failed events, as a fraction of --attempts")
	fs.Float64Var(&cfg.Invalid, "invalid", 0, "fraction of the attempts that are invalid (rejected)")
	fs.DurationVar(&cfg.Span, "span", 0, "simulated time the record timestamps cover, ending now (default: ~4 attempts per contact per window)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "workload seed")
	fs.DurationVar(&cfg.Linger, "linger", loadgen.DefaultLinger, "producer linger")
	fs.IntVar(&cfg.MaxBuffered, "max-buffered", loadgen.DefaultMaxBuffered, "most records buffered in the producer")
	fs.DurationVar(&cfg.Timeout, "timeout", loadgen.DefaultTimeout, "give up when verdicts are missing and none came for this long")
	fs.BoolVar(&cfg.NoReadBack, "no-read-back", false, "do not read the attempts topic back; the model trusts the produced timestamps")
	quiet := fs.Bool("quiet", false, "no progress lines")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON instead of a table")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: loadgen [flags]\n\n--brokers and the --*-topic flags can also be set as the processor's SENDGATE_BROKERS and\nSENDGATE_<X>_TOPIC; a flag wins over the environment.\n\n")
		fs.PrintDefaults()
	}
	src, err := flagenv.Parse(fs, flagenv.Prefix, args,
		flagenv.Only(flagenv.Prefix, getenv, "brokers", "attempts-topic", "settings-topic", "verdicts-topic"))
	if err != nil {
		return cfg, false, err
	}
	if fs.NArg() > 0 {
		return cfg, false, fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	for _, b := range strings.Split(*brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			cfg.Brokers = append(cfg.Brokers, b)
		}
	}
	if !*quiet {
		cfg.Progress = stderr
	}
	cfg.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, "loadgen: "+format+"\n", args...) }
	cfg.EnsureDefaults()
	return cfg, asJSON, src.ConfigError(cfg.Validate(), "loadgen", nil)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, asJSON, err := parse(args, getenv, stderr)
	if code, exit := cli.ParseExit(stderr, "loadgen", err); exit {
		return code
	}
	rep, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return cli.Fail(stderr, "loadgen", err)
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = rep.WriteTable(stdout)
	}
	if err != nil {
		return cli.Fail(stderr, "loadgen", err)
	}
	if !rep.OK {
		return 1
	}
	return 0
}
