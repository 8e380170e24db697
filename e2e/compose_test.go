package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// The compose file and the Dockerfile are checked against the processor
// itself: its flags come from running the built binary with -h, and the
// processor's environment is validated by the binary (--check-config).
// Docker is not needed.

// TestComposeMatchesProcessor checks ../docker-compose.yml (and the
// Dockerfile it builds) against the processor binary.
func TestComposeMatchesProcessor(t *testing.T) {
	flags := processorFlags(t)
	if _, ok := flags["data-dir"]; !ok {
		t.Fatalf("reading `processor -h`: no -data-dir among %d flags: the help format changed?", len(flags))
	}
	raw, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	dockerfile, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	cf, err := parseCompose(raw)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, p := range checkCompose(cf, string(dockerfile), flags) {
		t.Error("docker-compose.yml: " + p)
	}

	// The binary itself accepts the processor service's configuration.
	svc, ok := cf.Services["processor"]
	if !ok {
		return // reported above
	}
	env := []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range svc.Environment.vars {
		env = append(env, k+"="+interpolate(v, nil))
	}
	args := append(interpolateAll(svc.Command.items), "--check-config")
	cmd := exec.Command(processorBin, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "configuration is valid") {
		t.Errorf("docker-compose.yml: the processor rejects the processor service's configuration (processor %s with its environment): %v\n%s",
			strings.Join(args, " "), err, out)
	}
}

