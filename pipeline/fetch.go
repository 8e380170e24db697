package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	fetchAPI "github.com/segmentio/kafka-go/protocol/fetch"
)

// fetchResult is what one read_committed fetch returned.
type fetchResult struct {
	// records are the committed data records at or after the offset asked
	// for, in offset order: records of aborted transactions and control
	// records (transaction markers) are left out.
	records []record
	// hwm is the partition's high watermark; lso its last stable offset,
	// the end of what a read_committed reader sees.
	hwm, lso int64
	// next is where the following fetch starts: past every batch this one
	// returned, including aborted and control batches (never below the
	// offset asked for).
	next int64
	// sawEarlier says batches came back but only with records before the
	// offset asked for (a batch whose tail compaction removed).
	sawEarlier bool
	throttled  bool
	// arena holds the records' keys and values when the fetch was given
	// one (fetchBytes), for the next fetch to reuse.
	arena []byte
	// watched are the last stable offsets of the partitions the fetch
	// watched (fetchWatching), read by the broker as it answered; nil when
	// it answered one of them with an error.
	watched map[int]int64
}

// watch names partitions of another topic that a fetch also asks for, to
// learn their last stable offsets in the same answer: the settings
// partitions, from the offsets the follower applied (never past their end).
type watch struct {
	topic   string
	offsets map[int]int64
}

// fetch reads up to maxRecs committed records of topic/partition from offset
// on, waiting up to FetchMaxWait for the first one (isolation level
// read_committed: only what transactions committed, and everything written
// outside transactions, up to the last stable offset). recs is reused.
//
// kafka-go's Fetch does not drop the records of aborted transactions (the
// broker returns them with the list of aborted transactions, for the
// client to filter), so sendgate sends the Fetch request itself and filters
// them as the Java consumer does: a transactional batch of a producer whose
// aborted transaction began at or before the batch is skipped, up to that
// producer's abort marker. A batch of the same producer with another epoch
// ends the aborted transaction too (a transaction never spans epochs): a
// broker that aborted a transaction in flight at a crash without writing
// its marker (kfake does) must not hide the producer's later transactions.
//
// compacted allows skipping to the last stable offset when an unthrottled
// fetch returns nothing below it: offsets compaction removed (compacted
// topics only; on the attempts topic an empty answer never skips anything).
func (b *kafkaClient) fetch(ctx context.Context, topic string, partition int, offset int64, maxRecs int, recs []record, compacted bool) (fetchResult, error) {
	return b.fetchBytes(ctx, topic, partition, offset, maxRecs, b.cfg.FetchMaxBytes, recs, nil, compacted, nil)
}

// fetchWatching is fetch that also asks for w's partitions, from w's
// offsets, and returns their last stable offsets in res.watched. Records
// of the watched partitions are not returned (their reader fetches them);
// a watched partition with records past its offset makes the broker answer
// at once, as records of the fetched one do.
func (b *kafkaClient) fetchWatching(ctx context.Context, topic string, partition int, offset int64, maxRecs int, recs []record, w *watch) (fetchResult, error) {
	return b.fetchBytes(ctx, topic, partition, offset, maxRecs, b.cfg.FetchMaxBytes, recs, nil, false, w)
}

