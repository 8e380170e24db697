package pipeline

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol/addpartitionstotxn"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const txnTopic = "txn-test"

// txnEnv is a kfake cluster (one broker, unless newTxnEnv's opts say
// otherwise) with one topic of two partitions, a consumer group that has
// joined (for TxnOffsetCommit's generation check), and the kafka-go
// transport sendgate uses.
type txnEnv struct {
	t       *testing.T
	cluster *kfake.Cluster
	addr    string
	b       *kafkaClient
}

func newTxnEnv(t *testing.T, opts ...kfake.Opt) *txnEnv {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(2, txnTopic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cfg := Config{Brokers: c.ListenAddrs()}
	cfg.EnsureDefaults()
	conns, err := newConnections(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &txnEnv{t: t, cluster: c, addr: c.ListenAddrs()[0], b: newKafkaClient(&cfg, conns.transport)}
}

func (e *txnEnv) producer(id string) *txnProducer {
	p := newTxnProducer(e.b.client.Transport, e.b.client.Addr, id, 10*time.Second)
	if err := p.init(context.Background()); err != nil {
		e.t.Fatalf("init %s: %v", id, err)
	}
	return p
}

func msgs(prefix string, n int) []kafka.Message {
	out := make([]kafka.Message, n)
	for i := range out {
		out[i] = kafka.Message{Key: fmt.Appendf(nil, "%s-k%d", prefix, i), Value: fmt.Appendf(nil, "%s-v%d", prefix, i),
			Headers: []kafka.Header{{Key: "h", Value: []byte(prefix)}}}
	}
	return out
}

// readCommitted returns the records of the topic a read_committed franz-go
// consumer sees, "key=value" per partition: once it has seen n, and
// whatever one more short poll brings.
func (e *txnEnv) readCommitted(n int) map[int32][]string {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.addr), kgo.ConsumeTopics(txnTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	got := map[int32][]string{}
	seen := 0
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for extra := false; ; {
		pctx := ctx
		if seen >= n {
			if extra {
				return got
			}
			var pcancel context.CancelFunc
			pctx, pcancel = context.WithTimeout(ctx, 300*time.Millisecond)
			defer pcancel()
			extra = true
		}
		cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
			got[r.Partition] = append(got[r.Partition], string(r.Key)+"="+string(r.Value))
			seen++
		})
		if ctx.Err() != nil {
			e.t.Fatalf("reading %s: saw %d records of %d: %v", txnTopic, seen, n, got)
		}
	}
}

func noOffset() txnOffset { return txnOffset{group: "g", generation: -1, topic: txnTopic, offset: 0} }

