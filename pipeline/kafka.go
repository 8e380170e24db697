package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// record is one fetched Kafka record, its key and value copied out of the
// fetch buffers.
type record struct {
	Offset  int64
	TimeMs  int64
	Key     []byte
	Value   []byte
	Headers []kafka.Header
	// Producer is the producer id of the record's batch (-1: a producer
	// without one), to tell producers apart in logs.
	Producer int64
}

// kafkaClient wraps the kafka-go client calls sendgate makes (besides the
// consumer group and the transactional producer).
type kafkaClient struct {
	client *kafka.Client
	cfg    *Config
}

func newKafkaClient(cfg *Config, transport *kafka.Transport) *kafkaClient {
	return &kafkaClient{
		client: &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 10 * time.Second, Transport: transport},
		cfg:    cfg,
	}
}

// partitions returns the partition ids of topic, ascending.
func (b *kafkaClient) partitions(ctx context.Context, topic string) ([]int, error) {
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

// leaders returns the broker id leading each partition of each of topics
// (a partition without a leader is left out).
func (b *kafkaClient) leaders(ctx context.Context, topics ...string) (map[string]map[int]int, error) {
	md, err := b.client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, fmt.Errorf("metadata of topics %v: %w", topics, err)
	}
	out := make(map[string]map[int]int, len(topics))
	for _, t := range md.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("metadata of topic %s: %w", t.Name, t.Error)
		}
		ls := make(map[int]int, len(t.Partitions))
		for _, p := range t.Partitions {
			if p.Error == nil && p.Leader.Host != "" {
				ls[p.ID] = p.Leader.ID
			}
		}
		out[t.Name] = ls
	}
	return out, nil
}

// offsets returns the first offset and the end of each partition of topic,
// as a read_committed reader sees it: the last stable offset (the first
// offset of a transaction still open, or the high watermark).
func (b *kafkaClient) offsets(ctx context.Context, topic string, parts []int) (first, end map[int]int64, err error) {
	reqs := make([]kafka.OffsetRequest, 0, 2*len(parts))
	for _, p := range parts {
		reqs = append(reqs, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	resp, err := b.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs},
		IsolationLevel: kafka.ReadCommitted})
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
func (b *kafkaClient) ensureTopics(ctx context.Context) error {
	// Record timestamps are the producers' (CreateTime, Kafka's default):
	// the decision time of a record, kept by the copy that forwarding
	// writes to its key's partition.
	topics := []kafka.TopicConfig{
		// Retention longer than the longest window (30 days): an instance
		// without a partition's state rebuilds it from this topic.
		{Topic: b.cfg.AttemptsTopic, NumPartitions: b.cfg.Partitions, ReplicationFactor: -1, ConfigEntries: []kafka.ConfigEntry{
			{ConfigName: "retention.ms", ConfigValue: "2678400000"}}},
		{Topic: b.cfg.SettingsTopic, NumPartitions: 1, ReplicationFactor: -1, ConfigEntries: []kafka.ConfigEntry{
			{ConfigName: "cleanup.policy", ConfigValue: "compact"}}},
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
func (b *kafkaClient) checkTopics(ctx context.Context) (warnings []string, err error) {
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

// checkTransactions stops the processor at start when the brokers cannot
// run Kafka transactions or read committed records: sendgate's guarantees
// across instances rest on them.
func (b *kafkaClient) checkTransactions(ctx context.Context) error {
	resp, err := b.client.ApiVersions(ctx, &kafka.ApiVersionsRequest{})
	if err != nil {
		return fmt.Errorf("api versions: %w", err)
	}
	have := map[int]int{}
	for _, k := range resp.ApiKeys {
		have[k.ApiKey] = k.MaxVersion
	}
	for _, need := range []struct {
		key, version int
		name         string
	}{
		{22, 0, "InitProducerID"}, {24, 0, "AddPartitionsToTxn"}, {25, 0, "AddOffsetsToTxn"},
		{26, 0, "EndTxn"}, {28, 3, "TxnOffsetCommit v3"}, {1, 4, "Fetch v4 (read_committed)"},
		{0, 3, "Produce v3 (transactional)"},
	} {
		if v, ok := have[need.key]; !ok || v < need.version {
			return &setupError{fmt.Errorf("pipeline: brokers: the Kafka cluster does not support %s: sendgate writes in Kafka transactions and reads committed records (Apache Kafka 2.5 or later, or a compatible broker with transactions enabled)", need.name)}
		}
	}
	return nil
}
