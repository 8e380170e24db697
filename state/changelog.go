package state

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// A partition's state can be copied, operation by operation, to a compacted
// Kafka topic (a changelog, as Kafka Streams keeps one per store) and
// restored from it on another machine: Each hands out a batch's operations
// on partitions' keys; Restore applies them.

// Each calls fn with every operation of the batch on a partition's key, in
// order: value is nil for a deletion. key and value are valid only during
// fn. Operations on global keys (settings) are skipped. An error from fn
// stops and is returned.
func (b *Batch) Each(fn func(p int32, key, value []byte) error) error {
	b.check()
	r := b.b.Reader()
	for {
		kind, key, value, ok, err := r.Next()
		if err != nil {
			return fmt.Errorf("state: read batch: %w", err)
		}
		if !ok {
			return nil
		}
		if len(key) == 0 || key[0] != kindPartition {
			continue
		}
		p, err := keyPartition(key)
		if err != nil {
			return fmt.Errorf("state: batch key %x: %w", key, err)
		}
		switch kind {
		case pebble.InternalKeyKindSet:
			if value == nil {
				value = []byte{}
			}
		case pebble.InternalKeyKindDelete, pebble.InternalKeyKindSingleDelete:
			value = nil
		default:
			continue
		}
		if err := fn(p, key, value); err != nil {
			return err
		}
	}
}

// Restore adds to the batch one operation read back from a changelog of
// partition p: the key's value, or its deletion when value is nil. A key
// that is not partition p's is refused.
func (b *Batch) Restore(p int32, key, value []byte) error {
	b.check()
	if len(key) == 0 || key[0] != kindPartition {
		return fmt.Errorf("state: restore partition %d: key %x is not a partition's", p, key)
	}
	kp, err := keyPartition(key)
	if err != nil || kp != p {
		return fmt.Errorf("state: restore partition %d: key %x belongs to partition %d", p, key, kp)
	}
	if value == nil {
		b.setErr(b.b.Delete(key, nil), "restore")
	} else {
		b.setErr(b.b.Set(key, value, nil), "restore")
	}
	return nil
}

// PositionKey is the key of partition p's position, as Each hands it out: a
// restore applies it last, so that a partially restored partition has no
// position (and is restored again).
func PositionKey(p int32) []byte { return appendPositionKey(nil, p) }

// DecodePosition decodes the value of a position record, as Each hands it
// out.
func DecodePosition(value []byte) (Position, error) {
	pos, err := decodePosition(value)
	if err != nil {
		return Position{}, fmt.Errorf("state: position value %x: %w", value, err)
	}
	return pos, nil
}
