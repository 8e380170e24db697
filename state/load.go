package state

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/cockroachdb/errors/oserror"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
)

// Load rebuilds one partition's state whole from its changelog read from
// the start (a restore into an empty or unusable local state), without
// going through Pebble's write-ahead log, memtables and the compactions of
// the files flushed from them: Add collects the changelog's operations in
// memory, in order; Commit sorts them, keeps the last operation of every
// key, writes the live keys and the partition's Position into one sstable
// and ingests it into the store, replacing the partition's whole key range
// (an excise) in one atomic, durable step. Until Commit returns, nothing of
// the Load is visible and the partition's state is what it was; after it,
// the partition holds exactly the Load's keys and its Position.
//
// A Load holds every operation added (keys and values, plus 16 bytes
// each) until Commit or Close: the caller bounds it (Bytes) and falls back
// to batches (Each) for a partition too large for its memory.
//
// A Load is not safe for concurrent use; it must be finished with Commit
// or Close.
type Load struct {
	s *Store
	p int32
	// chunks hold the keys and values added, one after the other, in
	// chunks of loadChunk bytes (one of its own for a larger operation):
	// no copy as the Load grows, and no more than a chunk unused.
	chunks [][]byte
	size   int
	ents   []loadEntry // in the order added
	done   bool
}

const loadChunk = 1 << 20

// loadEntry is one operation of a Load: its key at
// chunks[chunk][off:off+klen], its value right after it (vlen < 0: a
// deletion).
type loadEntry struct {
	chunk, off, klen uint32
	vlen             int32
}

// NewLoad returns an empty Load of partition p, with room for about ops
// operations (a hint: 0 knows nothing). The caller must Commit or Close
// it.
func (s *Store) NewLoad(p int32, ops int) *Load {
	return &Load{s: s, p: p, ents: make([]loadEntry, 0, max(ops, 0))}
}

// loadChunks recycles the chunks of finished Loads: a process restores
// partitions one after the other, each Load as large as the last.
var loadChunks = sync.Pool{New: func() any { return new([loadChunk]byte) }}

func (l *Load) check() {
	if l.done {
		panic("state: use of a committed or closed Load")
	}
}

// Add adds one operation read back from partition p's changelog, as
// Batch.Restore does: the key's value, or its deletion when value is nil.
// It copies key and value. A key that is not partition p's is refused, and
// so is a Load past 4 GiB.
func (l *Load) Add(key, value []byte) error {
	l.check()
	if len(key) == 0 || key[0] != kindPartition {
		return fmt.Errorf("state: restore partition %d: key %x is not a partition's", l.p, key)
	}
	if kp, err := keyPartition(key); err != nil || kp != l.p {
		return fmt.Errorf("state: restore partition %d: key %x belongs to partition %d", l.p, key, kp)
	}
	n := len(key) + len(value)
	if n > 1<<31-1 {
		return fmt.Errorf("state: restore partition %d: key %x: value too large", l.p, key)
	}
	c := len(l.chunks) - 1
	if c < 0 || len(l.chunks[c])+n > cap(l.chunks[c]) {
		if n <= loadChunk {
			l.chunks = append(l.chunks, loadChunks.Get().(*[loadChunk]byte)[:0])
		} else {
			l.chunks = append(l.chunks, make([]byte, 0, n))
		}
		c++
		l.size += cap(l.chunks[c])
	}
	buf := l.chunks[c]
	e := loadEntry{chunk: uint32(c), off: uint32(len(buf)), klen: uint32(len(key)), vlen: -1}
	buf = append(buf, key...)
	if value != nil {
		e.vlen = int32(len(value))
		buf = append(buf, value...)
	}
	l.chunks[c] = buf
	l.ents = append(l.ents, e)
	return nil
}

func (l *Load) key(e loadEntry) []byte { return l.chunks[e.chunk][e.off : e.off+e.klen] }

func (l *Load) value(e loadEntry) []byte {
	if e.vlen < 0 {
		return nil
	}
	start := e.off + e.klen
	return l.chunks[e.chunk][start : start+uint32(e.vlen)]
}

