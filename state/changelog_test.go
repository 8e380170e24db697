package state

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/sendgate/sendgate/quota"
)

// A partition copied operation by operation through Each and Restore is the
// same partition.
func TestChangelogRoundTrip(t *testing.T) {
	src, err := Open("a", Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := Open("b", Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	log := &changelog{t: t, src: src}
	log.write(func(b *Batch) {
		b.PutHistory(3, "bot", "c1", []quota.Send{{At: 10, Agent: "ana", Attempt: "a1"}}, 100)
		b.PutHistory(3, "bot", "c2", []quota.Send{{At: 11, Agent: "bob", Attempt: "a2"}}, 101)
		b.PutVerdict(3, "a1", []byte("v1"), 100)
		b.PutSettings("bot", BotSettings{Floor: 1}) // global: not in the changelog
	})
	log.write(func(b *Batch) {
		b.PutHistory(3, "bot", "c2", nil, 0) // a deletion
		b.PutPosition(3, Position{Offset: 7, HWM: 11})
	})
	for _, o := range log.ops {
		if o.p != 3 {
			t.Fatalf("op of partition %d", o.p)
		}
	}
	b := dst.NewBatch()
	for _, o := range log.ops {
		if err := b.Restore(3, o.key, o.value); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Restore(4, log.ops[0].key, log.ops[0].value); err == nil {
		t.Fatal("restored partition 3's key into partition 4")
	}
	commit(t, b)
	pos, ok, err := dst.Position(3)
	if err != nil || !ok || pos != (Position{Offset: 7, HWM: 11}) {
		t.Fatalf("position %+v %v %v", pos, ok, err)
	}
	if h, _ := dst.History(3, "bot", "c1", nil); len(h) != 1 || h[0].Attempt != "a1" {
		t.Fatalf("history c1: %v", h)
	}
	if h, _ := dst.History(3, "bot", "c2", nil); len(h) != 0 {
		t.Fatalf("deleted history c2 restored: %v", h)
	}
	if v, _, ok, _ := dst.Verdict(3, "a1", nil); !ok || string(v) != "v1" {
		t.Fatalf("verdict: %q %v", v, ok)
	}
	n := 0
	_ = dst.EachSettings(func(string, BotSettings) error { n++; return nil })
	if n != 0 {
		t.Fatal("settings went through the changelog")
	}
}

// changelogOp is one state operation of a committed batch, as the changelog
// carries it (a nil value deletes the key).
type changelogOp struct {
	p          int32
	key, value []byte
}

// changelog collects the operations of the batches committed to src, in
// order, as the changelog would carry them.
type changelog struct {
	t   *testing.T
	src *Store
	ops []changelogOp
}

// write fills a batch of src, commits it and appends its operations
// (Batch.Each), copied.
func (c *changelog) write(fill func(b *Batch)) {
	c.t.Helper()
	b := c.src.NewBatch()
	fill(b)
	if err := b.Each(func(p int32, k, v []byte) error {
		o := changelogOp{p: p, key: append([]byte(nil), k...)}
		if v != nil {
			o.value = append([]byte{}, v...)
		}
		c.ops = append(c.ops, o)
		return nil
	}); err != nil {
		c.t.Fatal(err)
	}
	commit(c.t, b)
}
