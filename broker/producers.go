package broker

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// restoreProducerState rebuilds, from the partition logs under dir, the
// sequence state of every idempotent (and transactional) producer: per
// producer and partition, its latest epoch, the next sequence number it must
// send and its last five batches (for duplicate detection). It writes that
// state where kfake loads it at start (seq_windows.json), replacing whatever
// an earlier clean stop left there, and returns how many windows it wrote.
//
// kfake saves that state only when it is closed: after a kill -9 it has
// none, and then it accepts any first sequence from a producer, as a broker
// accepts one from a producer it never saw. A producer with two requests in
// flight to a partition when its connection broke (the first to the dead
// broker, the second to the restarted one) then gets its second batch
// appended before its first; retrying the first, it is refused
// (OUT_OF_ORDER_SEQUENCE_NUMBER), bumps its epoch and sends both again: the
// log holds the second batch twice, once ahead of the first, and the
// attempts it carries are decided out of order, with a later decision time
// than the producer's order gives them. A real broker rebuilds this state
// from its log after an unclean stop; this does the same.
//
// Each segment is read as kfake reads it at start: up to its first torn or
// corrupt batch. The file is kfake's own (its persistSeqWindows, version 1);
// TestProducerStateSurvivesKill fails if a kfake upgrade stops loading it.
func restoreProducerState(dir string) (int, error) {
	parts, err := os.ReadDir(filepath.Join(dir, "partitions"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("broker: producer state: %w", err)
	}
	var out []seqWindowFile
	for _, d := range parts {
		if !d.IsDir() {
			continue
		}
		topic, part, ok := parsePartitionDir(d.Name())
		if !ok {
			continue
		}
		windows, err := partitionWindows(filepath.Join(dir, "partitions", d.Name()))
		if err != nil {
			return 0, fmt.Errorf("broker: producer state of %s partition %d: %w", topic, part, err)
		}
		for _, pid := range slices.Sorted(maps.Keys(windows)) {
			out = append(out, windows[pid].file(pid, topic, part))
		}
	}
	data, err := json.Marshal(seqWindowsFile{Version: 1, Windows: out})
	if err != nil {
		return 0, fmt.Errorf("broker: producer state: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, "seq_windows.json"), data); err != nil {
		return 0, fmt.Errorf("broker: producer state: %w", err)
	}
	return len(out), nil
}

// parsePartitionDir splits kfake's partition directory name,
// "{url-escaped topic}-{partition}".
func parsePartitionDir(name string) (topic string, part int32, ok bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return "", 0, false
	}
	p, err := strconv.ParseInt(name[i+1:], 10, 32)
	if err != nil {
		return "", 0, false
	}
	topic, err = url.PathUnescape(name[:i])
	if err != nil {
		return "", 0, false
	}
	return topic, int32(p), true
}

// partitionWindows reads the segments (*.dat, in offset order) of one
// partition directory and returns the sequence window of each producer.
func partitionWindows(pdir string) (map[int64]*seqWindow, error) {
	ents, err := os.ReadDir(pdir)
	if err != nil {
		return nil, err
	}
	var bases []int64
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".dat")
		if !ok || e.IsDir() {
			continue
		}
		if b, err := strconv.ParseInt(name, 10, 64); err == nil {
			bases = append(bases, b)
		}
	}
	slices.Sort(bases)
	windows := map[int64]*seqWindow{}
	var buf []byte
	for _, base := range bases {
		err := scanSegment(filepath.Join(pdir, strconv.FormatInt(base, 10)+".dat"), &buf, func(h batchHeader) {
			if h.control() || h.producerID < 0 || h.baseSequence < 0 {
				return
			}
			w := windows[h.producerID]
			if w == nil {
				w = &seqWindow{}
				windows[h.producerID] = w
			}
			w.add(h.epoch, h.baseSequence, h.records, h.baseOffset)
		})
		if err != nil {
			return nil, err
		}
	}
	return windows, nil
}

// batchHeader is the part of a RecordBatch (message format v2) header that
// the sequence state needs.
type batchHeader struct {
	baseOffset   int64
	attributes   int16
	producerID   int64
	epoch        int16
	baseSequence int32
	records      int32
}

func (h batchHeader) control() bool { return h.attributes&0x20 != 0 }