func TestTxnCommitIsReadCommitted(t *testing.T) {
	e := newTxnEnv(t)
	p := e.producer("g-t-0")
	parts := []txnPart{{tp: topicPartition{txnTopic, 0}, msgs: msgs("a", 3)}, {tp: topicPartition{txnTopic, 1}, msgs: msgs("b", 2)}}
	bases, err := p.commit(context.Background(), parts, noOffset(), time.Now().UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	if bases[0] != 0 || bases[1] != 0 {
		t.Fatalf("first offsets %v, want [0 0]", bases)
	}
	// A second transaction continues the sequence numbers.
	if bases, err = p.commit(context.Background(), parts[:1], noOffset(), time.Now().UnixMilli()); err != nil || bases[0] != 4 {
		t.Fatalf("second transaction: first offset %v, %v; want 4 (3 records and a commit marker before it)", bases, err)
	}
	got := e.readCommitted(8)
	want := map[int32][]string{0: {"a-k0=a-v0", "a-k1=a-v1", "a-k2=a-v2", "a-k0=a-v0", "a-k1=a-v1", "a-k2=a-v2"}, 1: {"b-k0=b-v0", "b-k1=b-v1"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read committed:\n got %v\nwant %v", got, want)
	}
}

func TestTxnAbortIsNeverVisible(t *testing.T) {
	e := newTxnEnv(t)
	p := e.producer("g-t-0")
	ctx := context.Background()
	// Added and produced, then aborted.
	add := []txnPart{{tp: topicPartition{txnTopic, 0}, msgs: msgs("aborted", 2)}}
	if err := p.addPartitions(ctx, addRequest(p, add)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.produce(ctx, add[0], time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if err := p.abort(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.commit(ctx, []txnPart{{tp: topicPartition{txnTopic, 0}, msgs: msgs("kept", 1)}}, noOffset(), time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if got := e.readCommitted(1); fmt.Sprint(got[0]) != "[kept-k0=kept-v0]" {
		t.Fatalf("read committed: %v, want only the committed record", got)
	}
	// sendgate's own fetch filters the aborted records the same way.
	res, err := e.b.fetch(ctx, txnTopic, 0, 0, 100, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.records) != 1 || string(res.records[0].Key) != "kept-k0" || res.next != res.lso {
		t.Fatalf("fetch: %d records (%+v), next %d, lso %d; want kept-k0 alone and next at the end", len(res.records), res.records, res.next, res.lso)
	}
}

func addRequest(p *txnProducer, parts []txnPart) *addpartitionstotxn.Request {
	req := &addpartitionstotxn.Request{TransactionalID: p.id, ProducerID: p.pid, ProducerEpoch: p.epoch}
	for _, part := range parts {
		req.Topics = append(req.Topics, addpartitionstotxn.RequestTopic{Name: part.tp.topic, Partitions: []int32{part.tp.partition}})
	}
	return req
}

// A producer fenced by a new owner of its transactional id (the partition's
// next owner calling init) gets PRODUCER_FENCED, classified as lost, and
// nothing it wrote, before or after the fencing, is ever visible to a
// read_committed consumer.
func TestFencedProducerIsNeverVisible(t *testing.T) {
	e := newTxnEnv(t)
	ctx := context.Background()
	old := e.producer("g-t-0")
	if _, err := old.commit(ctx, []txnPart{{tp: topicPartition{txnTopic, 0}, msgs: msgs("before", 1)}}, noOffset(), 0); err != nil {
		t.Fatal(err)
	}
	// The old owner is in the middle of a transaction when it stalls.
	mid := []txnPart{{tp: topicPartition{txnTopic, 0}, msgs: msgs("stalled", 2)}}
	if err := old.addPartitions(ctx, addRequest(old, mid)); err != nil {
		t.Fatal(err)
	}
	if _, err := old.produce(ctx, mid[0], 0); err != nil {
		t.Fatal(err)
	}
	// The new owner fences it and commits.
	next := e.producer("g-t-0")
	if _, err := next.commit(ctx, []txnPart{{tp: topicPartition{txnTopic, 0}, msgs: msgs("new-owner", 1)}}, noOffset(), 0); err != nil {
		t.Fatal(err)
	}
	// The old owner comes back: finishing its transaction, or starting
	// another, fails as lost.
	if err := old.end(ctx, true); classOf(err) != lost || !errors.Is(err, kafka.ProducerFenced) && !errors.Is(err, kafka.InvalidProducerEpoch) {
		t.Fatalf("the fenced producer's commit: %v (class %v), want PRODUCER_FENCED, lost", err, classOf(err))
	}
	_, err := old.commit(ctx, []txnPart{{tp: topicPartition{txnTopic, 0}, msgs: msgs("zombie", 1)}}, noOffset(), 0)
	if classOf(err) != lost {
		t.Fatalf("the fenced producer's next transaction: %v (class %v), want lost", err, classOf(err))
	}
	if got := e.readCommitted(2); fmt.Sprint(got[0]) != "[before-k0=before-v0 new-owner-k0=new-owner-v0]" {
		t.Fatalf("read committed: %v", got[0])
	}
}

// A member that lost its generation cannot commit: the transaction's group
// offset is refused, and the transaction with it.
func TestStaleGenerationCannotCommit(t *testing.T) {
	e := newTxnEnv(t)
	ctx := context.Background()
	// A classic consumer group with one member, as kafka-go joins it.
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{ID: "g", Brokers: []string{e.addr}, Topics: []string{txnTopic},
		SessionTimeout: 6 * time.Second, RebalanceTimeout: 6 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	gen, err := cg.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := e.producer("g-t-0")
	good := txnOffset{group: "g", member: gen.MemberID, generation: gen.ID, topic: txnTopic, partition: 0, offset: 1}
	if _, err := p.commit(ctx, []txnPart{{tp: topicPartition{txnTopic, 0}, msgs: msgs("current", 1)}}, good, 0); err != nil {
		t.Fatalf("a commit in the current generation: %v", err)
	}
	stale := good
	stale.generation, stale.offset = gen.ID-1, 2
	if _, err := p.commit(ctx, []txnPart{{tp: topicPartition{txnTopic, 0}, msgs: msgs("stale", 1)}}, stale, 0); classOf(err) != lost {
		t.Fatalf("a commit with an older generation: %v (class %v), want lost", err, classOf(err))
	}
	_ = p.abort(ctx)
	if got := e.readCommitted(1); fmt.Sprint(got[0]) != "[current-k0=current-v0]" {
		t.Fatalf("read committed: %v", got[0])
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want errClass
	}{
		{kafka.ProducerFenced, lost},
		{kafka.InvalidProducerEpoch, lost},
		{kafka.IllegalGeneration, lost},
		{kafka.UnknownMemberId, lost},
		{fmt.Errorf("wrapped: %w", kafka.RebalanceInProgress), lost},
		{kafka.TransactionalIDAuthorizationFailed, fatal},
		{kafka.TopicAuthorizationFailed, fatal},
		{kafka.InvalidTransactionTimeout, fatal},
		{kafka.ConcurrentTransactions, retryable},
		{kafka.NotCoordinatorForGroup, retryable},
		{kafka.GroupCoordinatorNotAvailable, retryable},
		{fmt.Errorf("find the coordinator of g-t-0: %w", kafka.GroupCoordinatorNotAvailable), retryable},
		{fmt.Errorf("coordinator node 2 is not in the cluster metadata: %w", kafka.BrokerNotAvailable), retryable},
		{fmt.Errorf("find the coordinator of g-t-0: %w", kafka.TransactionalIDAuthorizationFailed), fatal},
		{kafka.OutOfOrderSequenceNumber, retryable},
		{kafka.InvalidProducerIDMapping, retryable},
		{context.DeadlineExceeded, retryable},
		{errors.New("connection reset"), retryable},
	} {
		if got := classOf(txnErr("op", c.err)); got != c.want {
			t.Errorf("%v: %v, want %v", c.err, got, c.want)
		}
	}
}

// The encoded batch is what Kafka's own clients write: franz-go's decoder
// reads it back, CRC and all.
func TestRawRecordSetDecodes(t *testing.T) {
	in := msgs("r", 3)
	in[1].Value = nil // a tombstone
	in[2].Headers = nil
	set := appendRawRecordSet(nil, in, batchProducer{id: 7, epoch: 3, sequence: 42}, 1_700_000_000_123)
	if int(uint32(set[0])<<24|uint32(set[1])<<16|uint32(set[2])<<8|uint32(set[3])) != len(set)-4 {
		t.Fatal("size prefix does not match")
	}
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(set[4:]); err != nil {
		t.Fatal(err)
	}
	if got := crc32.Checksum(set[4+21:], crc32.MakeTable(crc32.Castagnoli)); uint32(rb.CRC) != got {
		t.Fatalf("CRC %x, want %x", uint32(rb.CRC), got)
	}
	if rb.Attributes != 0x10 || rb.ProducerID != 7 || rb.ProducerEpoch != 3 || rb.FirstSequence != 42 ||
		rb.NumRecords != 3 || rb.LastOffsetDelta != 2 || rb.FirstTimestamp != 1_700_000_000_123 || rb.Magic != 2 {
		t.Fatalf("header: %+v", rb)
	}
	recs := rb.Records
	for i := range in {
		var r kmsg.Record
		if err := r.ReadFrom(recs); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		recs = recs[int(r.Length)+varintLen(int64(r.Length)):]
		if string(r.Key) != string(in[i].Key) || (r.Value == nil) != (in[i].Value == nil) || string(r.Value) != string(in[i].Value) ||
			int(r.OffsetDelta) != i || len(r.Headers) != len(in[i].Headers) {
			t.Fatalf("record %d: %+v, want %+v", i, r, in[i])
		}
		if recordLen(&in[i]) < int(r.Length)+varintLen(int64(r.Length)) {
			t.Fatalf("record %d: recordLen %d below its %d bytes", i, recordLen(&in[i]), int(r.Length)+varintLen(int64(r.Length)))
		}
	}
	if len(recs) != 0 {
		t.Fatalf("%d bytes after the records", len(recs))
	}
}
