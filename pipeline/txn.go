package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/segmentio/kafka-go/protocol/addoffsetstotxn"
	"github.com/segmentio/kafka-go/protocol/addpartitionstotxn"
	"github.com/segmentio/kafka-go/protocol/endtxn"
	"github.com/segmentio/kafka-go/protocol/initproducerid"
	"github.com/segmentio/kafka-go/protocol/produce"
	"github.com/segmentio/kafka-go/protocol/rawproduce"
	"github.com/segmentio/kafka-go/protocol/txnoffsetcommit"
)

// txnProducer is the transactional producer of one attempts partition. It
// speaks kafka-go's protocol API (kafka-go has no transactional producer):
// InitProducerID, AddPartitionsToTxn, AddOffsetsToTxn, Produce with
// pre-encoded transactional batches, TxnOffsetCommit and EndTxn.
//
// # One transactional id per attempts partition
//
// Its transactional id is "{group-id}-{attempts-topic}-{partition}" (every
// id starts with "{group-id}-", so one prefixed ACL grants them all). An
// instance that takes the partition over calls InitProducerID with the same
// id: the broker bumps the epoch, aborts the previous owner's open
// transaction and refuses everything the previous owner sends afterwards
// (PRODUCER_FENCED). Fencing thus follows the partition, and once init
// returns no other instance can commit to the partition's changelog, so the
// new owner can read it to its end and trust it. (KIP-447's one producer
// per instance needs the consumer to wait for pending offsets, OffsetFetch
// with RequireStable, which kafka-go does not send; and it fences by the
// group generation only.) Each transaction also commits the group offset
// with the member id and generation, so a member that lost its generation
// cannot commit either (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID).
//
// The requests to the transaction coordinator (InitProducerID,
// AddPartitionsToTxn, AddOffsetsToTxn, EndTxn) and to the group coordinator
// (TxnOffsetCommit) go straight to the coordinator, looked up once per
// producer (coordinator.go); the records go to the partition leaders.
//
// A txnProducer is used by one partition worker at a time.
type txnProducer struct {
	transport kafka.RoundTripper
	addr      net.Addr
	id        string
	timeout   time.Duration

	txnCoord   *coordinator // of id
	groupCoord *coordinator // of the group of the last TxnOffsetCommit

	pid   int64
	epoch int16
	seqMu sync.Mutex // partitions are written concurrently
	seq   map[topicPartition]int32
}

type topicPartition struct {
	topic     string
	partition int32
}

func newTxnProducer(transport kafka.RoundTripper, addr net.Addr, id string, timeout time.Duration) *txnProducer {
	return &txnProducer{transport: transport, addr: addr, id: id, timeout: timeout, pid: -1, epoch: -1,
		txnCoord: newCoordinator(transport, addr, id, kafka.CoordinatorKeyTypeTransaction)}
}

// transactionalID is the transactional id of attempts partition p.
func transactionalID(groupID, attemptsTopic string, p int32) string {
	return groupID + "-" + attemptsTopic + "-" + strconv.Itoa(int(p))
}

// init fences every earlier producer of the id (another instance that owned
// the partition, or this one before a failure), aborting its open
// transaction, and starts a new epoch with sequence numbers from 0.
func (t *txnProducer) init(ctx context.Context) error {
	for {
		var resp *initproducerid.Response
		err := t.txnCoord.roundTrip(ctx, &initproducerid.Request{
			TransactionalID: t.id, TransactionTimeoutMs: int32(t.timeout.Milliseconds()),
			ProducerID: -1, ProducerEpoch: -1,
		}, func(m protocol.Message) error {
			resp = m.(*initproducerid.Response)
			if resp.ErrorCode != 0 {
				return kafka.Error(resp.ErrorCode)
			}
			return nil
		})
		if errors.Is(err, kafka.ConcurrentTransactions) {
			// The previous epoch's transaction is still being
			// completed: ask again shortly.
			if !sleep(ctx, 50*time.Millisecond) {
				return ctx.Err()
			}
			continue
		}
		if err != nil {
			return txnErr("init producer id", err)
		}
		t.pid, t.epoch = resp.ProducerID, resp.ProducerEpoch
		t.seqMu.Lock()
		t.seq = map[topicPartition]int32{}
		t.seqMu.Unlock()
		return nil
	}
}

