package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/sendgate/sendgate/contract"
	"github.com/sendgate/sendgate/flagenv"
	"github.com/sendgate/sendgate/pipeline"
)

// options are the processor's flags, each also settable as SENDGATE_<NAME>
// in the environment (upper case, dashes as underscores); a flag given on
// the command line wins (package flagenv).
type options struct {
	brokers      []string
	embeddedAddr string
	embeddedSync bool
	dataDir      string
	httpAddr     string
	advertised   string
	logLevel     zerolog.Level
	checkConfig  bool
	httpToken    string
	pprof        bool
	pipeline     pipeline.Config
	// warnings are problems that do not stop the processor (an unknown
	// SENDGATE_* variable), for the log.
	warnings []string
}

// parseOptions reads the flags from args and the environment from environ
// ("NAME=value" entries, as os.Environ returns), with flagenv's precedence:
// the command line wins. Help goes to out.
func parseOptions(args, environ []string, out io.Writer) (*options, error) {
	fs := flag.NewFlagSet("processor", flag.ContinueOnError)
	fs.SetOutput(out)
	var (
		brokers   = fs.String("brokers", "", "comma-separated bootstrap brokers; empty starts an embedded broker on --embedded-addr")
		embedded  = fs.String("embedded-addr", "127.0.0.1:9092", "where the embedded broker listens (when --brokers is empty)")
		dataDir   = fs.String("data-dir", "./data", "Pebble state (and the embedded broker's log under <data-dir>/broker)")
		groupID   = fs.String("group-id", contract.GroupID, "consumer group")
		attempts  = fs.String("attempts-topic", contract.AttemptsTopic, "attempts topic")
		settings  = fs.String("settings-topic", contract.SettingsTopic, "settings topic (compacted)")
		verdicts  = fs.String("verdicts-topic", contract.VerdictsTopic, "verdicts topic")
		dlq       = fs.String("dlq-topic", contract.DLQTopic, "dead-letter topic")
		changelog = fs.String("changelog-topic", "", "compacted topic with a copy of the state, one partition per attempts partition (default <group-id>"+contract.ChangelogSuffix+")")
		httpAddr  = fs.String("http-addr", "127.0.0.1:8080", "health, metrics and query API")
		advAddr   = fs.String("advertised-http-addr", "", "host:port other instances forward quota queries to (default: --http-addr as it listens; this host's name when it listens on all interfaces)")
		session   = fs.Duration("session-timeout", 10*time.Second, "consumer-group session timeout: how soon a dead instance's partitions move")
		standbys  = fs.Int("standby-replicas", 0, "how many other instances keep a warm copy of each partition's state (following its committed changelog), so that a takeover applies only the tail")
		logLevel  = fs.String("log-level", "info", "log level: trace, debug, info, warn, error")
		create    = fs.Bool("create-topics", true, "create missing topics at start (attempts and settings with CreateTime, settings and changelog compacted)")
		parts     = fs.Int("partitions", 8, "partition count of the attempts and verdicts topics when they are created")
		maxBatch  = fs.Int("max-batch", 4096, "most records decided and committed as one batch")
		retention = fs.Duration("verdict-retention", 24*time.Hour, "least time a verdict is kept to answer redelivered attempts (longer when the bot's window is)")
		check     = fs.Bool("check-config", false, "validate the flags and exit")
		embSync   = fs.Bool("embedded-fsync", false, "the embedded broker fsyncs every write (off: writes survive a killed process, not a power loss, as Kafka's default)")
		tlsOn     = fs.Bool("tls-enable", false, "connect to Kafka over TLS (implied by the other --tls-* flags)")
		tlsCA     = fs.String("tls-ca-file", "", "PEM file of the CAs that sign the brokers' certificates (default: system roots)")
		tlsCert   = fs.String("tls-cert-file", "", "PEM client certificate, for brokers that require one (with --tls-key-file)")
		tlsKey    = fs.String("tls-key-file", "", "PEM client key (with --tls-cert-file)")
		tlsName   = fs.String("tls-server-name", "", "name to verify in the brokers' certificates (default: the broker host)")
		saslMech  = fs.String("sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: no SASL)")
		saslUser  = fs.String("sasl-username", "", "SASL username")
		saslPass  = fs.String("sasl-password", "", "SASL password (prefer the SENDGATE_SASL_PASSWORD environment variable)")
		pprofOn   = fs.Bool("pprof", false, "serve Go runtime profiles under /debug/pprof/ on --http-addr")
		httpToken = fs.String("http-token", "", "when set, the query API requires 'Authorization: Bearer <token>' (health, readiness and metrics stay open)")
	)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: processor [flags]\n\nEvery flag can also be set as SENDGATE_<FLAG> (e.g. SENDGATE_DATA_DIR); a flag wins over the environment.\n\n")
		fs.PrintDefaults()
	}
	src, err := flagenv.Parse(fs, flagenv.Prefix, args, flagenv.Getenv(environ))
	if err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	where := src.Where
	o := &options{embeddedSync: *embSync, embeddedAddr: *embedded, dataDir: *dataDir, httpAddr: *httpAddr, advertised: *advAddr, checkConfig: *check,
		warnings: flagenv.Unknown(fs, flagenv.Prefix, "processor", environ)}
	// An empty --brokers means the embedded broker; a value with no broker
	// in it is a mistake that must not silently become development mode.
	for _, b := range strings.Split(*brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			if err := checkBroker(b); err != nil {
				return nil, fmt.Errorf("%s: %q: %v", where("brokers"), b, err)
			}
			o.brokers = append(o.brokers, b)
		}
	}
	if *brokers != "" && len(o.brokers) == 0 {
		return nil, fmt.Errorf("%s: no broker in %q (leave it empty, or unset, for the embedded development broker)", where("brokers"), *brokers)
	}
	for _, a := range []struct{ flag, addr string }{{"http-addr", *httpAddr}, {"embedded-addr", *embedded}} {
		if a.addr == "" {
			return nil, fmt.Errorf("%s: must not be empty", where(a.flag))
		}
		if err := checkListenAddr(a.addr); err != nil {
			return nil, fmt.Errorf("%s: %q: %v", where(a.flag), a.addr, err)
		}
	}
	if *advAddr != "" {
		if host, port, err := net.SplitHostPort(*advAddr); err != nil || host == "" || port == "" || port == "0" {
			return nil, fmt.Errorf("%s: %q: want host:port, the address other instances reach this one's --http-addr at", where("advertised-http-addr"), *advAddr)
		}
	}
	// pipeline.Config fills empty names with the defaults; on the command
	// line an empty name is a mistake. (An empty --changelog-topic is its
	// documented default.)
	for _, n := range []struct{ flag, value string }{
		{"group-id", *groupID}, {"attempts-topic", *attempts}, {"settings-topic", *settings},
		{"verdicts-topic", *verdicts}, {"dlq-topic", *dlq},
	} {
		if strings.TrimSpace(n.value) == "" {
			return nil, fmt.Errorf("%s: must not be empty", where(n.flag))
		}
	}
	lvl, err := zerolog.ParseLevel(strings.ToLower(*logLevel))
	if err != nil || *logLevel == "" {
		return nil, fmt.Errorf("%s: must be one of trace, debug, info, warn, error, got %q", where("log-level"), *logLevel)
	}
	o.logLevel = lvl
	if *dataDir == "" {
		return nil, fmt.Errorf("%s: must not be empty", where("data-dir"))
	}
	// Zero means "default" in pipeline.Config; on the command line it is a
	// mistake.
	switch {
	case *session <= 0:
		return nil, fmt.Errorf("%s: must be positive, got %s", where("session-timeout"), *session)
	case *parts <= 0:
		return nil, fmt.Errorf("%s: must be positive, got %d", where("partitions"), *parts)
	case *maxBatch <= 0:
		return nil, fmt.Errorf("%s: must be positive, got %d", where("max-batch"), *maxBatch)
	case *retention <= 0:
		return nil, fmt.Errorf("%s: must be positive, got %s", where("verdict-retention"), *retention)
	}
	o.pipeline = pipeline.Config{
		GroupID:          *groupID,
		AttemptsTopic:    *attempts,
		SettingsTopic:    *settings,
		VerdictsTopic:    *verdicts,
		DLQTopic:         *dlq,
		ChangelogTopic:   *changelog,
		SessionTimeout:   *session,
		StandbyReplicas:  *standbys,
		CreateTopics:     *create || len(o.brokers) == 0,
		Partitions:       *parts,
		MaxBatch:         *maxBatch,
		VerdictRetention: *retention,
		TLS:              pipeline.TLS{Enable: *tlsOn, CAFile: *tlsCA, CertFile: *tlsCert, KeyFile: *tlsKey, ServerName: *tlsName},
		SASL:             pipeline.SASL{Mechanism: *saslMech, Username: *saslUser, Password: *saslPass},
	}
	o.httpToken = *httpToken
	o.pprof = *pprofOn
	o.pipeline.EnsureDefaults()
	// Brokers stays empty until serve knows them: with none given, they
	// are the embedded broker's, which listens on --embedded-addr (port 0:
	// any) only then. Validate the rest with that address in their place.
	v := o.pipeline
	v.Brokers = o.brokers
	if len(v.Brokers) == 0 {
		v.Brokers = []string{*embedded}
	}
	if err := v.Validate(); err != nil {
		return nil, src.ConfigError(err, "pipeline", nil)
	}
	return o, nil
}

// checkBroker accepts host:port, port 1..65535, without a scheme.
func checkBroker(b string) error {
	if i := strings.Index(b, "://"); i >= 0 {
		return fmt.Errorf("a broker is host:port, without a scheme (%s://)", b[:i])
	}
	host, port, err := net.SplitHostPort(b)
	if err != nil {
		return fmt.Errorf("a broker is host:port: %v", unwrapAddrErr(err))
	}
	if host == "" {
		return errors.New("a broker is host:port: missing host")
	}
	return checkPort(port, 1)
}

// checkListenAddr accepts [host]:port, port 0..65535 (0: any free port).
func checkListenAddr(a string) error {
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("want [host]:port: %v", unwrapAddrErr(err))
	}
	return checkPort(port, 0)
}

func checkPort(port string, least int) error {
	n, err := strconv.Atoi(port)
	if err != nil || n < least || n > 65535 {
		return fmt.Errorf("port %q: must be a number %d..65535", port, least)
	}
	return nil
}

// unwrapAddrErr drops the address net repeats in its error.
func unwrapAddrErr(err error) error {
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return errors.New(ae.Err)
	}
	return err
}
