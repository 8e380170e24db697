package main

import (
	"bytes"
	"strings"
	"testing"
)

// A setting that cannot work stops the processor at start, naming the flag
// (and the variable, when the value came from the environment): none of
// them may pass --check-config, least of all into the embedded development
// broker.
func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want string // in the error
	}{
		{"comma-only brokers", []string{"--brokers", ",,"}, nil, `--brokers: no broker in ",,"`},
		{"blank brokers", []string{"--brokers", "  "}, nil, `--brokers: no broker in "  "`},
		{"blank SENDGATE_BROKERS", nil, []string{"SENDGATE_BROKERS= "}, `SENDGATE_BROKERS (--brokers): no broker in " "`},
		{"comma-only SENDGATE_BROKERS", nil, []string{"SENDGATE_BROKERS=, ,"}, `SENDGATE_BROKERS (--brokers): no broker`},
		{"port not a number", []string{"--brokers", "kafka:notaport"}, nil, `--brokers: "kafka:notaport": port "notaport"`},
		{"no port", []string{"--brokers", "kafka"}, nil, `--brokers: "kafka": a broker is host:port`},
		{"port 0", []string{"--brokers", "kafka:0"}, nil, `--brokers: "kafka:0": port "0": must be a number 1..65535`},
		{"no host", []string{"--brokers", ":9092"}, nil, `--brokers: ":9092": a broker is host:port: missing host`},
		{"scheme", []string{"--brokers", "http://kafka:9092"}, nil, `--brokers: "http://kafka:9092": a broker is host:port, without a scheme (http://)`},
		{"one bad of two", []string{"--brokers", "kafka:9092,kafka:x"}, nil, `--brokers: "kafka:x"`},
		{"bad env broker", nil, []string{"SENDGATE_BROKERS=kafka:notaport"}, `SENDGATE_BROKERS (--brokers): "kafka:notaport"`},
		{"http-addr nonsense", []string{"--http-addr", "nonsense"}, nil, `--http-addr: "nonsense": want [host]:port`},
		{"http-addr port", []string{"--http-addr", "127.0.0.1:http"}, nil, `--http-addr: "127.0.0.1:http": port "http"`},
		{"http-addr env", nil, []string{"SENDGATE_HTTP_ADDR=nonsense"}, `SENDGATE_HTTP_ADDR (--http-addr): "nonsense"`},
		{"empty http-addr", []string{"--http-addr", ""}, nil, `--http-addr: must not be empty`},
		{"embedded-addr port", []string{"--embedded-addr", ":99999"}, nil, `--embedded-addr: ":99999": port "99999": must be a number 0..65535`},
		{"empty embedded-addr", []string{"--embedded-addr", ""}, nil, `--embedded-addr: must not be empty`},
		{"empty attempts topic", []string{"--attempts-topic", ""}, nil, `--attempts-topic: must not be empty`},
		{"empty settings topic", []string{"--settings-topic", ""}, nil, `--settings-topic: must not be empty`},
		{"empty verdicts topic", []string{"--verdicts-topic", ""}, nil, `--verdicts-topic: must not be empty`},
		{"blank dlq topic", []string{"--dlq-topic", " "}, nil, `--dlq-topic: must not be empty`},
		{"empty group", []string{"--group-id", ""}, nil, `--group-id: must not be empty`},
		{"same topic twice", []string{"--attempts-topic", "x", "--verdicts-topic", "x"}, nil, `--verdicts-topic`},
		{"same topic twice, one from env", []string{"--attempts-topic", "x"}, []string{"SENDGATE_VERDICTS_TOPIC=x"}, `SENDGATE_VERDICTS_TOPIC (--verdicts-topic): "x" is also the attempts-topic`},
		{"session timeout from env", nil, []string{"SENDGATE_SESSION_TIMEOUT=0s"}, `SENDGATE_SESSION_TIMEOUT (--session-timeout): must be positive`},
		{"session timeout too long", []string{"--session-timeout", "6m"}, nil, `--session-timeout: must be 1s..5m`},
		{"negative standby replicas", []string{"--standby-replicas", "-1"}, nil, `--standby-replicas: must not be negative, got -1`},
		{"negative standby replicas from env", nil, []string{"SENDGATE_STANDBY_REPLICAS=-2"}, `SENDGATE_STANDBY_REPLICAS (--standby-replicas): must not be negative, got -2`},
		{"bad env value", nil, []string{"SENDGATE_MAX_BATCH=many"}, `SENDGATE_MAX_BATCH (--max-batch): invalid value "many"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			o, err := parseOptions(tc.args, tc.env, &out)
			if err == nil {
				t.Fatalf("accepted (brokers %q, http %q, embedded %q), want an error with %q", o.brokers, o.httpAddr, o.embeddedAddr, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// What is accepted, and how it is read.
func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		env      []string
		brokers  string // joined by spaces; empty: the embedded broker
		http     string
		embedded string
	}{
		{"defaults: embedded broker", nil, nil, "", "127.0.0.1:8080", "127.0.0.1:9092"},
		{"explicitly empty --brokers: embedded", []string{"--brokers", ""}, nil, "", "127.0.0.1:8080", "127.0.0.1:9092"},
		{"empty SENDGATE_BROKERS: embedded", nil, []string{"SENDGATE_BROKERS="}, "", "127.0.0.1:8080", "127.0.0.1:9092"},
		{"list with spaces and a trailing comma", []string{"--brokers", " kafka-1:9092, [::1]:9093,"}, nil, "kafka-1:9092 [::1]:9093", "127.0.0.1:8080", "127.0.0.1:9092"},
		{"env", nil, []string{"SENDGATE_BROKERS=kafka:9092", "SENDGATE_HTTP_ADDR=0.0.0.0:8080"}, "kafka:9092", "0.0.0.0:8080", "127.0.0.1:9092"},
		{"flag wins over a bad env value", []string{"--brokers", "kafka:9092"}, []string{"SENDGATE_BROKERS=,"}, "kafka:9092", "127.0.0.1:8080", "127.0.0.1:9092"},
		{"any port, all interfaces", []string{"--http-addr", ":0", "--embedded-addr", "127.0.0.1:0"}, nil, "", ":0", "127.0.0.1:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			o, err := parseOptions(tc.args, tc.env, &out)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(o.brokers, " "); got != tc.brokers || o.httpAddr != tc.http || o.embeddedAddr != tc.embedded {
				t.Fatalf("brokers %q, http %q, embedded %q; want %q, %q, %q", got, o.httpAddr, o.embeddedAddr, tc.brokers, tc.http, tc.embedded)
			}
			if len(o.warnings) != 0 {
				t.Fatalf("warnings: %q", o.warnings)
			}
		})
	}
}

// An unknown SENDGATE_* variable (a typo, most likely) is warned about by
// name; the processor still starts. Other variables are not its business.
func TestUnknownEnvironmentWarning(t *testing.T) {
	var stderr bytes.Buffer
	code := run([]string{"--check-config", "--brokers", "kafka:9092"},
		[]string{"SENDGATE_LOG_LEVLE=debug", "SENDGATE_LOG_LEVEL=info", "HOME=/root", "XSENDGATE_Y=1"}, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, stderr.String())
	}
	out := stderr.String()
	if !strings.Contains(out, `"level":"warn"`) || !strings.Contains(out, "SENDGATE_LOG_LEVLE is not a processor setting (no --log-levle flag)") {
		t.Fatalf("no warning naming SENDGATE_LOG_LEVLE:\n%s", out)
	}
	if strings.Count(out, `"level":"warn"`) != 1 {
		t.Fatalf("want exactly one warning:\n%s", out)
	}
	if !strings.Contains(out, "configuration is valid") {
		t.Fatalf("no 'configuration is valid':\n%s", out)
	}
}

// --check-config exits 2 with the error on a bad setting, as the processor
// itself would at start.
func TestCheckConfigRejects(t *testing.T) {
	var stderr bytes.Buffer
	if code := run([]string{"--check-config", "--brokers", ",,"}, nil, &stderr); code != 2 {
		t.Fatalf("exit %d, want 2:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "processor: --brokers: no broker") {
		t.Fatalf("stderr:\n%s", stderr.String())
	}
}

// --standby-replicas (SENDGATE_STANDBY_REPLICAS) reaches pipeline.Config;
// its default is 0.
func TestStandbyReplicasOption(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  []string
		want int
	}{
		{nil, nil, 0},
		{[]string{"--standby-replicas", "1"}, nil, 1},
		{nil, []string{"SENDGATE_STANDBY_REPLICAS=2"}, 2},
		{[]string{"--standby-replicas", "3"}, []string{"SENDGATE_STANDBY_REPLICAS=2"}, 3},
	} {
		var out bytes.Buffer
		o, err := parseOptions(tc.args, tc.env, &out)
		if err != nil {
			t.Fatal(err)
		}
		if o.pipeline.StandbyReplicas != tc.want {
			t.Errorf("args %q env %q: StandbyReplicas %d, want %d", tc.args, tc.env, o.pipeline.StandbyReplicas, tc.want)
		}
	}
}
