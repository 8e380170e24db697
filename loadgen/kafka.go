package loadgen

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// partitions returns the partitions of topic, ascending. A missing topic is
// an error: loadgen creates nothing (the processor creates its topics).
func partitions(ctx context.Context, cl *kgo.Client, topic string) ([]int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, t)
	var last error
	for try := 0; try < 20; try++ { // a just-created topic may need a moment
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return nil, fmt.Errorf("loadgen: metadata of %s: %w", topic, err)
		}
		if len(resp.Topics) != 1 {
			return nil, fmt.Errorf("loadgen: metadata of %s: %d topics in the answer", topic, len(resp.Topics))
		}
		rt := resp.Topics[0]
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			last = err
		} else if len(rt.Partitions) > 0 {
			var ps []int32
			for _, p := range rt.Partitions {
				ps = append(ps, p.Partition)
			}
			slices.Sort(ps)
			return ps, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("loadgen: topic %s: %v (is the processor running? it creates its topics)", topic, last)
}

// readCommitted is a client reading the given partitions of topic from the
// given offsets, committed records only. The caller closes it.
func readCommitted(brokers []string, topic string, offsets map[int32]kgo.Offset) (*kgo.Client, error) {
	return kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchMaxWait(100*time.Millisecond), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
}

// endOffsets returns the log end offset of every partition of topic.
func endOffsets(ctx context.Context, cl *kgo.Client, topic string, parts []int32) (map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = topic
	for _, p := range parts {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = p
		rp.CurrentLeaderEpoch = -1
		rp.Timestamp = -1 // the end
		t.Partitions = append(t.Partitions, rp)
	}
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("loadgen: list offsets of %s: %w", topic, err)
	}
	ends := map[int32]int64{}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return nil, fmt.Errorf("loadgen: list offsets of %s partition %d: %w", topic, rp.Partition, err)
			}
			ends[rp.Partition] = rp.Offset
		}
	}
	for _, p := range parts {
		if _, ok := ends[p]; !ok {
			return nil, fmt.Errorf("loadgen: list offsets of %s partition %d: no answer", topic, p)
		}
	}
	return ends, nil
}
