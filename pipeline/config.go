package pipeline

import (
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/sendgate/sendgate/contract"
	"github.com/sendgate/sendgate/quota"
)

// Config configures a Runner. The zero value of every field but Brokers means
// its documented default; call Validate (New does) before use.
type Config struct {
	// Brokers are the bootstrap brokers. Required.
	Brokers []string
	// GroupID is the consumer group on the attempts topic. Default "sendgate".
	GroupID string
	// AttemptsTopic default "desk.active-messages.attempts".
	AttemptsTopic string
	// SettingsTopic default "desk.bot-settings".
	SettingsTopic string
	// VerdictsTopic default "desk.active-messages.verdicts".
	VerdictsTopic string
	// DLQTopic default "desk.active-messages.dlq".
	DLQTopic string
	// ChangelogTopic is the compacted topic that holds a copy of every
	// partition's state (one changelog partition per attempts partition),
	// from which an instance that gets a partition restores it. Default
	// "<GroupID>-state-changelog".
	ChangelogTopic string
	// AdvertisedHTTPAddr is the host:port other instances forward quota
	// queries to (this instance's HTTP API, as they reach it), put in the
	// consumer-group member metadata. Empty: no forwarding to this
	// instance (it answers its own partitions only).
	AdvertisedHTTPAddr string
	// SessionTimeout of the consumer group: how soon a dead instance's
	// partitions move. Default 10s.
	SessionTimeout time.Duration
	// StandbyReplicas is how many other instances keep a warm copy of each
	// partition's state, following its committed changelog, so that a
	// takeover applies only the tail (standby.go). Copies are placed from
	// the consumer group's members and assignment; more than the number of
	// other instances keeps one copy on each of them. Default 0: none.
	StandbyReplicas int

	// CreateTopics creates missing topics at start (attempts and settings with
	// message.timestamp.type=CreateTime, Kafka's default; settings and changelog compacted). Default off;
	// the embedded broker turns it on.
	CreateTopics bool
	// Partitions is the partition count of topics created by CreateTopics.
	// Default 8.
	Partitions int

	// MaxBatch is the most records decided and committed as one batch.
	// Default 4096.
	MaxBatch int
	// FetchMaxBytes bounds one fetch; about MaxBatch records of a few hundred
	// bytes. Default 1 MiB.
	FetchMaxBytes int
	// FetchMaxWait is how long a fetch waits for new records. Default 250ms.
	FetchMaxWait time.Duration
	// VerdictRetention is the least time a verdict is kept for idempotency
	// (redeliveries of the same attempt id); it is kept for the bot's window
	// when that is longer. Default 24h.
	VerdictRetention time.Duration
	// ExpirePerBatch is the least number of state entries the expiry sweep
	// examines at once. It examines two entries per record processed, so
	// that sweeping keeps pace with writing (each record adds at most two new
	// entries), in steps of at least this many, and rests while nothing can
	// have expired (sweep.go). Default 1024.
	ExpirePerBatch int
	// SettingsWatchCheck is how often a partition worker checks that the
	// settings partitions have the same leader as its attempts partition:
	// only then does its fetch read their ends (one request goes to one
	// broker); otherwise each batch asks for them with a ListOffsets.
	// Default 30s.
	SettingsWatchCheck time.Duration
	// CacheContacts bounds the contacts whose committed histories are kept
	// in memory, over all owned partitions. Default 65,536 (~15 MiB).
	CacheContacts int
	// TransactionTimeout is the transaction.timeout.ms of the partitions'
	// transactional producers: how long the broker lets a transaction of a
	// stalled instance stay open (holding back read_committed readers of the
	// partitions it wrote) before aborting it, when no new owner fences it
	// sooner. At most the brokers' transaction.max.timeout.ms (15 min by
	// default). Default 10s, as Kafka Streams.
	TransactionTimeout time.Duration
	// ShutdownTimeout bounds finishing the batch in hand on shutdown.
	// Default 6s (the contract allows 10 s from SIGTERM to exit).
	ShutdownTimeout time.Duration

	// ReemitLastBatch makes a partition worker publish the stored verdicts
	// of its last committed batch again when it starts, in a transaction of
	// their own (the same data: the contract allows a verdict re-emitted).
	// The embedded development broker (kfake) turns it on: it has no
	// transaction log, so a process killed in the middle of its EndTxn can
	// leave a transaction committed on the changelog and aborted on the
	// verdicts. A real Kafka completes every transaction it committed.
	// Default off.
	ReemitLastBatch bool

	// TLS encrypts every connection to Kafka when enabled.
	TLS TLS
	// SASL authenticates every connection to Kafka when set.
	SASL SASL

	// Logger receives JSON log lines. Default: discard.
	Logger zerolog.Logger

	// now is the clock, for tests; default time.Now.
	now func() time.Time
}

