package main

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/sendgate/sendgate/contract"
	"github.com/sendgate/sendgate/events"
)

// Config configures a Server. Zero fields mean their documented default;
// New calls EnsureDefaults and Validate.
type Config struct {
	// Brokers are the Kafka bootstrap brokers. Required.
	Brokers []string
	// ProcessorURL is the base URL of the processor's HTTP API. Default
	// "http://127.0.0.1:8080".
	ProcessorURL string
	// ProcessorToken, when set, is sent as "Authorization: Bearer <token>"
	// to the processor's query API.
	ProcessorToken string
	// Addr is where the console listens. Default "127.0.0.1:8090".
	Addr string
	// Bot is the bot the console shows. Default DefaultBot.
	Bot string
	// AttemptsTopic, SettingsTopic and VerdictsTopic default to the
	// contract's names.
	AttemptsTopic, SettingsTopic, VerdictsTopic string
	// VerdictTimeout is how long a send waits for its verdict: more than 0,
	// at most a minute. Default 15s.
	VerdictTimeout time.Duration
	// Logf receives the console's log lines. Default: discard.
	Logf func(format string, args ...any)
}

// EnsureDefaults fills in the defaults of unset fields.
func (c *Config) EnsureDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.ProcessorURL, "http://127.0.0.1:8080")
	def(&c.Addr, "127.0.0.1:8090")
	def(&c.Bot, DefaultBot)
	def(&c.AttemptsTopic, contract.AttemptsTopic)
	def(&c.SettingsTopic, contract.SettingsTopic)
	def(&c.VerdictsTopic, contract.VerdictsTopic)
	if c.VerdictTimeout == 0 {
		c.VerdictTimeout = 15 * time.Second
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
}

// Validate reports the first invalid field, naming its flag.
func (c *Config) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("--brokers: at least one broker is required")
	}
	u, err := url.Parse(c.ProcessorURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--processor-url: want a URL such as http://127.0.0.1:8080, got %q", c.ProcessorURL)
	}
	if c.Bot == "" || len(c.Bot) > events.MaxIDBytes {
		return fmt.Errorf("--bot: must be 1..%d bytes", events.MaxIDBytes)
	}
	for _, t := range []struct{ flag, v string }{{"attempts-topic", c.AttemptsTopic},
		{"settings-topic", c.SettingsTopic}, {"verdicts-topic", c.VerdictsTopic}} {
		if t.v == "" {
			return fmt.Errorf("--%s: must not be empty", t.flag)
		}
	}
	if c.VerdictTimeout <= 0 || c.VerdictTimeout > time.Minute {
		return fmt.Errorf("--verdict-timeout: must be more than 0 and at most 1m, got %s", c.VerdictTimeout)
	}
	return nil
}
