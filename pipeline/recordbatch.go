package pipeline

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/segmentio/kafka-go"
)

// A record batch in Kafka's message format v2, as a transactional producer
// sends it in a Produce request (kafka-go's own encoder writes producer id,
// epoch and base sequence as -1, so sendgate encodes its batches itself).
//
//	offset  size  field
//	0       8     base offset (0: the broker assigns offsets)
//	8       4     batch length (bytes after this field)
//	12      4     partition leader epoch (-1)
//	16      1     magic (2)
//	17      4     CRC-32C (Castagnoli) of bytes 21 to the end
//	21      2     attributes (bit 4: transactional; no compression)
//	23      4     last offset delta (records - 1)
//	27      8     first timestamp (ms)
//	35      8     max timestamp (ms)
//	43      8     producer id
//	51      2     producer epoch
//	53      4     base sequence
//	57      4     record count
//	61            records
//
// Each record is: length (varint), attributes (int8, 0), timestamp delta
// (varint), offset delta (varint), key length (varint, -1 for null), key,
// value length (varint, -1 for null), value, header count (varint), and per
// header its key and value, each length-prefixed. Varints are zig-zag, as
// encoding/binary writes them.
const (
	batchHeaderLen      = 61
	attrTransactional   = 1 << 4
	rawRecordSetSizeLen = 4 // RawProduce's record set starts with its size
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// batchProducer identifies the producer of a batch: id, epoch and the
// sequence number of its first record.
type batchProducer struct {
	id       int64
	epoch    int16
	sequence int32
}

// appendRawRecordSet appends to dst the record set of one Produce request
// partition: its size as an int32, then one transactional v2 batch of msgs
// (their Key, Value, Headers and Time; a zero Time is timeMs). msgs must not
// be empty.
func appendRawRecordSet(dst []byte, msgs []kafka.Message, prod batchProducer, timeMs int64) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, rawRecordSetSizeLen+batchHeaderLen)...)
	first, last := int64(1<<62), int64(-1<<62)
	for i := range msgs {
		t := recordTime(&msgs[i], timeMs)
		first, last = min(first, t), max(last, t)
	}
	for i := range msgs {
		dst = appendRecord(dst, &msgs[i], recordTime(&msgs[i], timeMs)-first, int64(i))
	}
	set := dst[start:]
	b := set[rawRecordSetSizeLen:]
	be := binary.BigEndian
	be.PutUint32(set[0:], uint32(len(b)))
	be.PutUint64(b[0:], 0)
	be.PutUint32(b[8:], uint32(len(b)-12))
	be.PutUint32(b[12:], 0xffffffff)
	b[16] = 2
	be.PutUint16(b[21:], attrTransactional)
	be.PutUint32(b[23:], uint32(len(msgs)-1))
	be.PutUint64(b[27:], uint64(first))
	be.PutUint64(b[35:], uint64(last))
	be.PutUint64(b[43:], uint64(prod.id))
	be.PutUint16(b[51:], uint16(prod.epoch))
	be.PutUint32(b[53:], uint32(prod.sequence))
	be.PutUint32(b[57:], uint32(len(msgs)))
	be.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return dst
}

func recordTime(m *kafka.Message, def int64) int64 {
	if m.Time.IsZero() {
		return def
	}
	return m.Time.UnixMilli()
}

// appendRecord appends one record with its timestamp delta and offset
// delta.
func appendRecord(dst []byte, m *kafka.Message, tsDelta, delta int64) []byte {
	n := recordBodyLen(m, tsDelta, delta)
	dst = binary.AppendVarint(dst, int64(n))
	dst = append(dst, 0)                    // attributes
	dst = binary.AppendVarint(dst, tsDelta) // timestamp delta
	dst = binary.AppendVarint(dst, delta)   // offset delta
	dst = appendVarBytes(dst, m.Key)        // key
	dst = appendVarBytes(dst, m.Value)      // value
	dst = binary.AppendVarint(dst, int64(len(m.Headers)))
	for _, h := range m.Headers {
		dst = binary.AppendVarint(dst, int64(len(h.Key)))
		dst = append(dst, h.Key...)
		dst = appendVarBytes(dst, h.Value)
	}
	return dst
}

func appendVarBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

// recordBodyLen is the length of a record after its length field.
func recordBodyLen(m *kafka.Message, tsDelta, delta int64) int {
	n := 1 + varintLen(tsDelta) + varintLen(delta) + varBytesLen(m.Key) + varBytesLen(m.Value) + varintLen(int64(len(m.Headers)))
	for _, h := range m.Headers {
		n += varintLen(int64(len(h.Key))) + len(h.Key) + varBytesLen(h.Value)
	}
	return n
}

// recordLen is how many bytes a message adds to a batch, at most.
func recordLen(m *kafka.Message) int {
	n := recordBodyLen(m, 1<<40, 1<<20)
	return n + varintLen(int64(n))
}

func varBytesLen(b []byte) int {
	if b == nil {
		return varintLen(-1)
	}
	return varintLen(int64(len(b))) + len(b)
}

func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}
