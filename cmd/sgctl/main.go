// Command sgctl publishes sendgate events and reads verdicts: the send
// pipeline's and the settings service's side, for trying sendgate out.
//
//	sgctl settings --bot support@bots --version 1 --max 3
//	sgctl settings --bot support@bots --version 2 --max 3 --rules '[{"name":"weekly","max":5,"window_seconds":604800}]' --exempt authentication
//	sgctl attempt  --bot support@bots --contact 5531999990000@wa --agent ana@acme [--category marketing]
//	sgctl failed   --bot support@bots --contact 5531999990000@wa --attempt att-1
//	sgctl watch
//
// attempt waits for the attempt's verdict and prints it.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sendgate/sendgate/contract"
	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/flagenv"
	"github.com/sendgate/sendgate/internal/cli"
	"github.com/sendgate/sendgate/quota"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, errUsage) {
		os.Exit(2)
	}
	if err != nil {
		os.Exit(cli.Fail(os.Stderr, "sgctl", err))
	}
}

const usageText = `usage: sgctl settings|attempt|failed|watch [flags] (sgctl CMD -h for flags)

  settings  publish a settings event for a bot (--bot, --version, --max; --max 0 disables the limit;
            --rules JSON-array and --exempt categories for several rules)
  attempt   publish an attempt (--bot, --contact, --agent, --category) and print its verdict
  failed    publish a send-failed event (--bot, --contact, --attempt)
  watch     print every verdict, from the start of the verdicts topic, until Ctrl-C
`

// errUsage is returned after the usage was printed for a missing or unknown
// command (or a flag sgctl does not know).
var errUsage = errors.New("usage")

// idPrefix is the start of a command's random event ids.
var idPrefix = map[string]string{"settings": "set", "attempt": "att", "failed": "fai", "watch": "wat"}

