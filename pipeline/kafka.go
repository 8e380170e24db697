package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
)

// record is one fetched Kafka record, its key and value copied out of the
// fetch buffers.
type record struct {
	Offset int64
	TimeMs int64
	Key    []byte
	Value  []byte
}

// broker wraps the kafka-go client calls sendgate makes.
type broker struct {
	client *kafka.Client
	cfg    *Config
}

func newBroker(cfg *Config, transport *kafka.Transport) *broker {
	return &broker{
		client: &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 10 * time.Second, Transport: transport},
		cfg:    cfg,
	}
}

// partitions returns the partition ids of topic, ascending.
func (b *broker) partitions(ctx context.Context, topic string) ([]int, error) {
	md, err := b.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata of topic %s: %w", topic, err)
	}
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("metadata of topic %s: %w", topic, t.Error)
		}
		ps := make([]int, 0, len(t.Partitions))
		for _, p := range t.Partitions {
			ps = append(ps, p.ID)
		}
		slices.Sort(ps)
		return ps, nil
	}
	return nil, fmt.Errorf("metadata of topic %s: %w", topic, kafka.UnknownTopicOrPartition)
}

// offsets returns the first and the end (next to be written) offset of each
// partition of topic.
func (b *broker) offsets(ctx context.Context, topic string, parts []int) (first, end map[int]int64, err error) {
	reqs := make([]kafka.OffsetRequest, 0, 2*len(parts))
	for _, p := range parts {
		reqs = append(reqs, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	resp, err := b.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, nil, fmt.Errorf("list offsets of topic %s: %w", topic, err)
	}
	first, end = make(map[int]int64, len(parts)), make(map[int]int64, len(parts))
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return nil, nil, fmt.Errorf("list offsets of topic %s partition %d: %w", topic, po.Partition, po.Error)
		}
		first[po.Partition] = po.FirstOffset
		end[po.Partition] = po.LastOffset
	}
	for _, p := range parts {
		if _, ok := end[p]; !ok {
			return nil, nil, fmt.Errorf("list offsets of topic %s partition %d: no answer", topic, p)
		}
	}
	return first, end, nil
}

// ensureTopics creates the topics that do not exist yet.
func (b *broker) ensureTopics(ctx context.Context) error {
	lat := []kafka.ConfigEntry{{ConfigName: "message.timestamp.type", ConfigValue: "LogAppendTime"}}
	topics := []kafka.TopicConfig{
		// Retention longer than the longest window (30 days): an instance
		// without a partition's state rebuilds it from this topic.
		{Topic: b.cfg.AttemptsTopic, NumPartitions: b.cfg.Partitions, ReplicationFactor: -1, ConfigEntries: append(lat,
			kafka.ConfigEntry{ConfigName: "retention.ms", ConfigValue: "2678400000"})},
		{Topic: b.cfg.SettingsTopic, NumPartitions: 1, ReplicationFactor: -1, ConfigEntries: append(lat,
			kafka.ConfigEntry{ConfigName: "cleanup.policy", ConfigValue: "compact"})},
		{Topic: b.cfg.VerdictsTopic, NumPartitions: b.cfg.Partitions, ReplicationFactor: -1},
		{Topic: b.cfg.DLQTopic, NumPartitions: 1, ReplicationFactor: -1},
	}
	resp, err := b.client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: topics})
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	for name, err := range resp.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", name, err)
		}
	}
	// The changelog has one partition per attempts partition, whoever
	// created the attempts topic.
	parts, err := b.partitions(ctx, b.cfg.AttemptsTopic)
	if err != nil {
		return err
	}
	resp, err = b.client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: b.cfg.ChangelogTopic, NumPartitions: len(parts), ReplicationFactor: -1,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}},
	}}})
	if err != nil {
		return fmt.Errorf("create topic %s: %w", b.cfg.ChangelogTopic, err)
	}
	for name, err := range resp.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", name, err)
		}
	}
	return nil
}

