package pipeline

import (
	"strconv"

	"github.com/segmentio/kafka-go"
)

// Dead letters are the original record byte for byte (key, value), with
// headers naming the reason and the source. Only when the broker refused
// one as too large (MESSAGE_TOO_LARGE: over message.max.bytes) is the
// batch decided again with cut copies of its large dead letters: at most
// maxDeadLetter bytes of key and value, and the headers sendgate-truncated
// and sendgate-truncated-key giving the original lengths (the whole record
// stays at its source offset).
const maxDeadLetter = 512 << 10

// deadLetter appends the DLQ copy of rec.
func (d *decider) deadLetter(out *output, rec *record, reason string) {
	m := dlqMessage(d.cfg.dlqTopic, rec, reason, d.topic, d.partition, d.cutDeadLetters)
	if d.cutDeadLetters && len(m.Value) < len(rec.Value) {
		d.log.Error().Str("topic", d.topic).Int32("partition", d.partition).Int64("offset", rec.Offset).
			Int("key_bytes", len(rec.Key)).Int("value_bytes", len(rec.Value)).
			Msg("the broker refused the dead letter as too large: a cut copy goes to the DLQ (the whole record stays at its source offset)")
	}
	out.msgs = append(out.msgs, m)
	out.dlq++
}

// dlqMessage is the dead letter of rec: its key and value with the reason
// and source headers, cut when cut is set and they are larger than
// maxDeadLetter.
func dlqMessage(dlqTopic string, rec *record, reason, topic string, partition int32, cut bool) kafka.Message {
	m := kafka.Message{Topic: dlqTopic, Key: rec.Key, Value: rec.Value, Headers: dlqHeaders(reason, topic, partition, rec.Offset)}
	if cut && len(m.Key)+len(m.Value) > maxDeadLetter {
		m.Headers = append(m.Headers,
			kafka.Header{Key: "sendgate-truncated", Value: strconv.AppendInt(nil, int64(len(m.Value)), 10)},
			kafka.Header{Key: "sendgate-truncated-key", Value: strconv.AppendInt(nil, int64(len(m.Key)), 10)})
		m.Key = m.Key[:min(len(m.Key), 1024)]
		m.Value = m.Value[:min(len(m.Value), maxDeadLetter-len(m.Key))]
	}
	return m
}

// dlqMsgs collects dead letters outside an attempts batch (of the settings
// topic, written by kafka-go's Writer, whose batches stay under
// maxBatchBytes: a larger dead letter is cut).
type dlqMsgs []kafka.Message

func (q *dlqMsgs) add(dlqTopic string, rec *record, reason, topic string, partition int32) {
	*q = append(*q, dlqMessage(dlqTopic, rec, reason, topic, partition, len(rec.Key)+len(rec.Value) > maxBatchBytes-4096))
}

func dlqHeaders(reason, topic string, partition int32, offset int64) []kafka.Header {
	return []kafka.Header{
		{Key: "sendgate-error", Value: []byte(reason)},
		{Key: "sendgate-source-topic", Value: []byte(topic)},
		{Key: "sendgate-source-partition", Value: strconv.AppendInt(nil, int64(partition), 10)},
		{Key: "sendgate-source-offset", Value: strconv.AppendInt(nil, offset, 10)},
	}
}