// run is sgctl: args without the program name; results on stdout, usage and
// flag errors on stderr. It returns errUsage when it printed the usage for
// a mistake, nil after -h. watch runs until ctx is done. --brokers and the
// topics, when args does not set them, come from the processor's variables
// SENDGATE_BROKERS and SENDGATE_<X>_TOPIC (getenv; package flagenv).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return errUsage
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usageText)
		return nil
	}
	prefix, ok := idPrefix[cmd]
	if !ok {
		fmt.Fprintf(stderr, "sgctl: unknown command %q\n%s", cmd, usageText)
		return errUsage
	}
	fs := flag.NewFlagSet("sgctl "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	brokers := fs.String("brokers", "127.0.0.1:9092", "bootstrap broker")
	attempts := fs.String("attempts-topic", contract.AttemptsTopic, "attempts topic")
	settingsT := fs.String("settings-topic", contract.SettingsTopic, "settings topic")
	verdicts := fs.String("verdicts-topic", contract.VerdictsTopic, "verdicts topic")
	bot := fs.String("bot", "", "bot id")
	contact := fs.String("contact", "", "contact id")
	agent := fs.String("agent", "", "agent id (attempt)")
	id := fs.String("id", "", "event id (default: random)")
	attempt := fs.String("attempt", "", "attempt id (failed)")
	version := fs.Int64("version", 0, "settings version (settings)")
	maxN := fs.Int("max", 0, "max_per_contact (settings; 0 disables the limit)")
	window := fs.Int64("window", quota.DefaultWindowSeconds, "window_seconds (settings)")
	scope := fs.String("scope", "contact", "scope: contact or agent_contact (settings)")
	rulesJSON := fs.String("rules", "", `more rules, as the settings event's JSON array (settings), e.g. '[{"name":"weekly","max":5,"window_seconds":604800}]'`)
	exempt := fs.String("exempt", "", "comma-separated exempt categories (settings)")
	category := fs.String("category", "", "the template category: marketing, utility, authentication, ... (attempt; default none)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long attempt waits for its verdict")
	_, err := flagenv.Parse(fs, flagenv.Prefix, args,
		flagenv.Only(flagenv.Prefix, getenv, "brokers", "attempts-topic", "settings-topic", "verdicts-topic"))
	var verr *flagenv.VarError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return nil
	case errors.As(err, &verr):
		return err
	case err != nil:
		return errUsage // the flag package printed the error and the flags
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sgctl %s: unexpected argument %q (flags start with --)\n", cmd, fs.Arg(0))
		return errUsage
	}
	if *id == "" {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		*id = prefix + "-" + hex.EncodeToString(b)
	}
	opts := []kgo.Opt{kgo.SeedBrokers(*brokers), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil))}
	if cmd == "attempt" || cmd == "watch" {
		// Verdicts are stamped when published: start a little before now.
		opts = append(opts, kgo.ConsumeTopics(*verdicts), kgo.ConsumeResetOffset(kgo.NewOffset().AfterMilli(time.Now().Add(-5*time.Second).UnixMilli())))
		if cmd == "watch" {
			opts[len(opts)-1] = kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())
		}
		// Verdicts are written in transactions: an aborted one is no verdict.
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	now := time.Now().UnixMilli()
	need := func(name, v string) error {
		if v == "" {
			return fmt.Errorf("%s: --%s is required", cmd, name)
		}
		return nil
	}
	produce := func(topic, key string, value []byte) error {
		return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(key), Value: value}).FirstErr()
	}
	switch cmd {
	case "settings":
		if err := errors.Join(need("bot", *bot)); err != nil {
			return err
		}
		sc, ok := quota.ParseScope(*scope)
		if !ok {
			return fmt.Errorf("settings: --scope must be contact or agent_contact, got %q", *scope)
		}
		ev := events.SettingsChanged{ID: *id, BotID: *bot, ChangedBy: "sgctl", Settings: quota.Settings{
			Version: *version, Enabled: *maxN > 0, Max: *maxN, WindowMs: *window * 1000, Scope: sc}}
		rules, err := parseRules(*rulesJSON, *exempt)
		if err != nil {
			return fmt.Errorf("settings: --rules or --exempt: %w", err)
		}
		ev.Settings.Rules, ev.Settings.Exempt = rules.Rules, rules.Exempt
		if err := produce(*settingsT, *bot, events.AppendSettingsEvent(nil, &ev, now)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "published settings version %d for %s\n", *version, *bot)
	case "attempt":
		if err := errors.Join(need("bot", *bot), need("contact", *contact), need("agent", *agent)); err != nil {
			return err
		}
		// Join the verdict topic's end before publishing.
		cl.ForceMetadataRefresh()
		if err := produce(*attempts, *bot+"/"+*contact, events.AppendAttemptCategory(nil, *id, *bot, *contact, *agent, *category, now)); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		for {
			fs := cl.PollFetches(wctx)
			if wctx.Err() != nil {
				return fmt.Errorf("attempt %s: no verdict within %s (is the processor running?)", *id, *timeout)
			}
			for _, r := range fs.Records() {
				if v, err := events.DecodeVerdict(r.Value); err == nil && v.AttemptID == *id {
					fmt.Fprintln(stdout, string(r.Value))
					return nil
				}
			}
		}
	case "failed":
		if err := errors.Join(need("bot", *bot), need("contact", *contact), need("attempt", *attempt)); err != nil {
			return err
		}
		if err := produce(*attempts, *bot+"/"+*contact, events.AppendFailed(nil, *id, *bot, *contact, *attempt, now)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "published send-failed for attempt %s\n", *attempt)
	case "watch":
		for ctx.Err() == nil {
			for _, r := range cl.PollFetches(ctx).Records() {
				fmt.Fprintln(stdout, string(r.Value))
			}
		}
	}
	return nil
}

// parseRules reads --rules (a JSON array of rules, as in the settings event)
// and --exempt (comma-separated categories) with the processor's own
// decoder, so that what it would refuse is refused here, naming the field.
func parseRules(rulesJSON, exempt string) (quota.Settings, error) {
	if rulesJSON == "" && exempt == "" {
		return quota.Settings{}, nil
	}
	if rulesJSON == "" {
		rulesJSON = "[]"
	}
	var cats []string
	if exempt != "" {
		cats = strings.Split(exempt, ",")
	}
	ex, _ := json.Marshal(cats)
	if cats == nil {
		ex = []byte("[]")
	}
	doc := `{"specversion":"1.0","id":"sgctl","source":"/sgctl","type":"desk.settings.changed","time":"2026-01-01T00:00:00Z",` +
		`"data":{"bot_id":"sgctl","version":1,"active_messages":{"limit_enabled":true,"max_per_contact":1,"rules":` + rulesJSON +
		`,"exempt_categories":` + string(ex) + `}}}`
	ev, err := events.DecodeSettings([]byte(doc))
	if err != nil {
		return quota.Settings{}, err
	}
	return ev.Settings, nil
}