// TestComposeChecksCatchMistakes runs the checks on broken variants of the
// compose file: each must be reported with a message that names the problem.
func TestComposeChecksCatchMistakes(t *testing.T) {
	flags := processorFlags(t)
	raw, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	dockerfile, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	good := string(raw)
	for _, tc := range []struct {
		name              string
		old, new          string
		replaceDockerfile string // replaces the Dockerfile when set
		want              string
	}{
		{"unknown env", "SENDGATE_LOG_LEVEL: info", "SENDGATE_LOG_LEVEL: info\n      SENDGATE_LOG_LEVLE: debug",
			"", "environment SENDGATE_LOG_LEVLE is not a processor flag (no -log-levle in `processor -h`"},
		{"unquoted bool", `SENDGATE_CREATE_TOPICS: "false"`, `SENDGATE_CREATE_TOPICS: false`,
			"", "SENDGATE_CREATE_TOPICS: the value false is a YAML !!bool: quote it"},
		{"creates topics", `SENDGATE_CREATE_TOPICS: "false"`, `SENDGATE_CREATE_TOPICS: "true"`,
			"", "the processor would create topics (--create-topics=true from SENDGATE_CREATE_TOPICS/--create-topics)"},
		{"renamed attempts topic", "SENDGATE_LOG_LEVEL: info", "SENDGATE_LOG_LEVEL: info\n      SENDGATE_ATTEMPTS_TOPIC: other.attempts",
			"", `attempts topic "other.attempts" (--attempts-topic, from SENDGATE_ATTEMPTS_TOPIC/--attempts-topic) is not created by service topics`},
		{"no CreateTime", "--config message.timestamp.type=CreateTime --config retention.ms=2678400000", "--config retention.ms=2678400000",
			"", `topic "desk.active-messages.attempts" must be created with --config message.timestamp.type=CreateTime, has none`},
		{"LogAppendTime", "--config message.timestamp.type=CreateTime --config retention.ms=2678400000", "--config message.timestamp.type=LogAppendTime --config retention.ms=2678400000",
			"", `topic "desk.active-messages.attempts" must be created with --config message.timestamp.type=CreateTime, has message.timestamp.type=LogAppendTime`},
		{"settings not compacted", "--config cleanup.policy=compact --config", "--config",
			"", `topic "desk.bot-settings" must be created with --config cleanup.policy=compact, has none`},
		{"short retention", "retention.ms=2678400000", "retention.ms=86400000",
			"", "retention.ms=86400000 (1 days) is shorter than the longest window (30 days)"},
		{"port mismatch", `"127.0.0.1:8080:8080"`, `"127.0.0.1:8080:8081"`,
			"", "no port of service processor publishes container port 8080 (SENDGATE_HTTP_ADDR/--http-addr 0.0.0.0:8080)"},
		{"loopback http", "SENDGATE_HTTP_ADDR: 0.0.0.0:8080", "SENDGATE_HTTP_ADDR: 127.0.0.1:8080",
			"", "listens on 127.0.0.1 only"},
		{"data dir not on a volume", "SENDGATE_DATA_DIR: /var/lib/sendgate", "SENDGATE_DATA_DIR: /data",
			"", `data dir "/data" (--data-dir, from SENDGATE_DATA_DIR/--data-dir) is not on a named volume`},
		{"bind mount", "- sendgate-data:/var/lib/sendgate", "- ./data:/var/lib/sendgate",
			"", `data dir "/var/lib/sendgate" (--data-dir, from SENDGATE_DATA_DIR/--data-dir) is not on a named volume`},
		{"undeclared volume", "\n  sendgate-data:\n", "\n",
			"", `volume "sendgate-data" of service processor is not declared under the top-level volumes`},
		{"health on another port", "http://127.0.0.1:8080/readyz", "http://127.0.0.1:9090/readyz",
			"", "healthcheck of service processor targets port 9090, the HTTP API listens on 8080"},
		{"health on another path", "http://127.0.0.1:8080/readyz", "http://127.0.0.1:8080/metrics",
			"", `healthcheck of service processor requests "/metrics", want /readyz or /healthz`},
		{"health binary not in image", "", "", "FROM scratch\nCOPY --from=build /out/processor /\n",
			`healthcheck runs /healthcheck, which the Dockerfile's last stage does not COPY`},
		{"wrong broker", "SENDGATE_BROKERS: kafka:9092", "SENDGATE_BROKERS: kafka:9094",
			"", `broker "kafka:9094" (--brokers, from SENDGATE_BROKERS/--brokers) is not an advertised listener of service kafka`},
		{"host listener as broker", "SENDGATE_BROKERS: kafka:9092", "SENDGATE_BROKERS: localhost:29092",
			"", `broker "localhost:29092" (--brokers) is not an advertised listener of service kafka reachable by its service name`},
		{"no broker", "SENDGATE_BROKERS: kafka:9092", "SENDGATE_BROKERS: \"\"",
			"", "--brokers is empty: the processor would start its embedded development broker"},
		{"no dependency", "      topics:\n        condition: service_completed_successfully\n", "",
			"", "service processor must depend on service topics with condition service_completed_successfully"},
		{"unset variable", "SENDGATE_GROUP_ID: sendgate", "SENDGATE_GROUP_ID: ${GROUP}",
			"", "${GROUP} has no default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, df := good, string(dockerfile)
			if tc.old != "" {
				if !strings.Contains(good, tc.old) {
					t.Fatalf("docker-compose.yml no longer contains %q: update this test case", tc.old)
				}
				text = strings.Replace(good, tc.old, tc.new, 1)
			}
			if tc.replaceDockerfile != "" {
				df = tc.replaceDockerfile
			}
			cf, err := parseCompose([]byte(text))
			if err != nil {
				t.Fatal(err)
			}
			problems := checkCompose(cf, df, flags)
			for _, p := range problems {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Errorf("no problem containing %q; got:\n%s", tc.want, strings.Join(problems, "\n"))
		})
	}
}

// flagInfo is one flag of `processor -h`.
type flagInfo struct {
	typ, def string
}

var (
	cachedFlags = map[string]flagInfo{}
	flagLineRe  = regexp.MustCompile(`^  -([a-z0-9][a-z0-9-]*)(?: (\S+))?$`)
	defaultRe   = regexp.MustCompile(`\(default (.*)\)$`)
)

// processorFlags runs the processor binary with -h and returns its flags.
func processorFlags(t *testing.T) map[string]flagInfo {
	t.Helper()
	if len(cachedFlags) > 0 {
		return cachedFlags
	}
	out, err := runProcessor("-h")
	if err != nil {
		t.Fatalf("processor -h: %v\n%s", err, out)
	}
	flags := map[string]flagInfo{}
	var cur string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := flagLineRe.FindStringSubmatch(line); m != nil {
			cur = m[1]
			flags[cur] = flagInfo{typ: m[2]}
			continue
		}
		if cur == "" || !strings.HasPrefix(line, "    \t") {
			continue
		}
		if m := defaultRe.FindStringSubmatch(line); m != nil {
			fi := flags[cur]
			fi.def = m[1]
			if s, err := strconv.Unquote(m[1]); err == nil {
				fi.def = s
			}
			flags[cur] = fi
		}
	}
	if len(flags) == 0 {
		t.Fatalf("processor -h lists no flags:\n%s", out)
	}
	cachedFlags = flags
	return flags
}

