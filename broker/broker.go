package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Config configures an embedded broker.
type Config struct {
	// Addr is the host:port to listen on. Default "127.0.0.1:9092"; port 0
	// picks a free port.
	Addr string
	// Dir keeps the broker's log; empty keeps it in memory only.
	Dir string
	// SyncWrites fsyncs the log on every write. Off, a write is durable
	// once in the OS page cache: it survives the process being killed, not
	// the machine losing power (as Kafka's own default).
	SyncWrites bool
	// Partitions is the default partition count of auto-created topics.
	// Default 8.
	Partitions int
	// Logf receives the broker's log lines; nil discards them.
	Logf func(level, msg string, args ...any)
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:9092"
	}
	if c.Partitions == 0 {
		c.Partitions = 8
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("broker: embedded-addr: %w", err)
	}
	if c.Partitions < 1 {
		return fmt.Errorf("broker: partitions: must be positive, got %d", c.Partitions)
	}
	return nil
}

// Broker is a running embedded broker.
type Broker struct {
	c    *kfake.Cluster
	addr string
}

// Start listens on cfg.Addr and serves until Close.
func Start(cfg Config) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("broker: embedded-addr %s: %w", cfg.Addr, err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			if ln == nil {
				return nil, errors.New("broker: listener already used")
			}
			l := ln
			ln = nil
			return l, nil
		}),
		kfake.DefaultNumPartitions(cfg.Partitions),
		kfake.ClusterID("sendgate-embedded"),
	}
	restarted := false
	if cfg.Dir != "" {
		if entries, err := os.ReadDir(cfg.Dir); err == nil && len(entries) > 0 {
			restarted = true
		}
		if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("broker: data dir: %w", err)
		}
		if restarted {
			n, err := restoreProducerState(cfg.Dir)
			if err != nil {
				_ = ln.Close()
				return nil, err
			}
			if cfg.Logf != nil {
				cfg.Logf("info", "rebuilt the sequence state of %d producer partitions from the log", n)
			}
		}
		opts = append(opts, kfake.DataDir(filepath.Clean(cfg.Dir)))
		if cfg.SyncWrites {
			opts = append(opts, kfake.SyncWrites())
		}
	}
	if cfg.Logf != nil {
		opts = append(opts, kfake.WithLogger(logger{cfg.Logf}))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		if ln != nil {
			_ = ln.Close()
		}
		return nil, fmt.Errorf("broker: start: %w", err)
	}
	addrs := c.ListenAddrs()
	if len(addrs) == 0 {
		c.Close()
		return nil, errors.New("broker: start: no listener")
	}
	b := &Broker{c: c, addr: addrs[0]}
	if restarted {
		ctx, cancel := context.WithTimeout(context.Background(), repairTimeout)
		n, err := closeCrashAborted(ctx, b.addr)
		cancel()
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("broker: closing the transactions aborted by the last stop: %w", err)
		}
		if cfg.Logf != nil && n > 0 {
			cfg.Logf("info", "wrote %d abort markers for transactions the last stop may have left in flight", n)
		}
	}
	return b, nil
}

// Addr is the address clients connect to.
func (b *Broker) Addr() string { return b.addr }

// Cluster exposes the kfake cluster (tests use it to inject faults).
func (b *Broker) Cluster() *kfake.Cluster { return b.c }

// Close stops the broker, flushing its log.
func (b *Broker) Close() { b.c.Close() }

type logger struct {
	logf func(level, msg string, args ...any)
}

func (l logger) Logf(level kfake.LogLevel, msg string, args ...any) {
	l.logf(level.String(), msg, args...)
}