// fetchBytes is fetch with another bound than FetchMaxBytes on the bytes
// fetched, and with the records' keys and values copied into arena
// (appended from its start, grown as needed, returned as res.arena) rather
// than each into its own allocation: for a reader done with the records
// before its next fetch (a restore), which passes the arena back in. With
// a nil arena, keys and values are allocated one by one and stay valid.
// With one, they are valid until arena is passed to a fetch again.
func (b *kafkaClient) fetchBytes(ctx context.Context, topic string, partition int, offset int64, maxRecs, maxBytes int, recs []record, arena []byte, compacted bool, w *watch) (fetchResult, error) {
	res := fetchResult{records: recs[:0], next: offset, arena: arena[:0]}
	useArena := arena != nil
	topics := []fetchAPI.RequestTopic{{Topic: topic, Partitions: []fetchAPI.RequestPartition{{
		Partition: int32(partition), CurrentLeaderEpoch: -1, FetchOffset: offset, LogStartOffset: -1,
		PartitionMaxBytes: int32(maxBytes),
	}}}}
	if w != nil && len(w.offsets) > 0 {
		wt := fetchAPI.RequestTopic{Topic: w.topic}
		for p, off := range w.offsets {
			// One byte: the broker returns the first batch anyway (KIP-74),
			// and nothing more.
			wt.Partitions = append(wt.Partitions, fetchAPI.RequestPartition{Partition: int32(p), CurrentLeaderEpoch: -1,
				FetchOffset: off, LogStartOffset: -1, PartitionMaxBytes: 1})
		}
		topics = append(topics, wt)
	}
	resp, err := b.client.Transport.RoundTrip(ctx, b.client.Addr, &fetchAPI.Request{
		ReplicaID:      -1,
		MaxWaitTime:    int32(b.cfg.FetchMaxWait.Milliseconds()),
		MinBytes:       1,
		MaxBytes:       int32(maxBytes),
		IsolationLevel: int8(kafka.ReadCommitted),
		SessionID:      -1,
		SessionEpoch:   -1,
		Topics:         topics,
	})
	if err != nil {
		return res, fmt.Errorf("fetch topic %s partition %d offset %d: %w", topic, partition, offset, err)
	}
	fr := resp.(*fetchAPI.Response)
	if fr.ErrorCode != 0 {
		return res, kafka.Error(fr.ErrorCode)
	}
	var fp *fetchAPI.ResponsePartition
	if w != nil && len(w.offsets) > 0 {
		res.watched = make(map[int]int64, len(w.offsets))
	}
	for i := range fr.Topics {
		ft := &fr.Topics[i]
		for j := range ft.Partitions {
			rp := &ft.Partitions[j]
			switch {
			case ft.Topic == topic && int(rp.Partition) == partition:
				fp = rp
			case w != nil && ft.Topic == w.topic && res.watched != nil:
				if rp.ErrorCode != 0 {
					res.watched = nil // the caller asks otherwise
					continue
				}
				lso := rp.LastStableOffset
				if lso < 0 {
					lso = rp.HighWatermark
				}
				res.watched[int(rp.Partition)] = lso
			}
		}
	}
	if res.watched != nil && len(res.watched) != len(w.offsets) {
		res.watched = nil
	}
	if fp == nil {
		return res, fmt.Errorf("fetch topic %s partition %d: empty answer", topic, partition)
	}
	res.hwm, res.lso, res.throttled = fp.HighWatermark, fp.LastStableOffset, fr.ThrottleTimeMs > 0
	if res.lso < 0 {
		res.lso = res.hwm // a broker that does not report it
	}
	if fp.ErrorCode != 0 {
		return res, kafka.Error(fp.ErrorCode)
	}
	var batches []protocol.RecordReader
	switch rs := fp.RecordSet.Records.(type) {
	case nil:
	case *protocol.RecordStream:
		batches = rs.Records
	default:
		batches = []protocol.RecordReader{rs}
	}
	aborted := slices.Clone(fp.AbortedTransactions)
	slices.SortFunc(aborted, func(a, b fetchAPI.ResponseTransaction) int { return int(a.FirstOffset - b.FirstOffset) })
	// Producers whose aborted transaction is open here, with the epoch of
	// its batches (-1 until its first batch).
	abortedBy := map[int64]int16{}
	lastSeen := int64(-1)
	for _, batch := range batches {
		var base, pid int64 = -1, -1
		var epoch int16
		var attrs protocol.Attributes
		switch bt := batch.(type) {
		case *protocol.RecordBatch:
			base, pid, epoch, attrs = bt.BaseOffset, bt.ProducerID, bt.ProducerEpoch, bt.Attributes
		case *protocol.ControlBatch:
			base, pid, attrs = bt.BaseOffset, bt.ProducerID, bt.Attributes
		case *protocol.MessageSet:
			base = bt.BaseOffset
		}
		for len(aborted) > 0 && base >= 0 && aborted[0].FirstOffset <= base {
			abortedBy[aborted[0].ProducerID] = -1
			aborted = aborted[1:]
		}
		if cb, ok := batch.(*protocol.ControlBatch); ok {
			lastSeen = max(lastSeen, cb.BaseOffset)
			cr, err := cb.ReadControlRecord()
			if err == nil && cr.Type == 0 { // an abort marker ends its transaction
				delete(abortedBy, pid)
			}
			continue
		}
		skip := false
		if e, ok := abortedBy[pid]; ok && attrs.Transactional() {
			switch {
			case e < 0:
				abortedBy[pid] = epoch
				skip = true
			case e == epoch:
				skip = true
			default:
				delete(abortedBy, pid) // a later epoch: that transaction ended
			}
		}
		for {
			r, err := batch.ReadRecord()
			if err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return res, fmt.Errorf("read record of topic %s partition %d: %w", topic, partition, err)
			}
			lastSeen = max(lastSeen, r.Offset)
			if skip || r.Offset < offset || len(res.records) >= maxRecs {
				closeRecord(r)
				continue
			}
			rec := record{Offset: r.Offset, TimeMs: r.Time.UnixMilli(), Producer: pid}
			for _, h := range r.Headers {
				rec.Headers = append(rec.Headers, kafka.Header(h))
			}
			if useArena {
				if rec.Key, res.arena, err = readInto(res.arena, r.Key); err == nil {
					rec.Value, res.arena, err = readInto(res.arena, r.Value)
				}
			} else if rec.Key, err = readBytes(r.Key); err == nil {
				rec.Value, err = readBytes(r.Value)
			}
			closeRecord(r)
			if err != nil {
				return res, fmt.Errorf("read record of topic %s partition %d offset %d: %w", topic, partition, r.Offset, err)
			}
			res.records = append(res.records, rec)
		}
		if len(res.records) >= maxRecs {
			break
		}
	}
	switch {
	case len(res.records) > 0:
		res.next = res.records[len(res.records)-1].Offset + 1
		if len(res.records) < maxRecs {
			// Aborted or control batches after the last record are
			// stepped over too.
			res.next = max(res.next, lastSeen+1)
		}
	case lastSeen >= offset:
		res.next = lastSeen + 1
	case lastSeen >= 0:
		res.sawEarlier = true
	case compacted && res.lso > offset && !res.throttled && len(batches) == 0:
		res.next = res.lso
	}
	return res, nil
}

func closeRecord(r *protocol.Record) {
	if r.Key != nil {
		r.Key.Close()
	}
	if r.Value != nil {
		r.Value.Close()
	}
}

// readBytes copies a record's key or value; nil stays nil (a tombstone).
func readBytes(b protocol.Bytes) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	return protocol.ReadAll(b)
}

// readInto is readBytes into arena: it returns the bytes read, appended to
// arena (nil stays nil), and arena grown by them.
func readInto(arena []byte, b protocol.Bytes) ([]byte, []byte, error) {
	if b == nil {
		return nil, arena, nil
	}
	n := b.Len()
	start := len(arena)
	arena = slices.Grow(arena, n)[:start+n]
	if _, err := io.ReadFull(b, arena[start:]); err != nil {
		return nil, arena[:start], err
	}
	return arena[start : start+n : start+n], arena, nil
}