// composeFile is the part of a compose file the checks read.
type composeFile struct {
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

type service struct {
	Image       string         `yaml:"image"`
	Build       any            `yaml:"build"`
	Hostname    string         `yaml:"hostname"`
	Entrypoint  stringOrList   `yaml:"entrypoint"`
	Command     stringOrList   `yaml:"command"`
	Environment environment    `yaml:"environment"`
	Ports       []portSpec     `yaml:"ports"`
	Volumes     []volumeSpec   `yaml:"volumes"`
	DependsOn   dependsOn      `yaml:"depends_on"`
	Healthcheck *healthcheckYM `yaml:"healthcheck"`
}

type healthcheckYM struct {
	Test    stringOrList `yaml:"test"`
	Disable bool         `yaml:"disable"`
}

// stringOrList is a compose command: a string or a list of strings.
type stringOrList struct {
	items  []string
	isList bool
}

func (s *stringOrList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		s.items = []string{n.Value}
		return nil
	case yaml.SequenceNode:
		s.isList = true
		return n.Decode(&s.items)
	}
	return fmt.Errorf("line %d: want a string or a list of strings", n.Line)
}

// environment is a compose environment: a mapping or a list of K=V.
type environment struct {
	vars map[string]string
	tags map[string]string // YAML tag of each value of the mapping form
}

func (e *environment) UnmarshalYAML(n *yaml.Node) error {
	e.vars, e.tags = map[string]string{}, map[string]string{}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: environment %s: want a scalar value", v.Line, k.Value)
			}
			e.vars[k.Value], e.tags[k.Value] = v.Value, v.ShortTag()
		}
		return nil
	case yaml.SequenceNode:
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		for _, kv := range list {
			k, v, _ := strings.Cut(kv, "=")
			e.vars[k], e.tags[k] = v, "!!str"
		}
		return nil
	}
	return fmt.Errorf("line %d: environment: want a mapping or a list", n.Line)
}

// portSpec is a published port, short ("127.0.0.1:8080:8080") or long syntax.
type portSpec struct{ hostIP, published, target string }

func (p *portSpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		var l struct {
			Target    any    `yaml:"target"`
			Published any    `yaml:"published"`
			HostIP    string `yaml:"host_ip"`
		}
		if err := n.Decode(&l); err != nil {
			return err
		}
		p.target, p.published, p.hostIP = fmt.Sprint(l.Target), fmt.Sprint(l.Published), l.HostIP
		return nil
	}
	spec, _, _ := strings.Cut(n.Value, "/") // drop /tcp
	parts := strings.Split(spec, ":")
	p.target = parts[len(parts)-1]
	if len(parts) >= 2 {
		p.published = parts[len(parts)-2]
	}
	if len(parts) >= 3 {
		p.hostIP = strings.Join(parts[:len(parts)-2], ":")
	}
	return nil
}

// volumeSpec is a mount, short ("name:/path[:ro]") or long syntax.
type volumeSpec struct{ typ, source, target string }

func (v *volumeSpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		var l struct{ Type, Source, Target string }
		if err := n.Decode(&l); err != nil {
			return err
		}
		v.typ, v.source, v.target = l.Type, l.Source, l.Target
		return nil
	}
	parts := strings.Split(n.Value, ":")
	switch len(parts) {
	case 1:
		v.typ, v.target = "volume", parts[0] // anonymous
	default:
		v.source, v.target = parts[0], parts[1]
		v.typ = "volume"
		if strings.HasPrefix(v.source, "/") || strings.HasPrefix(v.source, ".") || strings.HasPrefix(v.source, "~") {
			v.typ = "bind"
		}
	}
	return nil
}