// checkTopics verifies that the four topics exist with partitions that have
// leaders, and returns warnings for settings that weaken the guarantees.
// A missing topic is an error naming it and the flag.
func (b *broker) checkTopics(ctx context.Context) (warnings []string, err error) {
	counts := map[string]int{}
	for _, t := range []struct{ flag, name string }{
		{"attempts-topic", b.cfg.AttemptsTopic}, {"settings-topic", b.cfg.SettingsTopic},
		{"verdicts-topic", b.cfg.VerdictsTopic}, {"dlq-topic", b.cfg.DLQTopic},
		{"changelog-topic", b.cfg.ChangelogTopic},
	} {
		md, err := b.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{t.name}})
		if err != nil {
			return nil, fmt.Errorf("metadata of topic %s: %w", t.name, err)
		}
		for _, mt := range md.Topics {
			if mt.Name != t.name {
				continue
			}
			if errors.Is(mt.Error, kafka.UnknownTopicOrPartition) || (mt.Error == nil && len(mt.Partitions) == 0) {
				return nil, &setupError{fmt.Errorf("pipeline: %s: topic %q does not exist: create it (see README) or start with --create-topics", t.flag, t.name)}
			}
			if mt.Error != nil {
				return nil, fmt.Errorf("metadata of topic %s: %w", t.name, mt.Error)
			}
			for _, p := range mt.Partitions {
				if p.Error != nil || p.Leader.ID < 0 {
					return nil, fmt.Errorf("topic %s partition %d has no leader (%v)", t.name, p.ID, p.Error)
				}
			}
			counts[t.name] = len(mt.Partitions)
		}
	}
	if a, c := counts[b.cfg.AttemptsTopic], counts[b.cfg.ChangelogTopic]; a != c {
		return nil, &setupError{fmt.Errorf("pipeline: changelog-topic: %q has %d partitions, the attempts topic %d: they must be equal (one state changelog partition per attempts partition)", b.cfg.ChangelogTopic, c, a)}
	}
	resp, err := b.client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{
		{ResourceType: kafka.ResourceTypeTopic, ResourceName: b.cfg.SettingsTopic, ConfigNames: []string{"cleanup.policy"}},
		{ResourceType: kafka.ResourceTypeTopic, ResourceName: b.cfg.ChangelogTopic, ConfigNames: []string{"cleanup.policy"}},
	}})
	if err != nil {
		return []string{fmt.Sprintf("cannot read the configuration of topics %s and %s: %v", b.cfg.SettingsTopic, b.cfg.ChangelogTopic, err)}, nil
	}
	for _, res := range resp.Resources {
		for _, e := range res.ConfigEntries {
			if e.ConfigName == "cleanup.policy" && !strings.Contains(e.ConfigValue, "compact") {
				warnings = append(warnings, fmt.Sprintf("topic %s has cleanup.policy=%s, not compact: what is older than its retention will be lost", res.ResourceName, e.ConfigValue))
			}
		}
	}
	return warnings, nil
}

// fetchResult is what one fetch returned.
type fetchResult struct {
	records []record
	// hwm is the partition's high watermark (end offset) at fetch time.
	hwm int64
	// logStart is the partition's first offset.
	logStart int64
	// skipTo, when no record was returned, is where to continue: past
	// offsets that no longer exist (compaction, control records).
	skipTo int64
	// sawEarlier says records before the offset came back (and none at or
	// after it).
	sawEarlier bool
}

// fetch reads up to max records of topic/partition from offset on, waiting up
// to FetchMaxWait for the first one. Records before offset (Kafka may return
// a batch that starts earlier) are skipped. recs is reused.
//
// compacted allows skipping to the high watermark when an unthrottled fetch
// returns nothing below it: offsets that compaction removed (settings topic
// only; on the attempts topic an empty answer never skips anything).
func (b *broker) fetch(ctx context.Context, topic string, partition int, offset int64, maxRecs int, recs []record, compacted bool) (fetchResult, error) {
	resp, err := b.client.Fetch(ctx, &kafka.FetchRequest{
		Topic: topic, Partition: partition, Offset: offset,
		MinBytes: 1, MaxBytes: int64(b.cfg.FetchMaxBytes), MaxWait: b.cfg.FetchMaxWait,
	})
	if err != nil {
		return fetchResult{}, err
	}
	res := fetchResult{records: recs[:0], hwm: resp.HighWatermark, logStart: resp.LogStartOffset}
	if resp.Error != nil {
		return res, resp.Error
	}
	lastSeen := int64(-1)
	for len(res.records) < maxRecs {
		r, err := resp.Records.ReadRecord()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return res, fmt.Errorf("read record of topic %s partition %d: %w", topic, partition, err)
		}
		lastSeen = max(lastSeen, r.Offset)
		if r.Offset < offset {
			continue
		}
		rec := record{Offset: r.Offset, TimeMs: r.Time.UnixMilli()}
		if rec.Key, err = readBytes(r.Key); err != nil {
			return res, fmt.Errorf("read key of topic %s partition %d offset %d: %w", topic, partition, r.Offset, err)
		}
		if rec.Value, err = readBytes(r.Value); err != nil {
			return res, fmt.Errorf("read value of topic %s partition %d offset %d: %w", topic, partition, r.Offset, err)
		}
		res.records = append(res.records, rec)
	}
	res.sawEarlier = len(res.records) == 0 && lastSeen >= 0 && lastSeen < offset
	if len(res.records) == 0 {
		switch {
		case lastSeen >= offset:
			res.skipTo = lastSeen + 1
		case compacted && lastSeen < 0 && res.hwm > offset && resp.Throttle == 0:
			res.skipTo = res.hwm
		default:
			res.skipTo = offset
		}
	}
	return res, nil
}

// readBytes copies a record's key or value; nil stays nil (a tombstone).
func readBytes(b protocol.Bytes) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	return protocol.ReadAll(b)
}

// balancer routes a changelog record to the partition named in its state
// key (the attempts partition it belongs to) and everything else by the
// murmur2 hash of its key, as Kafka's default partitioner does.
type balancer struct {
	changelog string
	murmur2   kafka.Murmur2Balancer
}

func (b *balancer) Balance(msg kafka.Message, partitions ...int) int {
	if msg.Topic == b.changelog && len(msg.Key) >= 5 {
		p := int(binary.BigEndian.Uint32(msg.Key[1:5]))
		for _, q := range partitions {
			if q == p {
				return p
			}
		}
	}
	return b.murmur2.Balance(msg, partitions...)
}

// retryable reports whether a Kafka error is worth retrying as is.
func retryable(err error) bool {
	var ke kafka.Error
	if errors.As(err, &ke) {
		return ke.Temporary()
	}
	return true // network errors, timeouts
}
