package loadgen

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sendgate/sendgate/contract"
	"github.com/sendgate/sendgate/quota"
)

// Config configures a Run. The zero value of every field but Attempts means
// its documented default; Run calls EnsureDefaults and Validate.
type Config struct {
	// Brokers are the bootstrap brokers. Default ["127.0.0.1:9092"].
	Brokers []string
	// AttemptsTopic, SettingsTopic and VerdictsTopic default to the
	// contract's names (package contract).
	AttemptsTopic, SettingsTopic, VerdictsTopic string

	// Attempts is the number of distinct attempts published. Required.
	Attempts int
	// Rate is the attempts-topic records published per second; 0 (the
	// default) publishes as fast as the client and broker take them.
	Rate float64
	// Bots, Contacts and Agents size the population. Contacts is the number
	// of distinct (bot, contact) keys: contact i belongs to bot i % Bots.
	// Every attempt picks a contact and an agent uniformly at random.
	// Defaults 100, 10,000 and 20.
	Bots, Contacts, Agents int

	// Limit is max_per_contact of the bots whose limit is enabled. Default 3.
	Limit int
	// Window is the window of every bot. Default 24h; whole seconds,
	// 1m..720h.
	Window time.Duration
	// AgentContact is the fraction of bots with scope agent_contact, and
	// Disabled the fraction with the limit disabled (rounded to whole
	// bots); the rest have scope contact. Default 0 (cmd/loadgen's flags
	// default to 0.1 each).
	AgentContact, Disabled float64

	// Duplicates is the fraction of extra records that re-send an earlier
	// attempt (same id, same key): Attempts*Duplicates of them. Default 0.
	Duplicates float64
	// Failed is the fraction of extra send-failed events releasing an
	// earlier attempt: Attempts*Failed of them. Default 0.
	Failed float64
	// Invalid is the fraction of the attempts that are invalid (no
	// agent_id) and must be rejected. Default 0.
	Invalid float64

	// Span is the simulated time the record timestamps cover, ending at the
	// start of the run. Default (0): about four attempts per contact per
	// window, so that windows fill, block and expire.
	Span time.Duration
	// Seed seeds the workload. Default 1.
	Seed uint64

	// Linger is the producer's linger. Default 1ms.
	Linger time.Duration
	// MaxBuffered bounds the records buffered in the producer. Default
	// 100,000.
	MaxBuffered int
	// Timeout is how long to wait for a verdict to arrive when some are
	// still missing and none came meanwhile. Default 30s.
	Timeout time.Duration
	// NoReadBack skips reading the attempts topic back after the run; the
	// model then trusts the produced timestamps (wrong for LogAppendTime
	// topics) and cannot see other producers' records.
	NoReadBack bool

	// Progress receives a progress line every second once the run has
	// lasted a few seconds; nil prints none.
	Progress io.Writer
	// Logf receives notes about the run (phases, warnings); nil discards
	// them.
	Logf func(format string, args ...any)
}

// Defaults, as documented on Config.
const (
	DefaultBots        = 100
	DefaultContacts    = 10_000
	DefaultAgents      = 20
	DefaultLimit       = 3
	DefaultWindow      = 24 * time.Hour
	DefaultLinger      = time.Millisecond
	DefaultMaxBuffered = 100_000
	DefaultTimeout     = 30 * time.Second
)

// EnsureDefaults fills the zero fields with their defaults.
func (c *Config) EnsureDefaults() {
	if len(c.Brokers) == 0 {
		c.Brokers = []string{"127.0.0.1:9092"}
	}
	setDefault(&c.AttemptsTopic, contract.AttemptsTopic)
	setDefault(&c.SettingsTopic, contract.SettingsTopic)
	setDefault(&c.VerdictsTopic, contract.VerdictsTopic)
	setDefault(&c.Bots, DefaultBots)
	setDefault(&c.Contacts, DefaultContacts)
	setDefault(&c.Agents, DefaultAgents)
	setDefault(&c.Limit, DefaultLimit)
	setDefault(&c.Window, DefaultWindow)
	setDefault(&c.Seed, 1)
	setDefault(&c.Linger, DefaultLinger)
	setDefault(&c.MaxBuffered, DefaultMaxBuffered)
	setDefault(&c.Timeout, DefaultTimeout)
	if c.Span == 0 {
		perContact := float64(c.Attempts) / float64(max(c.Contacts, 1))
		c.Span = time.Duration(max(1, perContact/4) * float64(c.Window))
	}
}

// Validate reports the first invalid field, named as its flag.
func (c *Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("loadgen: %s: "+format, append([]any{name}, args...)...))
	}
	if c.Attempts < 1 || c.Attempts > 100_000_000 {
		bad("attempts", "must be 1..100000000, got %d", c.Attempts)
	}
	if c.Rate < 0 {
		bad("rate", "must not be negative, got %v", c.Rate)
	}
	if c.Bots < 1 {
		bad("bots", "must be positive, got %d", c.Bots)
	}
	if c.Contacts < c.Bots {
		bad("contacts", "must be at least --bots (%d), got %d", c.Bots, c.Contacts)
	}
	if c.Agents < 1 {
		bad("agents", "must be positive, got %d", c.Agents)
	}
	if c.Limit < quota.MinMax || c.Limit > quota.MaxMax {
		bad("limit", "must be %d..%d, got %d", quota.MinMax, quota.MaxMax, c.Limit)
	}
	if w := c.Window; w%time.Second != 0 || w < quota.MinWindowSeconds*time.Second || w > quota.MaxWindowSeconds*time.Second {
		bad("window", "must be whole seconds in 1m..720h, got %s", w)
	}
	frac := func(name string, f float64, hi float64) {
		if f < 0 || f > hi {
			bad(name, "must be 0..%v, got %v", hi, f)
		}
	}
	frac("agent-contact", c.AgentContact, 1)
	frac("disabled", c.Disabled, 1)
	if c.AgentContact+c.Disabled > 1 {
		bad("agent-contact", "plus --disabled must be at most 1, got %v", c.AgentContact+c.Disabled)
	}
	frac("duplicates", c.Duplicates, 10)
	frac("failed", c.Failed, 10)
	frac("invalid", c.Invalid, 1)
	if c.Span < 0 {
		bad("span", "must not be negative, got %s", c.Span)
	}
	if c.MaxBuffered < 1 {
		bad("max-buffered", "must be positive, got %d", c.MaxBuffered)
	}
	if c.Timeout <= 0 {
		bad("timeout", "must be positive, got %s", c.Timeout)
	}
	for _, t := range []struct{ name, v string }{
		{"attempts-topic", c.AttemptsTopic}, {"settings-topic", c.SettingsTopic}, {"verdicts-topic", c.VerdictsTopic},
	} {
		if t.v == "" {
			bad(t.name, "must not be empty")
		}
	}
	return errors.Join(errs...)
}

// setDefault sets *p to v when *p is the zero value.
func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}
