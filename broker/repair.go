package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// closeCrashAborted writes an abort marker, on every partition, for every
// transactional producer the broker knows, after it loaded its log.
//
// kfake aborts the transactions that were in flight when its process died
// (a kill -9 of the single-machine mode) without writing their abort
// markers. A read_committed client (franz-go, the Java client, librdkafka)
// skips a producer's transactional batches from the aborted transaction's
// first offset until that producer's abort marker, so without one it would
// hide every later transaction of the same producer id (kfake keeps the id
// across epochs): the verdicts of every batch after the crash. A real
// broker completes such an abort with markers; this does the same. An
// abort marker of a producer with nothing aborted there is ignored by
// readers.
func closeCrashAborted(ctx context.Context, addr string) (markers int, err error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	list, err := kmsg.NewPtrListTransactionsRequest().RequestWith(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("list transactions: %w", err)
	}
	if err := kerr.ErrorForCode(list.ErrorCode); err != nil {
		return 0, fmt.Errorf("list transactions: %w", err)
	}
	if len(list.TransactionStates) == 0 {
		return 0, nil
	}
	desc := kmsg.NewPtrDescribeTransactionsRequest()
	for _, t := range list.TransactionStates {
		desc.TransactionalIDs = append(desc.TransactionalIDs, t.TransactionalID)
	}
	dresp, err := desc.RequestWith(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("describe transactions: %w", err)
	}
	meta, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("metadata: %w", err)
	}
	var topics []kmsg.WriteTxnMarkersRequestMarkerTopic
	for _, t := range meta.Topics {
		if t.Topic == nil {
			continue
		}
		mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
		mt.Topic = *t.Topic
		for _, p := range t.Partitions {
			mt.Partitions = append(mt.Partitions, p.Partition)
		}
		topics = append(topics, mt)
	}
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	for _, t := range dresp.TransactionStates {
		if t.ErrorCode != 0 || t.ProducerID < 0 {
			continue
		}
		m := kmsg.NewWriteTxnMarkersRequestMarker()
		m.ProducerID, m.ProducerEpoch, m.Committed, m.Topics = t.ProducerID, t.ProducerEpoch, false, topics
		req.Markers = append(req.Markers, m)
		for _, mt := range topics {
			markers += len(mt.Partitions)
		}
	}
	if len(req.Markers) == 0 {
		return 0, nil
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("write transaction markers: %w", err)
	}
	for _, m := range resp.Markers {
		for _, t := range m.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return 0, fmt.Errorf("write transaction marker of producer %d to %s partition %d: %w", m.ProducerID, t.Topic, p.Partition, err)
				}
			}
		}
	}
	return markers, nil
}

// repairTimeout bounds closeCrashAborted at start.
const repairTimeout = 30 * time.Second
