package broker

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestProducerStateSurvivesKill checks that an idempotent producer's
// sequence state outlives a kill -9 of the embedded broker: after the
// restart, a batch that skips ahead of the producer's sequence is refused,
// a retry of a batch the log holds is answered as a duplicate, and the
// next batch in sequence is appended. Without the state, the broker
// accepted the batch that skipped ahead (the producer's second request in
// flight, landing before its first) and then refused the first, which the
// producer sent again under a new epoch with the second: the second batch
// twice in the log, once ahead of the first.
func TestProducerStateSurvivesKill(t *testing.T) {
	dir, b, cl, pid, epoch := startProducer(t)
	if code, base := produce(t, cl, "attempts", pid, epoch, 0, 3); code != 0 || base != 0 {
		t.Fatalf("first batch: error %v, base offset %d; want none, 0", kerr.ErrorForCode(code), base)
	}
	if code, base := produce(t, cl, "attempts", pid, epoch, 3, 2); code != 0 || base != 3 {
		t.Fatalf("second batch: error %v, base offset %d; want none, 3", kerr.ErrorForCode(code), base)
	}

	crashed := kill9(t, dir, b, cl)

	b = startBroker(t, crashed)
	cl = client(t, b.Addr())
	if code, _ := produce(t, cl, "attempts", pid, epoch, 7, 1); code != kerr.OutOfOrderSequenceNumber.Code {
		t.Errorf("batch skipping sequence 5 and 6 after the restart: error %v; want %v", kerr.ErrorForCode(code), kerr.OutOfOrderSequenceNumber)
	}
	if code, base := produce(t, cl, "attempts", pid, epoch, 3, 2); code != 0 || base != 3 {
		t.Errorf("retry of the second batch after the restart: error %v, base offset %d; want none, 3 (a duplicate)", kerr.ErrorForCode(code), base)
	}
	if code, base := produce(t, cl, "attempts", pid, epoch, 5, 2); code != 0 || base != 5 {
		t.Errorf("next batch after the restart: error %v, base offset %d; want none, 5", kerr.ErrorForCode(code), base)
	}
	if end := endOffset(t, cl, "attempts"); end != 7 {
		t.Errorf("log end offset %d; want 7", end)
	}
}

// TestRestoreProducerStateTornTail checks that the producer state is read
// from a log as kfake loads it: a batch cut short by the crash is not in it.
func TestRestoreProducerStateTornTail(t *testing.T) {
	dir, b, cl, pid, epoch := startProducer(t)
	for seq := int32(0); seq < 9; seq += 3 {
		if code, _ := produce(t, cl, "attempts", pid, epoch, seq, 3); code != 0 {
			t.Fatal(kerr.ErrorForCode(code))
		}
	}
	crashed := kill9(t, dir, b, cl)
	seg := filepath.Join(crashed, "partitions", "attempts-0", "0.dat")
	info, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(seg, info.Size()-5); err != nil { // the third batch torn
		t.Fatal(err)
	}
	n, err := restoreProducerState(crashed)
	if err != nil || n != 1 {
		t.Fatalf("restoreProducerState = %d, %v; want 1 window", n, err)
	}
	w, err := partitionWindows(filepath.Join(crashed, "partitions", "attempts-0"))
	if err != nil {
		t.Fatal(err)
	}
	got := w[pid]
	if got == nil || got.next != 6 || got.count != 2 || got.epoch != epoch || got.entries[1] != (seqEntry{first: 3, next: 6, offset: 3}) {
		t.Errorf("window %+v; want next sequence 6 after two batches, the second at offset 3", got)
	}
}

func TestSeqWindowEpochs(t *testing.T) {
	var w seqWindow
	for i := range int32(7) {
		w.add(0, 2*i, 2, int64(10*i))
	}
	if w.count != 5 || w.next != 14 || w.at != 2 || w.entries[1] != (seqEntry{12, 14, 60}) {
		t.Errorf("after 7 batches: %+v", w)
	}
	w.add(1, 0, 4, 100) // a new epoch starts over
	if w.count != 1 || w.epoch != 1 || w.next != 4 || w.entries[0] != (seqEntry{0, 4, 100}) {
		t.Errorf("after a new epoch: %+v", w)
	}
	w.add(0, 14, 1, 200) // an older epoch changes nothing
	if w.count != 1 || w.epoch != 1 || w.next != 4 {
		t.Errorf("after a batch of an older epoch: %+v", w)
	}
}

