// Command broker runs sendgate's embedded Kafka-protocol broker (kfake) on
// its own, without a processor: for benchmarks that keep the broker in a
// separate process, and for trying clients against it.
//
//	broker --addr 127.0.0.1:9092 --data-dir ./data/broker --partitions 8
//
// It creates the topics (attempts, verdicts and the default group's state
// changelog with --partitions, settings and DLQ with one) and serves until SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sendgate/sendgate/broker"
	"github.com/sendgate/sendgate/contract"
	"github.com/sendgate/sendgate/internal/cli"
)

func main() {
	fs := flag.NewFlagSet("broker", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:9092", "listen address (port 0 picks one; the address is printed)")
	dir := fs.String("data-dir", "", "keep the log here (empty: memory only)")
	parts := fs.Int("partitions", 8, "partitions of the attempts and verdicts topics")
	fsync := fs.Bool("fsync", false, "fsync every write")
	_ = fs.Parse(os.Args[1:])
	b, err := broker.Start(broker.Config{Addr: *addr, Dir: *dir, Partitions: *parts, SyncWrites: *fsync})
	if err != nil {
		fmt.Fprintln(os.Stderr, "broker:", err)
		os.Exit(1)
	}
	defer b.Close()
	c := b.Cluster()
	for _, t := range []struct {
		name string
		n    int
		cfg  map[string]string
	}{
		{contract.AttemptsTopic, *parts, nil},
		{contract.SettingsTopic, 1, map[string]string{"cleanup.policy": "compact"}},
		{contract.VerdictsTopic, *parts, nil},
		{contract.DLQTopic, 1, nil},
		{contract.GroupID + contract.ChangelogSuffix, *parts, map[string]string{"cleanup.policy": "compact"}},
	} {
		if err := c.CreateTopic(t.name, int32(t.n), t.cfg); err != nil && !topicExists(c, t.name) {
			fmt.Fprintf(os.Stderr, "broker: create topic %s: %v\n", t.name, err)
			os.Exit(1)
		}
	}
	fmt.Printf("broker listening on %s\n", b.Addr())
	ctx, stop := cli.SignalContext()
	defer stop()
	<-ctx.Done()
}

func topicExists(c *kfake.Cluster, name string) bool { return c.TopicInfo(name) != nil }