// dependsOn maps a service to its condition (short list form:
// service_started).
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	*d = dependsOn{}
	switch n.Kind {
	case yaml.SequenceNode:
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		for _, s := range list {
			(*d)[s] = "service_started"
		}
		return nil
	case yaml.MappingNode:
		var m map[string]struct {
			Condition string `yaml:"condition"`
		}
		if err := n.Decode(&m); err != nil {
			return err
		}
		for s, c := range m {
			(*d)[s] = orDefault(c.Condition, "service_started")
		}
		return nil
	}
	return fmt.Errorf("line %d: depends_on: want a list or a mapping", n.Line)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func parseCompose(raw []byte) (composeFile, error) {
	var cf composeFile
	if err := yaml.Unmarshal(raw, &cf); err != nil {
		return cf, err
	}
	return cf, nil
}

var varRe = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// interpolate applies compose's variable substitution as it would happen in
// an empty environment: "$$" is "$", "${X:-d}" and "${X-d}" are d. A
// variable without a default is reported to problems (when not nil).
func interpolate(s string, problems *[]string) string {
	return varRe.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		sm := varRe.FindStringSubmatch(m)
		if sm[2] == ":-" || sm[2] == "-" {
			return sm[3]
		}
		if problems != nil {
			*problems = append(*problems, fmt.Sprintf("%s has no default: the file depends on the caller's environment (write ${%s:-value})", m, orDefault(sm[1], sm[4])))
		}
		return ""
	})
}

func interpolateAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = interpolate(s, nil)
	}
	return out
}