// startProducer starts a broker that keeps its log in a new directory dir,
// creates the topic attempts on it and initialises an idempotent producer
// (pid, epoch) with the client cl.
func startProducer(t *testing.T) (dir string, b *Broker, cl *kgo.Client, pid int64, epoch int16) {
	t.Helper()
	dir = t.TempDir()
	b = startBroker(t, dir)
	cl = client(t, b.Addr())
	createTopic(t, cl, "attempts")
	pid, epoch = initProducer(t, cl)
	return dir, b, cl, pid, epoch
}

func startBroker(t *testing.T, dir string) *Broker {
	t.Helper()
	b, err := Start(Config{Addr: "127.0.0.1:0", Dir: dir, Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

func client(t *testing.T, addr string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.MaxVersions(kversion.V3_8_0())) // Produce by topic name
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// request sends req and returns its response, failing the test when it
// gets none (within 10 s).
func request[R kmsg.Response](t *testing.T, cl *kgo.Client, req kmsg.Request) R {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cl.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.(R)
}

func createTopic(t *testing.T, cl *kgo.Client, topic string) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, 1, 1
	req.Topics = append(req.Topics, rt)
	resp := request[*kmsg.CreateTopicsResponse](t, cl, req)
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatal(err)
	}
}

func initProducer(t *testing.T, cl *kgo.Client) (int64, int16) {
	t.Helper()
	resp := request[*kmsg.InitProducerIDResponse](t, cl, kmsg.NewPtrInitProducerIDRequest())
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatal(err)
	}
	return resp.ProducerID, resp.ProducerEpoch
}

// produce sends one idempotent batch of n records with sequence numbers
// from seq to partition 0 of topic and returns the partition's error code
// and base offset.
func produce(t *testing.T, cl *kgo.Client, topic string, pid int64, epoch int16, seq, n int32) (int16, int64) {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = recordBatch(pid, epoch, seq, n)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	p := request[*kmsg.ProduceResponse](t, cl, req).Topics[0].Partitions[0]
	return p.ErrorCode, p.BaseOffset
}

// recordBatch is a v2 batch of n records with values "0", "1", ...
func recordBatch(pid int64, epoch int16, seq, n int32) []byte {
	var recs []byte
	for i := range n {
		var body []byte
		body = append(body, 0)                     // attributes
		body = binary.AppendVarint(body, 0)        // timestamp delta
		body = binary.AppendVarint(body, int64(i)) // offset delta
		body = binary.AppendVarint(body, -1)       // no key
		body = binary.AppendVarint(body, 1)
		body = append(body, byte('0'+i))
		body = binary.AppendVarint(body, 0) // no headers
		recs = binary.AppendVarint(recs, int64(len(body)))
		recs = append(recs, body...)
	}
	now := time.Now().UnixMilli()
	rb := kmsg.RecordBatch{Magic: 2, LastOffsetDelta: n - 1, FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: pid, ProducerEpoch: epoch, FirstSequence: seq, NumRecords: n, Records: recs,
		PartitionLeaderEpoch: -1}
	rb.Length = int32(batchHeaderLen - 12 + len(recs))
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32c))
	return b
}

func endOffset(t *testing.T, cl *kgo.Client, topic string) int64 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	p := request[*kmsg.ListOffsetsResponse](t, cl, req).Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatal(err)
	}
	return p.Offset
}

// kill9 is a kill -9 of broker b, running on data dir dir, with client cl:
// it returns a copy of dir with what is on disk while b runs (every write
// is in the file before the produce is answered), without what Close
// saves, then closes cl and b.
func kill9(t *testing.T, dir string, b *Broker, cl *kgo.Client) string {
	t.Helper()
	crashed := filepath.Join(t.TempDir(), "broker")
	if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	b.Close()
	return crashed
}
