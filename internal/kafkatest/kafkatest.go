package kafkatest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sendgate/sendgate/contract"
)

// NewBroker starts a one-broker kfake cluster with the attempts and verdicts
// topics (partitions each) and the settings topic (one partition), closed
// when the test ends, and returns its address.
func NewBroker(t testing.TB, partitions int32) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(partitions, contract.AttemptsTopic, contract.VerdictsTopic),
		kfake.SeedTopics(1, contract.SettingsTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// Answer consumes topics from the broker at addr, from their start, until
// ctx is done, and produces the records answer returns for each record it
// reads (none for nil), as a processor would. It reports errors with
// t.Error, so it may run in its own goroutine.
func Answer(ctx context.Context, t testing.TB, addr string, topics []string, answer func(r *kgo.Record) *kgo.Record) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		t.Error(err)
		return
	}
	defer cl.Close()
	for ctx.Err() == nil {
		var out []*kgo.Record
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if a := answer(r); a != nil {
				out = append(out, a)
			}
		})
		if len(out) > 0 {
			if err := cl.ProduceSync(ctx, out...).FirstErr(); err != nil && ctx.Err() == nil {
				t.Error(err)
			}
		}
	}
}

// LockedBuf collects output that a test reads while another goroutine
// (a command's run, a process's stderr) writes it.
type LockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *LockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Len is how many bytes were written so far.
func (l *LockedBuf) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

// Since returns what was written after the first n bytes.
func (l *LockedBuf) Since(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()[n:]
}
