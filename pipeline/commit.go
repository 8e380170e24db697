package pipeline

import (
	"context"
	"errors"
	"time"
	"unsafe"

	"github.com/segmentio/kafka-go"

	"github.com/sendgate/sendgate/state"
)

// commit carries out the commit protocol of one decided batch (see the
// package documentation):
//
//  1. one Kafka transaction holds the batch's changelog records (its state
//     operations, one record per key, then its position), its verdicts and
//     dead letters, and the group offset;
//  2. EndTxn commits it;
//  3. the local Pebble commit: the same state operations and the position
//     with the changelog offset it reflects.
//
// b holds the batch's state operations; out its verdicts and dead letters
// (nil: none); w where the batch ends. On error nothing is committed
// locally and b is closed; the error is classified (classOf). committed runs
// after the local commit.
//
// The local store never holds a decision whose transaction did not commit.
// A crash between EndTxn and the local commit leaves the changelog ahead of
// the local state: the next start catches up from it (planResume).
func (p *partition) commit(ctx context.Context, b *state.Batch, out *output, w *work, committed func()) error {
	r := p.r
	next := state.Position{Offset: w.next, HWM: w.hwm, BatchStart: p.pos.Offset, BatchStartHWM: p.pos.HWM}
	b.PutPosition(p.id, next)
	cl, err := p.changelog(b)
	if err != nil {
		b.Close()
		return err
	}
	parts := append(make([]txnPart, 0, 4), txnPart{tp: topicPartition{r.cfg.ChangelogTopic, p.id}, msgs: cl})
	if out != nil {
		parts = r.route(parts, out.msgs)
	}
	groupOffset := max(next.Offset, p.publishFrom) // never back below what was published
	off := txnOffset{group: r.cfg.GroupID, generation: -1, topic: r.cfg.AttemptsTopic, partition: p.id, offset: groupOffset}
	if p.gen != nil {
		off.member, off.generation = p.gen.MemberID, p.gen.ID
	}
	t0 := time.Now()
	bases, err := p.txn.commit(ctx, parts, off, r.cfg.now().UnixMilli())
	r.metrics.txnSeconds.Observe(time.Since(t0).Seconds())
	if err == nil {
		r.metrics.transactions.WithLabelValues("committed").Inc()
	} else {
		r.metrics.transactions.WithLabelValues(classOf(err).label()).Inc()
	}
	if err != nil {
		b.Close()
		if errors.Is(err, kafka.MessageSizeTooLarge) && out != nil && out.dlq > 0 && !p.cutDeadLetters {
			// Decided again with cut copies of the large dead letters.
			p.cutDeadLetters = true
		}
		if classOf(err) == retryable {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			_ = p.txn.abort(actx) // best effort: the next init aborts it too
			cancel()
		}
		return err
	}
	// The commit marker follows the batch's last changelog record: only
	// this partition's producer writes its changelog partition.
	next.ChangelogEnd = bases[0] + int64(len(cl)) + 1
	b.PutPosition(p.id, next)
	if err := b.CommitNoSync(); err != nil {
		return storageErr("partition %d: local commit of offsets %d..%d (committed to Kafka; restored at the next start): %w",
			p.id, p.pos.Offset, next.Offset-1, err)
	}
	p.log.Debug().Int64("from", p.pos.Offset).Int64("next", next.Offset).Int64("hwm", next.HWM).
		Int64("changelog_end", next.ChangelogEnd).Int("changelog_records", len(cl)).Msg("batch committed")
	p.pos, p.groupAt, p.progress = next, groupOffset, true
	p.cutDeadLetters, p.dec.cutDeadLetters = false, false
	p.dec.committed(w)
	if committed != nil {
		committed()
	}
	return nil
}

// changelog returns the changelog records of a batch's operations: one
// record per key, its last operation (a contact swept and written again in
// one batch is one value). Their bytes are copies, in one buffer.
func (p *partition) changelog(b *state.Batch) ([]kafka.Message, error) {
	msgs := make([]kafka.Message, 0, b.Len())
	arena := make([]byte, 0, b.Bytes())
	at := make(map[string]int, b.Len()) // key -> its record; keys alias the arena
	err := b.Each(func(part int32, key, value []byte) error {
		if len(arena)+len(key)+len(value) > cap(arena) {
			// Never (Bytes bounds them); a new arena leaves the earlier
			// slices, and the map's keys, valid.
			arena = make([]byte, 0, max(2*cap(arena), len(key)+len(value)))
		}
		start := len(arena)
		arena = append(arena, key...)
		m := kafka.Message{Key: arena[start:len(arena):len(arena)]}
		if value != nil {
			start = len(arena)
			arena = append(arena, value...)
			m.Value = arena[start:len(arena):len(arena)]
		}
		k := unsafe.String(unsafe.SliceData(m.Key), len(m.Key)) // stays valid: the arena never moves under it
		if i, ok := at[k]; ok {
			msgs[i].Key = nil // superseded
		}
		at[k] = len(msgs)
		msgs = append(msgs, m)
		return nil
	})
	if err != nil {
		return nil, storageErr("partition %d: changelog: %w", p.id, err)
	}
	out := msgs[:0]
	for _, m := range msgs {
		if m.Key != nil {
			out = append(out, m)
		}
	}
	return out, nil
}

// route appends msgs to parts, grouped by topic and partition (by the
// murmur2 hash of the key, as Kafka's default partitioner), each group in
// the order of msgs.
func (r *Runner) route(parts []txnPart, msgs []kafka.Message) []txnPart {
	var bal kafka.Murmur2Balancer
	first := len(parts)
	at := make([]int, len(msgs)) // the part of each message
	counts := make([]int, 0, 4)
	var topic string
	var ps []int
	for i := range msgs {
		m := &msgs[i]
		if m.Topic != topic || ps == nil { // one lookup per run of a topic
			topic, ps = m.Topic, r.partitionsOf(m.Topic)
		}
		tp := topicPartition{topic: m.Topic}
		if len(ps) > 0 { // always, after setup
			tp.partition = int32(bal.Balance(*m, ps...))
		}
		j := first
		for j < len(parts) && parts[j].tp != tp {
			j++
		}
		if j == len(parts) {
			parts = append(parts, txnPart{tp: tp})
			counts = append(counts, 0)
		}
		at[i] = j
		counts[j-first]++
	}
	for j := first; j < len(parts); j++ {
		parts[j].msgs = make([]kafka.Message, 0, counts[j-first])
	}
	for i := range msgs {
		parts[at[i]].msgs = append(parts[at[i]].msgs, msgs[i])
	}
	return parts
}

// partitionsOf returns the partitions of a topic sendgate writes
// (attempts, verdicts, dead letters), as last read from the metadata (nil
// before setup read them).
func (r *Runner) partitionsOf(topic string) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.outParts[topic]
}
