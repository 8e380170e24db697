package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/sendgate/sendgate/contract"
)

// docker-compose.yml is checked against the processor binary (its flags
// come from `processor -h`, its environment passes --check-config), without
// Docker. What is checked is what breaks a deployment silently: a
// misspelt variable, an unquoted bool, a topic missing or created with the
// wrong configuration, the processor creating topics itself, a
// transaction log a single broker cannot satisfy.

func TestComposeMatchesProcessor(t *testing.T) {
	raw, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkCompose(t, raw) {
		t.Error("docker-compose.yml: " + p)
	}
	// The binary accepts the processor service's environment.
	cf, err := parseCompose(raw)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(processorBin, "--check-config")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range cf.Services["processor"].env {
		cmd.Env = append(cmd.Env, k+"="+v.value)
	}
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "configuration is valid") {
		t.Errorf("docker-compose.yml: the processor rejects the processor service's environment: %v\n%s", err, out)
	}
}

// Each broken variant of the compose file is reported, naming the problem.
func TestComposeChecksCatchMistakes(t *testing.T) {
	raw, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	good := string(raw)
	for _, tc := range []struct{ name, old, new, want string }{
		{"unknown variable", "SENDGATE_LOG_LEVEL: info", "SENDGATE_LOG_LEVEL: info\n      SENDGATE_LOG_LEVLE: debug",
			"SENDGATE_LOG_LEVLE is not a processor flag (no --log-levle in"},
		{"unquoted bool", `SENDGATE_CREATE_TOPICS: "false"`, `SENDGATE_CREATE_TOPICS: false`, "SENDGATE_CREATE_TOPICS: false is a YAML bool: quote it"},
		{"creates topics", `SENDGATE_CREATE_TOPICS: "false"`, `SENDGATE_CREATE_TOPICS: "true"`, `SENDGATE_CREATE_TOPICS must be "false"`},
		{"renamed topic", "SENDGATE_LOG_LEVEL: info", "SENDGATE_LOG_LEVEL: info\n      SENDGATE_DLQ_TOPIC: other.dlq",
			`topic "other.dlq" is not created by the topics service`},
		{"no CreateTime", "--config message.timestamp.type=CreateTime --config retention.ms=2678400000", "--config retention.ms=2678400000",
			`desk.active-messages.attempts: message.timestamp.type is "", want CreateTime`},
		{"short retention", "retention.ms=2678400000", "retention.ms=86400000", "desk.active-messages.attempts: retention.ms 86400000 is less than 30 days"},
		{"settings not compacted", "--config cleanup.policy=compact --config", "--config", `desk.bot-settings: cleanup.policy is "", want compact`},
		{"changelog partitions", "--topic sendgate-state-changelog --partitions 8", "--topic sendgate-state-changelog --partitions 4",
			"sendgate-state-changelog has 4 partitions, desk.active-messages.attempts 8"},
		{"group renamed", "SENDGATE_GROUP_ID: sendgate", "SENDGATE_GROUP_ID: other", `topic "other-state-changelog" is not created`},
		{"no transaction min ISR", `KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: "1"`, "", `kafka: KAFKA_TRANSACTION_STATE_LOG_MIN_ISR is "", want "1"`},
		{"transaction replication 3", `KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: "1"`, `KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: "3"`,
			`KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR is "3", want "1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(good, tc.old) {
				t.Fatalf("docker-compose.yml no longer contains %q: update this case", tc.old)
			}
			problems := checkCompose(t, []byte(strings.Replace(good, tc.old, tc.new, 1)))
			for _, p := range problems {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Errorf("no problem containing %q; got:\n%s", tc.want, strings.Join(problems, "\n"))
		})
	}
}

// checkCompose returns the problems of a compose file, one sentence each.
func checkCompose(t *testing.T, raw []byte) []string {
	t.Helper()
	cf, err := parseCompose(raw)
	if err != nil {
		return []string{err.Error()}
	}
	flags := processorFlags(t)
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	// No value may be a YAML bool: compose refuses it, or passes True.
	for name, svc := range cf.Services {
		for k, v := range svc.env {
			if v.tag == "!!bool" {
				add("service %s: %s: %s is a YAML bool: quote it", name, k, v.value)
			}
		}
	}
	proc := cf.Services["processor"].env
	for k := range proc {
		if f, ok := strings.CutPrefix(k, "SENDGATE_"); ok {
			if name := strings.ReplaceAll(strings.ToLower(f), "_", "-"); !flags[name] {
				add("processor: %s is not a processor flag (no --%s in `processor -h`)", k, name)
			}
		}
	}
	if v := proc["SENDGATE_CREATE_TOPICS"].value; v != "false" {
		add("processor: SENDGATE_CREATE_TOPICS must be \"false\" (the topics service creates them), is %q", v)
	}
	kafka := cf.Services["kafka"].env
	for _, k := range []string{"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"} {
		if v := kafka[k].value; v != "1" {
			add("kafka: %s is %q, want \"1\": one broker cannot hold more copies of the transaction log", k, v)
		}
	}

	// The topics the processor reads and writes, as its environment names them.
	name := func(variable, def string) string {
		if v := proc[variable].value; v != "" {
			return v
		}
		return def
	}
	group := name("SENDGATE_GROUP_ID", contract.GroupID)
	attempts := name("SENDGATE_ATTEMPTS_TOPIC", contract.AttemptsTopic)
	settings := name("SENDGATE_SETTINGS_TOPIC", contract.SettingsTopic)
	changelog := name("SENDGATE_CHANGELOG_TOPIC", group+contract.ChangelogSuffix)
	created := createdTopics(strings.Join(cf.Services["topics"].Command, "\n"))
	for _, topic := range []string{attempts, settings, name("SENDGATE_VERDICTS_TOPIC", contract.VerdictsTopic),
		name("SENDGATE_DLQ_TOPIC", contract.DLQTopic), changelog} {
		if _, ok := created[topic]; !ok {
			add("topic %q is not created by the topics service", topic)
		}
	}
	want := func(topic, key, value string) {
		if c, ok := created[topic]; ok && c.config[key] != value {
			add("%s: %s is %q, want %s", topic, key, c.config[key], value)
		}
	}
	want(attempts, "message.timestamp.type", "CreateTime")
	want(settings, "cleanup.policy", "compact")
	want(changelog, "cleanup.policy", "compact")
	if c, ok := created[attempts]; ok {
		// Longer than the longest window, so that state can be rebuilt from it.
		const days30 = 30 * 24 * 60 * 60 * 1000
		if ms, err := strconv.ParseInt(c.config["retention.ms"], 10, 64); err != nil || (ms >= 0 && ms < days30) {
			add("%s: retention.ms %s is less than 30 days", attempts, c.config["retention.ms"])
		}
		if cl, ok := created[changelog]; ok && cl.partitions != c.partitions {
			add("%s has %s partitions, %s %s: one changelog partition per attempts partition", changelog, cl.partitions, attempts, c.partitions)
		}
	}
	return problems
}

// composeFile is what the checks read of a compose file.
type composeFile struct {
	Services map[string]struct {
		Environment yaml.Node `yaml:"environment"`
		Command     []string  `yaml:"command"`
		env         map[string]envValue
	} `yaml:"services"`
}

type envValue struct{ value, tag string }

func parseCompose(raw []byte) (*composeFile, error) {
	var cf composeFile
	if err := yaml.Unmarshal(raw, &cf); err != nil {
		return nil, err
	}
	for name, svc := range cf.Services {
		svc.env = map[string]envValue{}
		n := svc.Environment
		if n.Kind != 0 && n.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("service %s: environment: write it as a mapping", name)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			svc.env[n.Content[i].Value] = envValue{n.Content[i+1].Value, n.Content[i+1].ShortTag()}
		}
		cf.Services[name] = svc
	}
	return &cf, nil
}

type topicSpec struct {
	partitions string
	config     map[string]string
}

// createdTopics reads the kafka-topics.sh --create calls of a shell script.
func createdTopics(script string) map[string]topicSpec {
	topics := map[string]topicSpec{}
	for _, call := range strings.Split(strings.ReplaceAll(script, "\\\n", " "), "\n") {
		f := strings.Fields(call)
		if !strings.Contains(call, "kafka-topics.sh") || !slices.Contains(f, "--create") {
			continue
		}
		var topic string
		spec := topicSpec{config: map[string]string{}}
		for i := 0; i+1 < len(f); i++ {
			switch f[i] {
			case "--topic":
				topic = f[i+1]
			case "--partitions":
				spec.partitions = f[i+1]
			case "--config":
				k, v, _ := strings.Cut(f[i+1], "=")
				spec.config[k] = v
			}
		}
		topics[topic] = spec
	}
	return topics
}

var flagLineRe = regexp.MustCompile(`(?m)^  -([a-z0-9][a-z0-9-]*)`)

// processorFlags are the flags `processor -h` lists.
func processorFlags(t *testing.T) map[string]bool {
	t.Helper()
	out, err := runProcessor("-h")
	if err != nil {
		t.Fatalf("processor -h: %v\n%s", err, out)
	}
	flags := map[string]bool{}
	for _, m := range flagLineRe.FindAllStringSubmatch(out, -1) {
		flags[m[1]] = true
	}
	if !flags["data-dir"] || !flags["create-topics"] {
		t.Fatalf("processor -h lists no --data-dir or --create-topics: its format changed?\n%s", out)
	}
	return flags
}