// checkCompose returns every way cf (and the Dockerfile text) disagrees with
// the processor's flags, one sentence each.
func checkCompose(cf composeFile, dockerfile string, flags map[string]flagInfo) (problems []string) {
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	proc, ok := cf.Services["processor"]
	if !ok {
		add("no service named processor")
		return problems
	}

	// The processor's settings: its command line wins over SENDGATE_*,
	// which wins over the default of `processor -h`.
	env := map[string]string{}
	for k, v := range proc.Environment.vars {
		env[k] = interpolate(v, &problems)
		if !strings.HasPrefix(k, "SENDGATE_") {
			continue
		}
		name := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(k, "SENDGATE_")), "_", "-")
		if _, ok := flags[name]; !ok {
			add("service processor: environment %s is not a processor flag (no -%s in `processor -h`; flags: %s)", k, name, flagList(flags))
		}
		if tag := proc.Environment.tags[k]; tag == "!!bool" || tag == "!!null" {
			add("service processor: environment %s: the value %s is a YAML %s: quote it (compose wants strings)", k, v, tag)
		}
	}
	args := map[string]string{}
	cmdArgs := interpolateAll(proc.Command.items)
	for i := 0; i < len(cmdArgs); i++ {
		a := cmdArgs[i]
		if !strings.HasPrefix(a, "-") {
			add("service processor: command argument %q is not a flag", a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		fi, ok := flags[name]
		if !ok {
			add("service processor: command flag %s is not a processor flag (flags: %s)", a, flagList(flags))
			continue
		}
		if !hasVal && fi.typ != "" && i+1 < len(cmdArgs) {
			i++
			val = cmdArgs[i]
		} else if !hasVal {
			val = "true"
		}
		args[name] = val
	}
	setting := func(name string) string {
		if v, ok := args[name]; ok {
			return v
		}
		if v, ok := env["SENDGATE_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_"))]; ok {
			return v
		}
		return flags[name].def
	}
	where := func(name string) string {
		if _, ok := args[name]; ok {
			return "--" + name + " in the command"
		}
		if _, ok := env["SENDGATE_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_"))]; ok {
			return "SENDGATE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "/--" + name
		}
		return "--" + name + " default"
	}

	// Topics are made by the init service, not the processor.
	if b, err := strconv.ParseBool(setting("create-topics")); err != nil || b {
		add("the processor would create topics (--create-topics=%s from %s): set SENDGATE_CREATE_TOPICS: \"false\", the topics service creates them", setting("create-topics"), where("create-topics"))
	}

	// Brokers: an advertised listener of the kafka service, by its name.
	brokers := splitList(setting("brokers"))
	kafkaName, kafka, ok := findService(cf, func(s service) bool { _, ok := s.Environment.vars["KAFKA_ADVERTISED_LISTENERS"]; return ok })
	switch {
	case len(brokers) == 0:
		add("--brokers is empty: the processor would start its embedded development broker instead of using Kafka")
	case !ok:
		add("no service sets KAFKA_ADVERTISED_LISTENERS: cannot check --brokers %v", brokers)
	default:
		adv := advertised(interpolate(kafka.Environment.vars["KAFKA_ADVERTISED_LISTENERS"], nil))
		for _, b := range brokers {
			host, _, _ := net.SplitHostPort(b)
			switch {
			case !slices.Contains(adv, b):
				add("broker %q (--brokers, from %s) is not an advertised listener of service %s (%v)", b, where("brokers"), kafkaName, adv)
			case host != kafkaName && host != kafka.Hostname:
				add("broker %q (--brokers) is not an advertised listener of service %s reachable by its service name: inside the processor's container %q is not the kafka container", b, kafkaName, host)
			}
		}
		if _, ok := proc.DependsOn[kafkaName]; !ok && !dependsTransitively(cf, "processor", kafkaName) {
			add("service processor does not depend on service %s", kafkaName)
		}
	}

	// Topics: created by the init service, with the configuration the
	// processor relies on.
	initName, initSvc, ok := findService(cf, func(s service) bool {
		return strings.Contains(strings.Join(s.Command.items, " "), "kafka-topics.sh") &&
			strings.Contains(strings.Join(s.Command.items, " "), "--create")
	})
	if !ok {
		add("no service runs kafka-topics.sh --create: the topics would not exist")
	} else {
		if c := proc.DependsOn[initName]; c != "service_completed_successfully" {
			add("service processor must depend on service %s with condition service_completed_successfully (has %q): it would start before the topics exist", initName, c)
		}
		created, servers := createdTopics(interpolate(strings.Join(initSvc.Command.items, "\n"), &problems))
		if kafka.Environment.vars != nil {
			adv := advertised(interpolate(kafka.Environment.vars["KAFKA_ADVERTISED_LISTENERS"], nil))
			for _, s := range servers {
				if !slices.Contains(adv, s) {
					add("service %s: --bootstrap-server %s is not an advertised listener of service %s (%v)", initName, s, kafkaName, adv)
				}
			}
		}
		for _, tf := range []struct{ flag, what string }{
			{"attempts-topic", "attempts"}, {"settings-topic", "settings"}, {"verdicts-topic", "verdicts"}, {"dlq-topic", "DLQ"},
		} {
			name := setting(tf.flag)
			if _, ok := created[name]; !ok {
				add("%s topic %q (--%s, from %s) is not created by service %s (it creates %s)", tf.what, name, tf.flag, where(tf.flag), initName, orDefault(strings.Join(mapKeys(created), ", "), "none"))
			}
		}
		want := func(topic, key, val string) {
			cfg, ok := created[topic]
			if !ok {
				return
			}
			if got, ok := cfg[key]; !ok {
				add("topic %q must be created with --config %s=%s, has none", topic, key, val)
			} else if got != val {
				add("topic %q must be created with --config %s=%s, has %s=%s", topic, key, val, key, got)
			}
		}
		changelog := setting("changelog-topic")
		if changelog == "" || strings.Contains(changelog, "<group-id>") {
			changelog = setting("group-id") + "-state-changelog"
		}
		if _, ok := created[changelog]; !ok {
			add("changelog topic %q (--changelog-topic, default <group-id>-state-changelog) is not created by service %s", changelog, initName)
		}
		want(setting("attempts-topic"), "message.timestamp.type", "CreateTime")
		want(setting("settings-topic"), "cleanup.policy", "compact")
		want(changelog, "cleanup.policy", "compact")
		if r, ok := created[setting("attempts-topic")]["retention.ms"]; ok {
			const longestWindow = 30 * 24 * time.Hour // the contract's window_seconds maximum
			if ms, err := strconv.ParseInt(r, 10, 64); err != nil || (ms >= 0 && time.Duration(ms)*time.Millisecond < longestWindow) {
				add("topic %q: retention.ms=%s (%d days) is shorter than the longest window (30 days): a processor without local state could not rebuild it",
					setting("attempts-topic"), r, ms/86_400_000)
			}
		}
	}

	// HTTP: listens on every interface, its port published, health checked
	// on it.
	httpAddr := setting("http-addr")
	host, port, err := net.SplitHostPort(httpAddr)
	if err != nil {
		add("--http-addr %q (from %s): %v", httpAddr, where("http-addr"), err)
	} else {
		if host != "" && host != "0.0.0.0" && host != "::" {
			add("--http-addr %s (from %s) listens on %s only: the published port cannot reach it; use 0.0.0.0:%s", httpAddr, where("http-addr"), host, port)
		}
		published := false
		for _, p := range proc.Ports {
			if interpolate(p.target, &problems) == port {
				published = true
			}
		}
		if !published {
			add("no port of service processor publishes container port %s (SENDGATE_HTTP_ADDR/--http-addr %s); ports: %v", port, httpAddr, proc.Ports)
		}
		checkHealth(proc, port, dockerfile, add)
	}

	// Data dir: on a named volume declared at the top level.
	dataDir := path.Clean(setting("data-dir"))
	var onVolume *volumeSpec
	for i, v := range proc.Volumes {
		tgt := path.Clean(interpolate(v.target, &problems))
		if dataDir == tgt || strings.HasPrefix(dataDir, tgt+"/") {
			onVolume = &proc.Volumes[i]
		}
	}
	switch {
	case !path.IsAbs(dataDir):
		add("data dir %q (--data-dir, from %s) is relative: set SENDGATE_DATA_DIR to the named volume's mount point", dataDir, where("data-dir"))
	case onVolume == nil || onVolume.typ != "volume" || onVolume.source == "":
		add("data dir %q (--data-dir, from %s) is not on a named volume of service processor (volumes: %v): its state would be lost with the container", dataDir, where("data-dir"), proc.Volumes)
	default:
		if _, ok := cf.Volumes[onVolume.source]; !ok {
			add("volume %q of service processor is not declared under the top-level volumes", onVolume.source)
		}
	}
	return problems
}

