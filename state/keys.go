package state

import (
	"encoding/binary"
	"errors"
	"math"
)

// Key kinds (first byte of every key).
const (
	kindPartition      byte = 0x01
	kindSettings       byte = 0x02
	kindSettingsOffset byte = 0x03
	kindEnd            byte = 0x04 // exclusive upper bound of all keys
)

// Sub-kinds of partition keys (byte after the partition number).
const (
	subPosition byte = 0x01
	subHistory  byte = 0x02
	subVerdict  byte = 0x03
)

const (
	partitionPrefixLen = 1 + 4     // kind, partition
	primaryHeaderLen   = 1 + 4 + 1 // kind, partition, sub
)

var errBadKey = errors.New("malformed key")

// appendPartitionPrefix appends kindPartition and p.
func appendPartitionPrefix(dst []byte, p int32) []byte {
	dst = append(dst, kindPartition)
	return binary.BigEndian.AppendUint32(dst, uint32(p))
}

// partitionEnd returns the exclusive upper bound of partition p's keys.
func partitionEnd(dst []byte, p int32) []byte {
	if uint32(p) == math.MaxUint32 {
		return append(dst, kindPartition+1)
	}
	return appendPartitionPrefix(dst, int32(uint32(p)+1))
}

// appendID appends a length-prefixed id.
func appendID(dst []byte, id string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(id)))
	return append(dst, id...)
}

// readID reads a length-prefixed id from b, returning it and the rest.
func readID(b []byte) (id, rest []byte, err error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return nil, nil, errBadKey
	}
	return b[w : w+int(n)], b[w+int(n):], nil
}

func appendPositionKey(dst []byte, p int32) []byte {
	return append(appendPartitionPrefix(dst, p), subPosition)
}

func appendHistoryKey(dst []byte, p int32, bot, contact string) []byte {
	dst = append(appendPartitionPrefix(dst, p), subHistory)
	return appendID(appendID(dst, bot), contact)
}

func appendVerdictKey(dst []byte, p int32, attemptID string) []byte {
	dst = append(appendPartitionPrefix(dst, p), subVerdict)
	return appendID(dst, attemptID)
}

// appendSweepStart appends the first key Batch.Sweep examines in partition
// p: the start of its histories.
func appendSweepStart(dst []byte, p int32) []byte {
	return append(appendPartitionPrefix(dst, p), subHistory)
}

// appendSweepEnd appends the exclusive upper bound of the keys Batch.Sweep
// examines in partition p: the end of its verdicts.
func appendSweepEnd(dst []byte, p int32) []byte {
	return append(appendPartitionPrefix(dst, p), subVerdict+1)
}

func appendSettingsKey(dst []byte, bot string) []byte {
	return appendID(append(dst, kindSettings), bot)
}

func appendSettingsOffsetKey(dst []byte, p int32) []byte {
	dst = append(dst, kindSettingsOffset)
	return binary.BigEndian.AppendUint32(dst, uint32(p))
}

// keyPartition returns the partition of a partition or settings-offset key.
func keyPartition(k []byte) (int32, error) {
	if len(k) < partitionPrefixLen {
		return 0, errBadKey
	}
	return int32(binary.BigEndian.Uint32(k[1:partitionPrefixLen])), nil
}