// txnOffset is the group offset a transaction commits.
type txnOffset struct {
	group, member string
	generation    int32
	topic         string
	partition     int32
	offset        int64
}

// txnPart is what a transaction writes to one partition.
type txnPart struct {
	tp   topicPartition
	msgs []kafka.Message
}

// commit writes parts and the group offset in one transaction and commits
// it. It returns the offset of the first record written to each part (in
// parts' order). On error the transaction is not committed (or its outcome
// is unknown: a timed-out EndTxn may have committed it); the caller must
// call init before the next transaction, and errors are classified by
// classify.
func (t *txnProducer) commit(ctx context.Context, parts []txnPart, off txnOffset, timeMs int64) ([]int64, error) {
	if t.pid < 0 {
		return nil, txnErr("commit", errNotInitialised)
	}
	// Every partition, and the group's offsets, join the transaction.
	add := &addpartitionstotxn.Request{TransactionalID: t.id, ProducerID: t.pid, ProducerEpoch: t.epoch}
	for _, p := range parts {
		i := len(add.Topics) - 1
		if i < 0 || add.Topics[i].Name != p.tp.topic {
			add.Topics = append(add.Topics, addpartitionstotxn.RequestTopic{Name: p.tp.topic})
			i++
		}
		add.Topics[i].Partitions = append(add.Topics[i].Partitions, p.tp.partition)
	}
	var wg sync.WaitGroup
	var addErr, offErr error
	if len(add.Topics) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addErr = t.addPartitions(ctx, add)
		}()
	}
	offErr = t.addOffsets(ctx, off.group)
	wg.Wait()
	if err := errors.Join(addErr, offErr); err != nil {
		return nil, err
	}
	// The records and the offsets, concurrently; a partition's batches in
	// order.
	bases := make([]int64, len(parts))
	errs := make([]error, len(parts)+1)
	for i := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bases[i], errs[i] = t.produce(ctx, parts[i], timeMs)
		}()
	}
	errs[len(parts)] = t.commitOffset(ctx, off)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return bases, t.end(ctx, true)
}

// abort ends the open transaction without committing it (best effort: init
// aborts it too).
func (t *txnProducer) abort(ctx context.Context) error {
	if t.pid < 0 {
		return nil
	}
	return t.end(ctx, false)
}

// maxRequestBatch bounds the bytes of one produce batch: Kafka refuses a
// batch over message.max.bytes (about 1 MB by default) whole.
const maxRequestBatch = maxBatchBytes

// produce writes part's records, in batches under maxRequestBatch, and
// returns the offset of the first.
func (t *txnProducer) produce(ctx context.Context, part txnPart, timeMs int64) (int64, error) {
	first := int64(-1)
	msgs := part.msgs
	var buf []byte
	for len(msgs) > 0 {
		n, size := 0, batchHeaderLen
		for n < len(msgs) {
			l := recordLen(&msgs[n])
			if n > 0 && size+l > maxRequestBatch {
				break
			}
			size += l
			n++
		}
		seq := t.sequence(part.tp, n)
		if need := rawRecordSetSizeLen + size; cap(buf) < need {
			buf = make([]byte, 0, need) // recordLen is an upper bound: no growth while encoding
		}
		buf = appendRawRecordSet(buf[:0], msgs[:n], batchProducer{id: t.pid, epoch: t.epoch, sequence: seq}, timeMs)
		m, err := t.transport.RoundTrip(ctx, t.addr, &rawproduce.Request{
			TransactionalID: t.id, Acks: int16(kafka.RequireAll), Timeout: int32(t.timeout.Milliseconds()),
			Topics: []rawproduce.RequestTopic{{Topic: part.tp.topic, Partitions: []rawproduce.RequestPartition{{
				Partition: part.tp.partition, RecordSet: protocol.RawRecordSet{Reader: bytes.NewReader(buf)},
			}}}},
		})
		if err != nil {
			return first, txnErr(fmt.Sprintf("produce to %s partition %d", part.tp.topic, part.tp.partition), err)
		}
		resp := m.(*produce.Response)
		if len(resp.Topics) == 0 || len(resp.Topics[0].Partitions) == 0 {
			return first, txnErr(fmt.Sprintf("produce to %s partition %d", part.tp.topic, part.tp.partition), errors.New("empty answer"))
		}
		pr := resp.Topics[0].Partitions[0]
		if pr.ErrorCode != 0 {
			err := error(kafka.Error(pr.ErrorCode))
			if pr.ErrorMessage != "" {
				err = fmt.Errorf("%w: %s", err, pr.ErrorMessage)
			}
			return first, txnErr(fmt.Sprintf("produce %d records to %s partition %d", n, part.tp.topic, part.tp.partition), err)
		}
		if first < 0 {
			first = pr.BaseOffset
		}
		msgs = msgs[n:]
	}
	return first, nil
}