// Len returns the number of operations added.
func (l *Load) Len() int { return len(l.ents) }

// Bytes returns about the memory the Load holds: its keys and values and
// 16 bytes per operation.
func (l *Load) Bytes() int { return l.size + 16*cap(l.ents) }

// Each calls fn with every operation added, in the order added (value nil
// for a deletion), for a caller that writes them through batches after
// all. key and value are valid until Close. An error from fn stops and is
// returned.
func (l *Load) Each(fn func(key, value []byte) error) error {
	l.check()
	for _, e := range l.ents {
		if err := fn(l.key(e), l.value(e)); err != nil {
			return err
		}
	}
	return nil
}

// Commit writes the Load's live keys, and pos when it is not nil, as the
// whole state of the partition: one sstable written next to the database
// (synced), then ingested with the partition's key range excised, which
// Pebble makes durable (the file and the manifest synced) before it
// returns. The Load cannot be used afterwards. On error the partition's
// state is what it was before.
func (l *Load) Commit(pos *Position) (err error) {
	l.check()
	l.done = true
	defer l.release()
	s := l.s
	if s.closed.Load() {
		return ErrClosed
	}
	// Of a key's operations, the last added sorts last (entries are in
	// the order added, so their places order them).
	slices.SortFunc(l.ents, func(a, b loadEntry) int {
		if c := bytes.Compare(l.key(a), l.key(b)); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.chunk, b.chunk), cmp.Compare(a.off, b.off))
	})
	path := s.po.FS.PathJoin(s.dir, fmt.Sprintf("restore-%d.sst", l.p))
	_ = s.po.FS.Remove(path) // one a crash left behind
	f, err := s.po.FS.Create(path, "")
	if err != nil {
		return fmt.Errorf("state: restore partition %d: create %s: %w", l.p, path, err)
	}
	defer func() { err = errors.Join(err, ignoreNotExist(s.po.FS.Remove(path))) }()
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), s.po.MakeWriterOptions(6, s.db.TableFormat()))
	n := 0
	if pos != nil {
		// The position key sorts before every other key of the partition.
		n++
		if err := w.Set(appendPositionKey(nil, l.p), appendPositionValue(nil, *pos)); err != nil {
			return errors.Join(fmt.Errorf("state: restore partition %d: write: %w", l.p, err), w.Close())
		}
	}
	posKey := appendPositionKey(nil, l.p)
	for i, e := range l.ents {
		k := l.key(e)
		if i+1 < len(l.ents) && bytes.Equal(k, l.key(l.ents[i+1])) {
			continue // a later operation of the same key follows
		}
		if e.vlen < 0 || (pos != nil && bytes.Equal(k, posKey)) {
			continue // deleted (nothing lies under an excise), or superseded
		}
		n++
		if err := w.Set(k, l.value(e)); err != nil {
			return errors.Join(fmt.Errorf("state: restore partition %d: write: %w", l.p, err), w.Close())
		}
	}
	if err := w.Close(); err != nil { // syncs the file
		return fmt.Errorf("state: restore partition %d: write %s: %w", l.p, path, err)
	}
	var paths []string
	if n > 0 {
		paths = []string{path}
	}
	span := pebble.KeyRange{Start: appendPartitionPrefix(nil, l.p), End: partitionEnd(nil, l.p)}
	if _, err := s.db.IngestAndExcise(context.Background(), paths, nil, nil, span); err != nil {
		return fmt.Errorf("state: restore partition %d: ingest: %w", l.p, err)
	}
	return nil
}

func ignoreNotExist(err error) error {
	if err != nil && errors.Is(err, oserror.ErrNotExist) {
		return nil
	}
	return err
}

// Close discards an uncommitted Load. It is a no-op after Commit or Close.
func (l *Load) Close() {
	if !l.done {
		l.done = true
		l.release()
	}
}

func (l *Load) release() {
	for _, c := range l.chunks {
		if cap(c) == loadChunk {
			loadChunks.Put((*[loadChunk]byte)(c[:loadChunk]))
		}
	}
	l.chunks, l.ents, l.size = nil, nil, 0
}
