package pipeline

import (
	"time"

	"github.com/segmentio/kafka-go"
)

// keyPartition is the partition of parts that Kafka's default partitioner
// (murmur2) gives key; false for an empty key (a producer's choice).
func keyPartition(key []byte, parts []int) (int32, bool) {
	if len(key) == 0 || len(parts) == 0 {
		return 0, false
	}
	return int32((kafka.Murmur2Balancer{}).Balance(kafka.Message{Key: key}, parts...)), true
}

// forward appends the copy of rec for its key's partition: the same key,
// value, headers and timestamp. A warning per producer and minute says
// which producer does not partition by murmur2.
func (d *decider) forward(out *output, rec *record, target int32, nowMs int64) {
	out.msgs = append(out.msgs, kafka.Message{Topic: d.topic, Key: rec.Key, Value: rec.Value, Headers: rec.Headers,
		Time: time.UnixMilli(rec.TimeMs)})
	out.forwarded++
	if d.warned == nil {
		d.warned = map[int64]int64{}
	}
	if last, ok := d.warned[rec.Producer]; !ok || nowMs-last >= time.Minute.Milliseconds() {
		d.warned[rec.Producer] = nowMs
		d.log.Warn().Str("topic", d.topic).Int32("partition", d.partition).Int64("offset", rec.Offset).
			Int32("key_partition", target).Int64("producer_id", rec.Producer).Str("key", truncate(rec.Key)).
			Msg("a record on another partition than its key's (the producer does not partition by murmur2, e.g. librdkafka's default): forwarded to its key's partition, decided there (warned once a minute per producer)")
	}
}