// sequence returns the sequence number of the next n records to tp.
func (t *txnProducer) sequence(tp topicPartition, n int) int32 {
	t.seqMu.Lock()
	defer t.seqMu.Unlock()
	s := t.seq[tp]
	t.seq[tp] = s + int32(n)
	return s
}

func (t *txnProducer) addPartitions(ctx context.Context, req *addpartitionstotxn.Request) error {
	return t.retryConcurrent(ctx, "add partitions to the transaction", func() error {
		return t.txnCoord.roundTrip(ctx, req, func(m protocol.Message) error {
			for _, rt := range m.(*addpartitionstotxn.Response).Results {
				for _, rp := range rt.Results {
					if rp.ErrorCode != 0 {
						return fmt.Errorf("%s partition %d: %w", rt.Name, rp.PartitionIndex, kafka.Error(rp.ErrorCode))
					}
				}
			}
			return nil
		})
	})
}

func (t *txnProducer) addOffsets(ctx context.Context, group string) error {
	return t.retryConcurrent(ctx, "add the group's offsets to the transaction", func() error {
		return t.txnCoord.roundTrip(ctx, &addoffsetstotxn.Request{
			TransactionalID: t.id, ProducerID: t.pid, ProducerEpoch: t.epoch, GroupID: group,
		}, func(m protocol.Message) error {
			if c := m.(*addoffsetstotxn.Response).ErrorCode; c != 0 {
				return kafka.Error(c)
			}
			return nil
		})
	})
}

func (t *txnProducer) commitOffset(ctx context.Context, off txnOffset) error {
	if t.groupCoord == nil || t.groupCoord.key != off.group {
		t.groupCoord = newCoordinator(t.transport, t.addr, off.group, kafka.CoordinatorKeyTypeConsumer)
	}
	return t.retryConcurrent(ctx, fmt.Sprintf("commit offset %d of %s partition %d", off.offset, off.topic, off.partition), func() error {
		return t.groupCoord.roundTrip(ctx, &txnoffsetcommit.Request{
			TransactionalID: t.id, GroupID: off.group, ProducerID: t.pid, ProducerEpoch: t.epoch,
			GenerationID: off.generation, MemberID: off.member,
			Topics: []txnoffsetcommit.RequestTopic{{Name: off.topic, Partitions: []txnoffsetcommit.RequestPartition{{
				Partition: off.partition, CommittedOffset: off.offset, CommittedLeaderEpoch: -1,
			}}}},
		}, func(m protocol.Message) error {
			for _, rt := range m.(*txnoffsetcommit.Response).Topics {
				for _, rp := range rt.Partitions {
					if rp.ErrorCode != 0 {
						return kafka.Error(rp.ErrorCode)
					}
				}
			}
			return nil
		})
	})
}

func (t *txnProducer) end(ctx context.Context, commit bool) error {
	what := "commit the transaction"
	if !commit {
		what = "abort the transaction"
	}
	return t.retryConcurrent(ctx, what, func() error {
		return t.txnCoord.roundTrip(ctx, &endtxn.Request{
			TransactionalID: t.id, ProducerID: t.pid, ProducerEpoch: t.epoch, Committed: commit,
		}, func(m protocol.Message) error {
			if c := m.(*endtxn.Response).ErrorCode; c != 0 {
				return kafka.Error(c)
			}
			return nil
		})
	})
}

// retryConcurrent runs call, again while the coordinator answers
// CONCURRENT_TRANSACTIONS or is loading (it completes the previous
// transaction asynchronously), and wraps its error.
func (t *txnProducer) retryConcurrent(ctx context.Context, what string, call func() error) error {
	for i := 0; ; i++ {
		err := call()
		if err == nil {
			return nil
		}
		if i < 50 && (errors.Is(err, kafka.ConcurrentTransactions) || errors.Is(err, kafka.GroupLoadInProgress)) {
			if sleep(ctx, 20*time.Millisecond) {
				continue
			}
		}
		return txnErr(what, err)
	}
}
