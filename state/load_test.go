package state

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/sendgate/sendgate/quota"
)

// A partition restored through a Load holds exactly the changelog's live
// keys (last operation of each key wins, deletions leave nothing) and the
// position given, replaces whatever the partition held, leaves the other
// partitions alone, and is there after a reopen.
func TestLoad(t *testing.T) {
	fs := vfs.NewMem()
	src, err := Open("a", Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := Open("b", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	// Stale state of partition 3 (no position: unusable) and a live
	// partition 4.
	b := dst.NewBatch()
	b.PutHistory(3, "bot", "stale", []quota.Send{{At: 1, Agent: "x", Attempt: "s"}}, 100)
	b.PutVerdict(3, "a1", []byte("old"), 100)
	b.PutHistory(4, "bot", "c1", []quota.Send{{At: 2, Agent: "y", Attempt: "z"}}, 100)
	b.PutPosition(4, Position{Offset: 3})
	commit(t, b)

	log := &changelog{t: t, src: src}
	log.write(func(b *Batch) {
		b.PutHistory(3, "bot", "c1", []quota.Send{{At: 10, Agent: "ana", Attempt: "a1"}}, 100)
		b.PutHistory(3, "bot", "c2", []quota.Send{{At: 11, Agent: "bob", Attempt: "a2"}}, 101)
		b.PutVerdict(3, "a1", []byte("v1"), 100)
		b.PutPosition(3, Position{Offset: 5, HWM: 10})
	})
	log.write(func(b *Batch) {
		b.PutHistory(3, "bot", "c2", nil, 0) // a deletion
		b.PutHistory(3, "bot", "c1", []quota.Send{{At: 10, Agent: "ana", Attempt: "a1"}, {At: 12, Agent: "ana", Attempt: "a3"}}, 102)
		b.PutPosition(3, Position{Offset: 7, HWM: 12})
	})
	for i := range 3000 { // more than a chunk of keys and values
		log.write(func(b *Batch) { b.PutVerdict(3, fmt.Sprintf("id%04d", i), make([]byte, 500), 100) })
	}
	l := dst.NewLoad(3, 0)
	for _, o := range log.ops {
		if err := l.Add(o.key, o.value); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Add(log.ops[0].key[:1], nil); err == nil {
		t.Fatal("added a key that is not a partition's")
	}
	if err := dst.NewLoad(4, 0).Add(log.ops[0].key, log.ops[0].value); err == nil {
		t.Fatal("added partition 3's key to partition 4's Load")
	}
	if l.Len() != len(log.ops) || l.Bytes() < 3000*500 {
		t.Fatalf("Len %d, Bytes %d", l.Len(), l.Bytes())
	}
	// The position the caller gives wins over the changelog's.
	if err := l.Commit(&Position{Offset: 7, HWM: 12, ChangelogEnd: 40}); err != nil {
		t.Fatal(err)
	}
	l.Close() // no-op
	check := func(s *Store) {
		t.Helper()
		if pos, ok, err := s.Position(3); err != nil || !ok || pos != (Position{Offset: 7, HWM: 12, ChangelogEnd: 40}) {
			t.Fatalf("position %+v %v %v", pos, ok, err)
		}
		if h, _ := s.History(3, "bot", "c1", nil); len(h) != 2 || h[1].Attempt != "a3" {
			t.Fatalf("history c1: %v", h)
		}
		for _, c := range []string{"c2", "stale"} {
			if h, _ := s.History(3, "bot", c, nil); len(h) != 0 {
				t.Fatalf("history %s: %v", c, h)
			}
		}
		if v, _, ok, _ := s.Verdict(3, "a1", nil); !ok || string(v) != "v1" {
			t.Fatalf("verdict a1: %q %v", v, ok)
		}
		n := 0
		if err := s.EachVerdictID(3, func([]byte) error { n++; return nil }); err != nil || n != 3001 {
			t.Fatalf("%d verdicts, %v", n, err)
		}
		if h, _ := s.History(4, "bot", "c1", nil); len(h) != 1 {
			t.Fatalf("partition 4 history: %v", h)
		}
		if pos, ok, _ := s.Position(4); !ok || pos.Offset != 3 {
			t.Fatalf("partition 4 position %+v %v", pos, ok)
		}
	}
	check(dst)
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	if dst, err = Open("b", Options{FS: fs}); err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	check(dst)
	if ls, _ := fs.List("b"); len(ls) == 0 {
		t.Fatal("no files")
	} else {
		for _, f := range ls {
			if f == "restore-3.sst" {
				t.Fatal("the Load's sstable was left behind")
			}
		}
	}

	// A Load without a position nor live keys empties the partition.
	l = dst.NewLoad(3, 0)
	if err := l.Add(appendHistoryKey(nil, 3, "bot", "c1"), nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Commit(nil); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := dst.Position(3); ok {
		t.Fatal("position kept")
	}
	if h, _ := dst.History(3, "bot", "c1", nil); len(h) != 0 {
		t.Fatalf("history c1 kept: %v", h)
	}
}

// A Batch committed with Apply stays usable, and every Apply is a commit
// of what was added since the last.
func TestBatchApply(t *testing.T) {
	s := openMem(t)
	b := s.NewBatchSize(1 << 10)
	defer b.Close()
	for i := range 3 {
		b.PutHistory(1, "bot", fmt.Sprint("c", i), []quota.Send{{At: int64(i), Agent: "a", Attempt: fmt.Sprint("x", i)}}, 100)
		if b.Len() != 1 {
			t.Fatalf("Len %d after Apply", b.Len())
		}
		if err := b.Apply(i == 2); err != nil {
			t.Fatal(err)
		}
		if h, _ := s.History(1, "bot", fmt.Sprint("c", i), nil); len(h) != 1 {
			t.Fatalf("history c%d: %v", i, h)
		}
	}
	b.PutPosition(1, Position{Offset: 9})
	commit(t, b)
	if pos, ok, _ := s.Position(1); !ok || pos.Offset != 9 {
		t.Fatalf("position %+v %v", pos, ok)
	}
}