// RecordBatch v2 header layout: base offset (8), batch length (4), partition
// leader epoch (4), magic (1), CRC-32C of the bytes from the attributes on
// (4), attributes (2), last offset delta (4), first and max timestamps (8
// each), producer id (8), producer epoch (2), base sequence (4), record
// count (4).
const batchHeaderLen = 61

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// scanSegment calls fn with the header of each whole, intact batch of the
// segment file at path, in order, up to its end or its first torn or
// corrupt batch (a write cut short by the crash: kfake truncates the
// segment there). buf is reused.
func scanSegment(path string, buf *[]byte, fn func(batchHeader)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var head [12]byte
	for {
		if _, err := io.ReadFull(r, head[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			}
			return err
		}
		n := int(binary.BigEndian.Uint32(head[8:12]))
		if n < batchHeaderLen-12 || n > 1<<30 {
			return nil
		}
		b := slices.Grow((*buf)[:0], 12+n)[:12+n]
		*buf = b
		copy(b, head[:])
		if _, err := io.ReadFull(r, b[12:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			}
			return err
		}
		be := binary.BigEndian
		if be.Uint32(b[17:21]) != crc32.Checksum(b[21:], crc32c) {
			return nil
		}
		fn(batchHeader{
			baseOffset:   int64(be.Uint64(b[0:])),
			attributes:   int16(be.Uint16(b[21:])),
			producerID:   int64(be.Uint64(b[43:])),
			epoch:        int16(be.Uint16(b[51:])),
			baseSequence: int32(be.Uint32(b[53:])),
			records:      int32(be.Uint32(b[57:])),
		})
	}
}

// seqWindow is one producer's sequence state on one partition, as kfake
// keeps it: the epoch, the next expected sequence and a ring of the last
// five batches appended in that epoch.
type seqWindow struct {
	epoch   int16
	entries [5]seqEntry
	at      uint8 // the ring's next slot
	count   uint8
	next    int32
}

type seqEntry struct {
	first, next int32
	offset      int64
}

// add records a batch appended at offset. A batch of a later epoch starts
// the window over (the producer's sequence restarted); one of an earlier
// epoch, which a broker refuses once it saw the later one, changes nothing.
func (w *seqWindow) add(epoch int16, first, records int32, offset int64) {
	if w.count > 0 && epoch != w.epoch {
		if epoch < w.epoch {
			return
		}
		*w = seqWindow{}
	}
	next := int32((int64(first) + int64(records)) % math.MaxInt32)
	w.epoch, w.next = epoch, next
	w.entries[w.at] = seqEntry{first: first, next: next, offset: offset}
	w.at = (w.at + 1) % uint8(len(w.entries))
	w.count = min(w.count+1, uint8(len(w.entries)))
}

// seqWindowsFile and seqWindowFile are kfake's seq_windows.json (its
// persistSeqWindows, version 1, with the independent-entries windows).
type seqWindowsFile struct {
	Version int             `json:"version"`
	Windows []seqWindowFile `json:"windows"`
}

type seqWindowFile struct {
	PID     int64           `json:"pid"`
	Topic   string          `json:"topic"`
	Part    int32           `json:"partition"`
	Entries [5]seqEntryFile `json:"entries"`
	Count   uint8           `json:"count"`
	At      uint8           `json:"at"`
	Epoch   int16           `json:"epoch"`
	Seen    bool            `json:"seen"`
	NextSeq int32           `json:"next_seq"`
}

type seqEntryFile struct {
	FirstSeq int32 `json:"first_seq"`
	NextSeq  int32 `json:"next_seq"`
	Offset   int64 `json:"offset"`
}

func (w *seqWindow) file(pid int64, topic string, part int32) seqWindowFile {
	f := seqWindowFile{PID: pid, Topic: topic, Part: part, Count: w.count, At: w.at, Epoch: w.epoch, Seen: true, NextSeq: w.next}
	for i, e := range w.entries {
		f.Entries[i] = seqEntryFile{FirstSeq: e.first, NextSeq: e.next, Offset: e.offset}
	}
	return f
}

// writeFileAtomic writes data to path through a synced temporary file and a
// rename (kfake removes a *.tmp file left by a crash at its start).
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
