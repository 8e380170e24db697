package flagenv_test

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sendgate/sendgate/flagenv"
)

func newFlags() (*flag.FlagSet, *string, *time.Duration) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("http-addr", "127.0.0.1:8080", "")
	timeout := fs.Duration("session-timeout", 10*time.Second, "")
	return fs, addr, timeout
}

// The command line wins over the environment, which wins over the default;
// an empty variable is unset.
func TestPrecedence(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		env      []string
		addr     string
		where    string // of http-addr
		sessions time.Duration
	}{
		{"defaults", nil, nil, "127.0.0.1:8080", "--http-addr", 10 * time.Second},
		{"environment", nil, []string{"SENDGATE_HTTP_ADDR=:1", "SENDGATE_SESSION_TIMEOUT=3s"}, ":1", "SENDGATE_HTTP_ADDR (--http-addr)", 3 * time.Second},
		{"command line wins", []string{"--http-addr", ":2"}, []string{"SENDGATE_HTTP_ADDR=:1"}, ":2", "--http-addr", 10 * time.Second},
		{"a bad variable under a flag is not read", []string{"--session-timeout", "1s"}, []string{"SENDGATE_SESSION_TIMEOUT=soon"}, "127.0.0.1:8080", "--http-addr", time.Second},
		{"empty variable is unset", nil, []string{"SENDGATE_HTTP_ADDR="}, "127.0.0.1:8080", "--http-addr", 10 * time.Second},
		{"other prefix ignored", nil, []string{"DESK_HTTP_ADDR=:1"}, "127.0.0.1:8080", "--http-addr", 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, addr, timeout := newFlags()
			p, err := flagenv.Parse(fs, flagenv.Prefix, tc.args, flagenv.Getenv(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if *addr != tc.addr || *timeout != tc.sessions || p.Where("http-addr") != tc.where {
				t.Fatalf("http-addr %q (%s), session-timeout %s; want %q (%s), %s", *addr, p.Where("http-addr"), *timeout, tc.addr, tc.where, tc.sessions)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{nil, []string{"SENDGATE_SESSION_TIMEOUT=soon"}, `SENDGATE_SESSION_TIMEOUT (--session-timeout): invalid value "soon": `},
		{[]string{"--session-timeout", "soon"}, nil, `invalid value "soon" for flag -session-timeout`},
		{[]string{"--bogus"}, nil, "flag provided but not defined: -bogus"},
		{[]string{"-h"}, nil, flag.ErrHelp.Error()},
	} {
		fs, _, _ := newFlags()
		_, err := flagenv.Parse(fs, flagenv.Prefix, tc.args, flagenv.Getenv(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q %q: error %v, want it to contain %q", tc.args, tc.env, err, tc.want)
		}
		var ve *flagenv.VarError
		if errors.As(err, &ve) != (tc.env != nil) {
			t.Errorf("%q %q: error %T, a *VarError exactly for a variable", tc.args, tc.env, err)
		}
	}
}

// A library's "<pkg>: <field>: <reason>" errors name the flag, and the
// variable when the value came from there.
func TestConfigError(t *testing.T) {
	fs, _, _ := newFlags()
	fs.String("tls-cert-file", "", "")
	fs.String("tls-key-file", "", "")
	fs.String("addr", "", "")
	p, err := flagenv.Parse(fs, flagenv.Prefix, []string{"--tls-key-file", "k"},
		flagenv.Getenv([]string{"SENDGATE_SESSION_TIMEOUT=0s", "SENDGATE_TLS_CERT_FILE=c"}))
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{"listen": "addr"}
	for _, tc := range []struct{ in, want string }{
		{"pipeline: session-timeout: must be 1s..5m, got 0s", "SENDGATE_SESSION_TIMEOUT (--session-timeout): must be 1s..5m, got 0s"},
		{"pipeline: http-addr: bad", "--http-addr: bad"},
		{"pipeline: listen: bad", "--addr: bad"},
		{"pipeline: tls-cert-file/tls-key-file: no pair", "SENDGATE_TLS_CERT_FILE (--tls-cert-file)/--tls-key-file: no pair"},
		{"pipeline: fetch-max-bytes: too small", "pipeline: fetch-max-bytes: too small"}, // no such flag
		{"state: http-addr: bad", "state: http-addr: bad"},                               // another package
		{"pipeline: no field here", "pipeline: no field here"},
	} {
		if got := p.ConfigError(errors.New(tc.in), "pipeline", fields).Error(); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
	joined := errors.Join(errors.New("pipeline: http-addr: bad"), errors.New("pipeline: session-timeout: bad"))
	if got, want := p.ConfigError(joined, "pipeline", nil).Error(), "--http-addr: bad\nSENDGATE_SESSION_TIMEOUT (--session-timeout): bad"; got != want {
		t.Errorf("joined: got %q, want %q", got, want)
	}
	if p.ConfigError(nil, "pipeline", nil) != nil {
		t.Error("nil became an error")
	}
}

func TestUnknown(t *testing.T) {
	fs, _, _ := newFlags()
	got := flagenv.Unknown(fs, flagenv.Prefix, "processor", []string{"SENDGATE_LOG_LEVLE=debug", "SENDGATE_HTTP_ADDR=:1",
		"HOME=/root", "XSENDGATE_Y=1", "SENDGATE_A=1", "SENDGATE_A=2"})
	want := []string{
		"environment variable SENDGATE_A is not a processor setting (no --a flag): ignored",
		"environment variable SENDGATE_LOG_LEVLE is not a processor setting (no --log-levle flag): ignored",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

// Only hides the variables of the other flags.
func TestOnly(t *testing.T) {
	fs, addr, timeout := newFlags()
	env := flagenv.Getenv([]string{"SENDGATE_HTTP_ADDR=:1", "SENDGATE_SESSION_TIMEOUT=3s"})
	if _, err := flagenv.Parse(fs, flagenv.Prefix, nil, flagenv.Only(flagenv.Prefix, env, "http-addr")); err != nil {
		t.Fatal(err)
	}
	if *addr != ":1" || *timeout != 10*time.Second {
		t.Fatalf("http-addr %q, session-timeout %s; want :1 and the default 10s", *addr, *timeout)
	}
}

func ExampleParse() {
	fs := flag.NewFlagSet("example", flag.ContinueOnError)
	addr := fs.String("http-addr", "127.0.0.1:8080", "listen address")
	level := fs.String("log-level", "info", "log level")
	env := flagenv.Getenv([]string{"SENDGATE_HTTP_ADDR=0.0.0.0:8080", "SENDGATE_LOG_LEVEL=debug"})
	p, err := flagenv.Parse(fs, flagenv.Prefix, []string{"--log-level", "warn"}, env)
	if err != nil {
		panic(err)
	}
	fmt.Println(*addr, p.Where("http-addr"))
	fmt.Println(*level, p.Where("log-level"))
	// Output:
	// 0.0.0.0:8080 SENDGATE_HTTP_ADDR (--http-addr)
	// warn --log-level
}