// FutureClamp is how far ahead of the processor's wall clock a record
// timestamp may be before it is clamped (fixed by the contract).
const FutureClamp = quota.FutureClamp

// EnsureDefaults fills in the defaults of unset fields.
func (c *Config) EnsureDefaults() {
	setDefault(&c.GroupID, contract.GroupID)
	setDefault(&c.AttemptsTopic, contract.AttemptsTopic)
	setDefault(&c.SettingsTopic, contract.SettingsTopic)
	setDefault(&c.VerdictsTopic, contract.VerdictsTopic)
	setDefault(&c.DLQTopic, contract.DLQTopic)
	setDefault(&c.ChangelogTopic, c.GroupID+contract.ChangelogSuffix)
	setDefault(&c.SessionTimeout, 10*time.Second)
	setDefault(&c.Partitions, 8)
	setDefault(&c.MaxBatch, 4096)
	setDefault(&c.FetchMaxBytes, 1<<20)
	setDefault(&c.FetchMaxWait, 250*time.Millisecond)
	setDefault(&c.VerdictRetention, 24*time.Hour)
	setDefault(&c.ExpirePerBatch, 1024)
	setDefault(&c.CacheContacts, 1<<16)
	setDefault(&c.SettingsWatchCheck, 30*time.Second)
	setDefault(&c.TransactionTimeout, 10*time.Second)
	if c.ShutdownTimeout == 0 {
		// Well inside the session timeout: a worker still finishing its
		// batch when the group moves its partition would write after the
		// next owner restored it.
		c.ShutdownTimeout = min(6*time.Second, c.SessionTimeout/2)
	}
	if c.now == nil {
		c.now = time.Now
	}
}

// Validate reports the first invalid field, naming it.
func (c *Config) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("pipeline: brokers: at least one broker is required")
	}
	for _, b := range c.Brokers {
		if b == "" {
			return errors.New("pipeline: brokers: empty broker address")
		}
	}
	topics := map[string]string{}
	for _, t := range []struct{ field, name string }{
		{"attempts-topic", c.AttemptsTopic}, {"settings-topic", c.SettingsTopic},
		{"verdicts-topic", c.VerdictsTopic}, {"dlq-topic", c.DLQTopic}, {"changelog-topic", c.ChangelogTopic},
	} {
		if t.name == "" {
			return fmt.Errorf("pipeline: %s: must not be empty", t.field)
		}
		if other, dup := topics[t.name]; dup {
			return fmt.Errorf("pipeline: %s: %q is also the %s", t.field, t.name, other)
		}
		topics[t.name] = t.field
	}
	switch {
	case c.GroupID == "":
		return errors.New("pipeline: group-id: must not be empty")
	case c.SessionTimeout < time.Second || c.SessionTimeout > 5*time.Minute:
		return fmt.Errorf("pipeline: session-timeout: must be 1s..5m, got %s", c.SessionTimeout)
	case c.Partitions < 1 || c.Partitions > 10000:
		return fmt.Errorf("pipeline: partitions: must be 1..10000, got %d", c.Partitions)
	case c.StandbyReplicas < 0:
		return fmt.Errorf("pipeline: standby-replicas: must not be negative, got %d", c.StandbyReplicas)
	case c.MaxBatch < 1:
		return fmt.Errorf("pipeline: max-batch: must be positive, got %d", c.MaxBatch)
	case c.FetchMaxBytes < 1024:
		return fmt.Errorf("pipeline: fetch-max-bytes: must be at least 1024, got %d", c.FetchMaxBytes)
	case c.FetchMaxWait <= 0:
		return fmt.Errorf("pipeline: fetch-max-wait: must be positive, got %s", c.FetchMaxWait)
	case c.SettingsWatchCheck < 0:
		return fmt.Errorf("pipeline: settings-watch-check: must not be negative, got %s", c.SettingsWatchCheck)
	case c.VerdictRetention < time.Minute:
		return fmt.Errorf("pipeline: verdict-retention: must be at least 1m, got %s", c.VerdictRetention)
	case c.TransactionTimeout < time.Second || c.TransactionTimeout > 15*time.Minute:
		return fmt.Errorf("pipeline: transaction-timeout: must be 1s..15m, got %s", c.TransactionTimeout)
	}
	if _, err := c.TLS.Config(); err != nil {
		return err
	}
	if _, err := c.SASL.mechanism(); err != nil {
		return err
	}
	return nil
}

// setDefault sets *p to v when *p is the zero value.
func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}