// checkHealth checks the processor's healthcheck: it requests /readyz or
// /healthz on port, with a program the Dockerfile's last stage copies.
func checkHealth(proc service, port, dockerfile string, add func(string, ...any)) {
	hc := proc.Healthcheck
	if hc == nil || hc.Disable || len(hc.Test.items) == 0 {
		add("service processor has no healthcheck (want one on /readyz)")
		return
	}
	test := interpolateAll(hc.Test.items)
	if !hc.Test.isList || (test[0] != "CMD" && test[0] != "CMD-SHELL") {
		add("healthcheck of service processor: want test: [\"CMD\", \"/healthcheck\", \"http://127.0.0.1:%s/readyz\"], got %q", port, test)
		return
	}
	words := test[1:]
	if test[0] == "CMD-SHELL" {
		words = strings.Fields(strings.Join(test[1:], " "))
	}
	if len(words) == 0 {
		add("healthcheck of service processor runs nothing")
		return
	}
	var target string
	for _, w := range words[1:] {
		if strings.HasPrefix(w, "http://") || strings.HasPrefix(w, "https://") || strings.HasPrefix(w, "/") {
			target = w
		}
	}
	switch {
	case target == "":
		add("healthcheck of service processor requests no URL (%q)", words)
	case strings.HasPrefix(target, "/"):
		// A bare path: cmd/healthcheck requests it on SENDGATE_HTTP_ADDR.
		if target != "/readyz" && target != "/healthz" {
			add("healthcheck of service processor requests %q, want /readyz or /healthz", target)
		}
	default:
		u, err := url.Parse(target)
		if err != nil {
			add("healthcheck of service processor: bad URL %q: %v", target, err)
			break
		}
		if u.Port() != port {
			add("healthcheck of service processor targets port %s, the HTTP API listens on %s (%s)", orDefault(u.Port(), "(none)"), port, target)
		}
		if h := u.Hostname(); h != "127.0.0.1" && h != "localhost" && h != "::1" {
			add("healthcheck of service processor targets host %s: it runs inside the container, use 127.0.0.1", h)
		}
		if u.Path != "/readyz" && u.Path != "/healthz" {
			add("healthcheck of service processor requests %q, want /readyz or /healthz", u.Path)
		}
	}
	if exe := words[0]; !dockerfileCopies(dockerfile, exe) {
		add("healthcheck runs %s, which the Dockerfile's last stage does not COPY (distroless has no shell or curl)", exe)
	}
}

