package pipeline_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sendgate/sendgate/contract"
	"github.com/sendgate/sendgate/quota"
)

// groupOffsets returns the consumer group's committed offsets of the
// attempts topic (stable ones: no transaction pending), by partition.
func (e *env) groupOffsets(parts int32) map[int32]int64 {
	e.t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = contract.GroupID
	req.RequireStable = true
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = attemptsTopic
	for p := range parts {
		rt.Partitions = append(rt.Partitions, p)
	}
	req.Topics = append(req.Topics, rt)
	return e.offsets(req)
}

// endOffsets returns the attempts topic's end offsets, by partition.
func (e *env) endOffsets(parts int32) map[int32]int64 {
	e.t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = attemptsTopic
	for p := range parts {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return e.offsets(req)
}

// offsets sends an OffsetFetch or ListOffsets request and returns the
// offsets of its answer, by partition.
func (e *env) offsets(req kmsg.Request) map[int32]int64 {
	e.t.Helper()
	resp, err := e.cl.Request(context.Background(), req)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[int32]int64{}
	switch resp := resp.(type) {
	case *kmsg.OffsetFetchResponse:
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				out[p.Partition] = p.Offset
			}
		}
	case *kmsg.ListOffsetsResponse:
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				out[p.Partition] = p.Offset
			}
		}
	default:
		e.t.Fatalf("offsets: unexpected response %T", resp)
	}
	return out
}

// After a burst, every partition's group offset (committed in the batches'
// transactions) is at the partition's end as soon as its verdicts are
// visible, with nothing more to read: lag tools (kafka-consumer-groups,
// Burrow) see 0 for an idle partition.
func TestIdlePartitionsGroupOffsetsAtTheirEnd(t *testing.T) {
	const parts = 4
	e := runningEnv(t, parts, limit(1, 3, day, quota.ScopeContact))
	t0 := base()
	for i := range 200 {
		e.attempt(fmt.Sprintf("a%d", i), "bot1", fmt.Sprintf("c%d", i%37), "ana", t0.Add(time.Duration(i)*time.Millisecond))
	}
	for i := range 200 {
		e.verdict(fmt.Sprintf("a%d", i))
	}
	ends := e.endOffsets(parts)
	if got := e.groupOffsets(parts); fmt.Sprint(got) != fmt.Sprint(ends) {
		t.Fatalf("group offsets %v once every verdict is visible, want the ends %v", got, ends)
	}
}