// dockerfileCopies reports whether the last stage of dockerfile copies a
// file to the absolute path exe.
func dockerfileCopies(dockerfile, exe string) bool {
	text := strings.ReplaceAll(dockerfile, "\\\n", " ")
	var stage []string
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			stage = nil
		case "COPY", "ADD":
			stage = append(stage, line)
		}
	}
	for _, line := range stage {
		var operands []string
		for _, w := range strings.Fields(line)[1:] {
			if !strings.HasPrefix(w, "--") {
				operands = append(operands, w)
			}
		}
		if len(operands) < 2 {
			continue
		}
		dest, srcs := operands[len(operands)-1], operands[:len(operands)-1]
		if dest == exe && len(srcs) == 1 {
			return true
		}
		if strings.HasSuffix(dest, "/") && path.Join(dest, path.Base(exe)) == exe {
			for _, s := range srcs {
				if path.Base(s) == path.Base(exe) {
					return true
				}
			}
		}
	}
	return false
}

// createdTopics reads the kafka-topics.sh --create commands of a shell
// script: topic -> its --config settings, and the bootstrap servers used.
func createdTopics(script string) (map[string]map[string]string, []string) {
	topics := map[string]map[string]string{}
	var servers []string
	script = strings.ReplaceAll(script, "\\\n", " ")
	vars := map[string]string{} // NAME=value lines, expanded in later lines
	for _, line := range strings.Split(script, "\n") {
		line = shellVarRe.ReplaceAllStringFunc(line, func(m string) string {
			return vars[strings.Trim(m, "${}")]
		})
		words := shellWords(line)
		if len(words) == 1 && shellAssignRe.MatchString(words[0]) {
			k, v, _ := strings.Cut(words[0], "=")
			vars[k] = v
			continue
		}
		if !slices.ContainsFunc(words, func(w string) bool { return strings.HasSuffix(w, "kafka-topics.sh") }) ||
			!slices.Contains(words, "--create") {
			continue
		}
		var topic string
		cfg := map[string]string{}
		for i := 0; i < len(words); i++ {
			opt, val, hasVal := strings.Cut(words[i], "=")
			if !strings.HasPrefix(opt, "--") {
				continue
			}
			if !hasVal && i+1 < len(words) {
				i++
				val = words[i]
			}
			switch opt {
			case "--topic":
				topic = val
			case "--config":
				k, v, _ := strings.Cut(val, "=")
				cfg[k] = v
			case "--bootstrap-server":
				servers = append(servers, splitList(val)...)
			}
		}
		if topic != "" {
			topics[topic] = cfg
		}
	}
	return topics, servers
}

var (
	shellVarRe    = regexp.MustCompile(`\$\{?[A-Za-z_][A-Za-z0-9_]*\}?`)
	shellAssignRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)
)

// shellWords splits a line into words as sh would, for simple lines: quotes
// group, comments end the line.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '#' && !inWord:
			return words
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// advertised returns the host:port of each NAME://host:port listener.
func advertised(listeners string) []string {
	var out []string
	for _, l := range splitList(listeners) {
		if _, hp, ok := strings.Cut(l, "://"); ok {
			out = append(out, hp)
		}
	}
	return out
}

func findService(cf composeFile, match func(service) bool) (string, service, bool) {
	names := mapKeys(cf.Services)
	for _, n := range names {
		if match(cf.Services[n]) {
			return n, cf.Services[n], true
		}
	}
	return "", service{}, false
}

func dependsTransitively(cf composeFile, from, to string) bool {
	seen := map[string]bool{}
	var walk func(string) bool
	walk = func(s string) bool {
		if seen[s] {
			return false
		}
		seen[s] = true
		for d := range cf.Services[s].DependsOn {
			if d == to || walk(d) {
				return true
			}
		}
		return false
	}
	return walk(from)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func mapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func flagList(flags map[string]flagInfo) string {
	return strings.Join(mapKeys(flags), ", ")
}
