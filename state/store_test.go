package state

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/sendgate/sendgate/quota"
)

// openMem opens a store on a fresh in-memory file system.
func openMem(t testing.TB) *Store {
	t.Helper()
	s, err := Open("db", Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func commit(t testing.TB, b *Batch) {
	t.Helper()
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
}

// dump lists every key of the database, decoded, one per line.
func dump(t testing.TB, s *Store) string {
	t.Helper()
	var sb strings.Builder
	err := s.scan(nil, []byte{0xff}, func(k, v []byte) error {
		sb.WriteString(formatKV(k, v))
		sb.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sb.Len() == 0 {
		return "(empty)\n"
	}
	return sb.String()
}

func formatKV(k, v []byte) string {
	switch k[0] {
	case kindPartition:
		p, _ := keyPartition(k)
		sub := k[partitionPrefixLen]
		switch sub {
		case subPosition:
			pos, err := decodePosition(v)
			return fmt.Sprintf("p%d position offset=%d hwm=%d%s", p, pos.Offset, pos.HWM, errSuffix(err))
		case subHistory:
			bot, rest, _ := readID(k[primaryHeaderLen:])
			contact, _, _ := readID(rest)
			exp, _, _ := decodeHeader(v)
			sends, err := decodeHistory(nil, v)
			var parts []string
			for _, s := range sends {
				parts = append(parts, fmt.Sprintf("%d/%s/%s", s.At, s.Agent, s.Attempt))
			}
			return fmt.Sprintf("p%d history %q %q exp=%d [%s]%s", p, bot, contact, exp, strings.Join(parts, " "), errSuffix(err))
		case subVerdict:
			id, _, _ := readID(k[primaryHeaderLen:])
			exp, body, err := decodeHeader(v)
			return fmt.Sprintf("p%d verdict %q exp=%d %q%s", p, id, exp, v[body:], errSuffix(err))
		}
	case kindSettings:
		bot, _, _ := readID(k[1:])
		bs, err := decodeSettings(v)
		return fmt.Sprintf("settings %q %+v%s", bot, bs, errSuffix(err))
	case kindSettingsOffset:
		p, _ := keyPartition(k)
		next, err := decodeOffset(v)
		return fmt.Sprintf("settings-offset p%d next=%d%s", p, next, errSuffix(err))
	}
	return fmt.Sprintf("unknown %x = %x", k, v)
}

func errSuffix(err error) string {
	if err != nil {
		return " ERROR: " + err.Error()
	}
	return ""
}

// odd ids: NUL bytes, 256 bytes, empty, and pairs that would collide under a
// separator encoding.
var oddIDs = []string{
	"", "a", "a\x00b", "\x00", "\x00\x00", "bot/contact",
	strings.Repeat("\xff", 256), strings.Repeat("\x00", 256), strings.Repeat("é", 128),
}

// fixture is one of every record kind, for round-trip and reopen tests.
type fixture struct {
	histories map[[3]string][]quota.Send // partition, bot, contact
	verdicts  map[[2]string][]byte       // partition, attempt
	positions map[int32]Position
	settings  map[string]BotSettings
	offsets   map[int32]int64
}

func makeFixture() fixture {
	f := fixture{
		histories: map[[3]string][]quota.Send{},
		verdicts:  map[[2]string][]byte{},
		positions: map[int32]Position{0: {Offset: 17, HWM: 1_795_000_000_000}, 3: {Offset: 1 << 40, HWM: 5}, 2147483647: {}},
		settings: map[string]BotSettings{
			"support@bots": {Settings: quota.Settings{Version: 42, Enabled: true, Max: 3, WindowMs: 86_400_000, Scope: quota.ScopeContact}, Floor: 42},
			"deleted":      {Settings: quota.Disabled(), Floor: 9},
		},
		offsets: map[int32]int64{0: 5, 1: 0, 7: 1 << 50},
	}
	for i, bot := range oddIDs {
		f.settings[bot+"#settings"] = BotSettings{Settings: quota.Settings{Version: int64(i + 1), Enabled: i%2 == 0, Max: i + 1, WindowMs: 60_000, Scope: quota.ScopeAgentContact}, Floor: int64(i + 1)}
		for j, contact := range oddIDs {
			p := int32((i + j) % 3)
			sends := []quota.Send{
				{At: 1000, Agent: contact, Attempt: bot + contact},
				{At: 1000 + int64(i), Agent: bot, Attempt: fmt.Sprintf("%d-%d", i, j)},
				{At: 5000, Agent: bot, Attempt: ""},
			}
			f.histories[[3]string{fmt.Sprint(p), bot, contact}] = sends[:1+(i+j)%3]
			v := []byte(fmt.Sprintf(`{"verdict":%q}`, bot+contact))
			if j == 0 {
				v = []byte{} // an empty verdict is still a verdict
			}
			f.verdicts[[2]string{fmt.Sprint(p), bot + "\x00" + contact}] = v
		}
	}
	return f
}

func atoi32(s string) int32 {
	var p int32
	fmt.Sscan(s, &p)
	return p
}

func (f fixture) write(t testing.TB, s *Store) {
	b := s.NewBatch()
	for k, sends := range f.histories {
		b.PutHistory(atoi32(k[0]), k[1], k[2], sends, 1_000_000)
	}
	for k, v := range f.verdicts {
		b.PutVerdict(atoi32(k[0]), k[1], v, 1_000_000)
	}
	for p, pos := range f.positions {
		b.PutPosition(p, pos)
	}
	for bot, bs := range f.settings {
		b.PutSettings(bot, bs)
	}
	for p, next := range f.offsets {
		b.PutSettingsOffset(p, next)
	}
	commit(t, b)
}

func (f fixture) check(t testing.TB, s *Store) {
	t.Helper()
	var dst []quota.Send
	for k, want := range f.histories {
		got, err := s.History(atoi32(k[0]), k[1], k[2], dst)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("History%q = %v, %v; want %v", k, got, err, want)
		}
		dst = got
	}
	var vb []byte
	for k, want := range f.verdicts {
		got, _, ok, err := s.Verdict(atoi32(k[0]), k[1], vb)
		if err != nil || !ok || !bytes.Equal(got, want) {
			t.Errorf("Verdict%q = %q, %v, %v; want %q", k, got, ok, err, want)
		}
		vb = got
	}
	for p, want := range f.positions {
		got, ok, err := s.Position(p)
		if err != nil || !ok || got != want {
			t.Errorf("Position(%d) = %v, %v, %v; want %v", p, got, ok, err, want)
		}
	}
	settings := map[string]BotSettings{}
	if err := s.EachSettings(func(bot string, bs BotSettings) error {
		settings[bot] = bs
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(settings, f.settings) {
		t.Errorf("EachSettings = %v\nwant %v", settings, f.settings)
	}
	offsets, err := s.SettingsOffsets()
	if err != nil || !reflect.DeepEqual(offsets, f.offsets) {
		t.Errorf("SettingsOffsets = %v, %v; want %v", offsets, err, f.offsets)
	}
	ps, err := s.Partitions()
	if want := []int32{0, 1, 2, 3, 2147483647}; err != nil || !reflect.DeepEqual(ps, want) {
		t.Errorf("Partitions = %v, %v; want %v", ps, err, want)
	}
}

func TestRoundTrip(t *testing.T) {
	s := openMem(t)
	f := makeFixture()
	f.write(t, s)
	f.check(t, s)

	// Absent records.
	if h, err := s.History(0, "nobody", "none", nil); err != nil || h != nil {
		t.Errorf("History(absent, nil) = %v, %v; want nil", h, err)
	}
	buf := make([]quota.Send, 3, 8)
	if h, err := s.History(0, "nobody", "none", buf); err != nil || len(h) != 0 || cap(h) != 8 {
		t.Errorf("History(absent, buf) = %v (cap %d), %v; want empty buf", h, cap(h), err)
	}
	if v, _, ok, err := s.Verdict(0, "nope", []byte("junk")); err != nil || ok || len(v) != 0 {
		t.Errorf("Verdict(absent) = %q, %v, %v", v, ok, err)
	}
	if _, ok, err := s.Position(99); err != nil || ok {
		t.Errorf("Position(absent) = %v, %v", ok, err)
	}

	// Empty sends deletes the history.
	b := s.NewBatch()
	b.PutHistory(0, "", "", nil, 5)
	commit(t, b)
	if h, err := s.History(0, "", "", nil); err != nil || len(h) != 0 {
		t.Errorf("History after empty put = %v, %v", h, err)
	}
}

func TestHistoryDoesNotAlias(t *testing.T) {
	s := openMem(t)
	sends := []quota.Send{{At: 1, Agent: "ana", Attempt: "att-1"}, {At: 2, Agent: "ana", Attempt: "att-2"}}
	b := s.NewBatch()
	b.PutHistory(0, "b", "c", sends, 10)
	commit(t, b)
	got, err := s.History(0, "b", "c", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Overwrite, flush and compact so that the memory the value came from
	// is reused or freed.
	for i := range 100 {
		b := s.NewBatch()
		b.PutHistory(0, "b", "c", []quota.Send{{At: 9, Agent: "XXX", Attempt: fmt.Sprintf("YYYYY%d", i)}}, 10)
		commit(t, b)
	}
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Compact(t.Context(), []byte{0}, []byte{0xff}, true); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sends) {
		t.Errorf("history changed under the caller: %v", got)
	}
}

func TestBatchIsAtomic(t *testing.T) {
	s := openMem(t)
	f := makeFixture()
	b := s.NewBatch()
	for k, v := range f.verdicts {
		b.PutVerdict(atoi32(k[0]), k[1], v, 100)
	}
	b.PutPosition(0, Position{Offset: 9, HWM: 9})
	b.PutSettings("bot", BotSettings{Floor: 3})
	b.PutSettingsOffset(0, 4)
	if got, want := b.Len(), len(f.verdicts)+3; got != want {
		t.Errorf("Len = %d, want %d", got, want)
	}
	if got := dump(t, s); got != "(empty)\n" {
		t.Fatalf("visible before Commit:\n%s", got)
	}
	commit(t, b)
	if err := b.Close(); err != nil {
		t.Errorf("Close after Commit: %v", err)
	}
	for k, want := range f.verdicts {
		if got, _, ok, err := s.Verdict(atoi32(k[0]), k[1], nil); !ok || err != nil || !bytes.Equal(got, want) {
			t.Errorf("Verdict%q after Commit = %q, %v, %v", k, got, ok, err)
		}
	}
	if pos, ok, _ := s.Position(0); !ok || pos.Offset != 9 {
		t.Errorf("Position after Commit = %v, %v", pos, ok)
	}

	// A closed batch writes nothing.
	b = s.NewBatch()
	b.PutPosition(0, Position{Offset: 100})
	b.PutSettingsOffset(0, 100)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if pos, _, _ := s.Position(0); pos.Offset != 9 {
		t.Errorf("closed batch was applied: %v", pos)
	}
	func() {
		defer func() {
			if r := recover(); r == nil {
				t.Error("Put after Close did not panic")
			}
		}()
		b.PutPosition(0, Position{})
	}()
	if err := s.NewBatch().Commit(); err != nil {
		t.Errorf("empty Commit: %v", err)
	}
}

func TestReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "state")
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := makeFixture()
	f.write(t, s)

	// A second open of a held directory fails clearly.
	if s2, err := Open(dir, Options{}); err == nil {
		s2.Close()
		t.Fatal("second Open succeeded")
	} else if !strings.Contains(err.Error(), "locked") || !strings.HasPrefix(err.Error(), "state: ") {
		t.Errorf("second Open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v", err)
	}
	if _, _, err := s.Position(0); !errors.Is(err, ErrClosed) {
		t.Errorf("Position after Close = %v", err)
	}

	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f.check(t, s)
}

func TestDropPartition(t *testing.T) {
	s := openMem(t)
	f := makeFixture()
	f.write(t, s)
	count := func() map[string]int {
		m := map[string]int{}
		_ = s.scan(nil, []byte{0xff}, func(k, _ []byte) error {
			if k[0] == kindPartition {
				p, _ := keyPartition(k)
				m[fmt.Sprintf("p%d", p)]++
			} else {
				m[fmt.Sprintf("kind%d", k[0])]++
			}
			return nil
		})
		return m
	}
	before := count()
	if err := s.DropPartition(1); err != nil {
		t.Fatal(err)
	}
	after := count()
	if after["p1"] != 0 {
		t.Errorf("p1 has %d keys after drop", after["p1"])
	}
	delete(before, "p1")
	if !reflect.DeepEqual(before, after) {
		t.Errorf("other keys changed: before %v, after %v", before, after)
	}
	ps, err := s.Partitions()
	if want := []int32{0, 2, 3, 2147483647}; err != nil || !reflect.DeepEqual(ps, want) {
		t.Errorf("Partitions = %v, %v; want %v", ps, err, want)
	}
	if err := s.DropPartition(2147483647); err != nil {
		t.Fatal(err)
	}
	if ps, _ := s.Partitions(); !reflect.DeepEqual(ps, []int32{0, 2, 3}) {
		t.Errorf("Partitions = %v", ps)
	}
	if n := count()["kind2"]; n != len(f.settings) {
		t.Errorf("settings: %d keys, want %d", n, len(f.settings))
	}
}

func TestEachSettingsCallbackError(t *testing.T) {
	s := openMem(t)
	b := s.NewBatch()
	b.PutSettings("a", BotSettings{})
	b.PutSettings("b", BotSettings{})
	commit(t, b)
	stop := errors.New("stop")
	n := 0
	err := s.EachSettings(func(string, BotSettings) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("EachSettings = %v after %d calls; want the callback's error after 1", err, n)
	}
}

// idleContact plays a contact's life in partition 0 with window w: sends at
// the given times, each rewriting the history and storing a verdict that
// expires with it, as the pipeline does, with a sweep of max entries before
// each, its cursor carried from batch to batch.
func idleContact(t *testing.T, s *Store, w int64, times []int64, max int) {
	t.Helper()
	var sends []quota.Send
	var cursor []byte
	for i, at := range times {
		b := s.NewBatch()
		sw, err := b.Sweep(0, at, cursor, max)
		next := sw.Next
		if err != nil {
			t.Fatal(err)
		}
		cursor = next
		kept := sends[:0]
		for _, s := range sends {
			if s.At+w > at {
				kept = append(kept, s)
			}
		}
		id := fmt.Sprintf("att-%d", i)
		sends = append(kept, quota.Send{At: at, Agent: "ana", Attempt: id})
		b.PutHistory(0, "bot", "contact", sends, at+w)
		b.PutVerdict(0, id, []byte("allowed"), at+w)
		b.PutPosition(0, Position{Offset: int64(i + 1), HWM: at})
		commit(t, b)
	}
}

// sweepPass sweeps partition p at now from its first entry to its end, max
// entries per committed batch, and returns the totals and the number of
// calls.
func sweepPass(t *testing.T, s *Store, p int32, now int64, max int) (histories, verdicts, calls int) {
	t.Helper()
	var cursor []byte
	for {
		b := s.NewBatch()
		sw, err := b.Sweep(p, now, cursor, max)
		next, h, v := sw.Next, sw.Histories, sw.Verdicts
		if err != nil {
			b.Close()
			t.Fatal(err)
		}
		commit(t, b)
		histories, verdicts, calls = histories+h, verdicts+v, calls+1
		if next == nil {
			return histories, verdicts, calls
		}
		if calls > 1000 {
			t.Fatal("sweep does not reach the end")
		}
		cursor = next
	}
}

func TestSweepLeavesNothing(t *testing.T) {
	for _, max := range []int{1, 2, 100} {
		t.Run(fmt.Sprintf("max=%d", max), func(t *testing.T) {
			s := openMem(t)
			const w = 1000
			times := []int64{0, 100, 900, 1500, 1600, 2400}
			idleContact(t, s, w, times, max)
			last := times[len(times)-1]

			left := 0
			if err := s.EachVerdictID(0, func([]byte) error { left++; return nil }); err != nil {
				t.Fatal(err)
			}
			h, v, _ := sweepPass(t, s, 0, last+w-1, max)
			if h != 0 || v >= left {
				t.Fatalf("sweep one ms early deleted %d histories, %d of %d verdicts; want no history, the last verdict kept", h, v, left)
			}
			if got, _ := s.History(0, "bot", "contact", nil); len(got) == 0 {
				t.Fatal("history deleted before its expiry")
			}
			if _, _, ok, _ := s.Verdict(0, fmt.Sprintf("att-%d", len(times)-1), nil); !ok {
				t.Fatal("last verdict deleted before its expiry")
			}
			left -= v

			h, v, calls := sweepPass(t, s, 0, last+w, max)
			if h != 1 || v != left {
				t.Fatalf("sweep at expiry deleted %d histories, %d verdicts; want 1, %d", h, v, left)
			}
			if want := (left + max) / max; calls != want {
				t.Errorf("sweep took %d calls of %d entries over %d entries; want %d", calls, max, 1+left, want)
			}
			want := fmt.Sprintf("p0 position offset=%d hwm=%d\n", len(times), last)
			if got := dump(t, s); got != want {
				t.Errorf("state left behind:\n%swant only\n%s", got, want)
			}
		})
	}
}

func TestSweepAfterPut(t *testing.T) {
	s := openMem(t)
	b := s.NewBatch()
	defer b.Close()
	b.PutPosition(0, Position{})
	if _, err := b.Sweep(0, 1, nil, 1); err != nil {
		t.Errorf("Sweep after PutPosition: %v", err)
	}
	b.PutVerdict(1, "a", nil, 5)
	cursor := appendVerdictKey(nil, 1, "b")
	if sw, err := b.Sweep(1, 1, cursor, 1); err == nil || !strings.HasPrefix(err.Error(), "state: partition 1:") || &sw.Next[0] != &cursor[0] {
		t.Errorf("Sweep after PutVerdict of the same partition = %x, %v; want the cursor back and an error", sw.Next, err)
	}
	if _, err := b.Sweep(2, 1, nil, 1); err != nil {
		t.Errorf("Sweep of another partition: %v", err)
	}
	if n := b.Len(); n != 2 {
		t.Errorf("Len = %d, want 2 (the Puts only)", n)
	}
}

// TestSweepCursor checks the cursor's contract: a copy that stays valid
// across batches and writes, even when its key is deleted, and that starts
// over when it is not one of the partition's entries.
func TestSweepCursor(t *testing.T) {
	s := openMem(t)
	b := s.NewBatch()
	b.PutPosition(1, Position{Offset: 1})
	b.PutPosition(2, Position{Offset: 1})
	for _, id := range []string{"a", "b", "c", "d"} {
		b.PutVerdict(1, id, []byte("v"), 100)
		b.PutVerdict(2, id, []byte("v"), 100)
	}
	commit(t, b)

	sweep := func(cursor []byte, now int64, max int) ([]byte, int) {
		t.Helper()
		b := s.NewBatch()
		sw, err := b.Sweep(1, now, cursor, max)
		next, h, v := sw.Next, sw.Histories, sw.Verdicts
		if err != nil || h != 0 {
			t.Fatalf("Sweep = %d, %d, %v", h, v, err)
		}
		commit(t, b)
		return next, v
	}
	next, _ := sweep(nil, 0, 2)
	if want := appendVerdictKey(nil, 1, "c"); !bytes.Equal(next, want) {
		t.Fatalf("cursor after 2 entries = %s, want %s", formatCursor(next), formatCursor(want))
	}
	kept := bytes.Clone(next)
	// Another sweep reuses the batch's scratch; the cursor is the caller's.
	sweep(nil, 0, 1)
	if !bytes.Equal(next, kept) {
		t.Fatalf("cursor changed under the caller: %x", next)
	}

	// The cursor's own key is deleted: a sweep from it goes on after it.
	b = s.NewBatch()
	b.PutVerdict(1, "c", []byte("v"), 5)
	commit(t, b)
	if n, v := sweep(next, 5, 1); v != 1 || !bytes.Equal(n, appendVerdictKey(nil, 1, "d")) {
		t.Fatalf("expired verdict at the cursor: %d deleted, next %s", v, formatCursor(n))
	}
	if n, v := sweep(next, 5, 1); v != 0 || n != nil {
		t.Fatalf("from a deleted key: %d deleted, next = %s; want the last entry examined, nil", v, formatCursor(n))
	}

	// Cursors that are not partition 1's entries start over.
	for _, c := range [][]byte{
		{}, {0x00}, appendPositionKey(nil, 1), appendVerdictKey(nil, 0, "z"),
		appendVerdictKey(nil, 2, "a"), appendSweepEnd(nil, 1), {0xff},
	} {
		next, v := sweep(c, 0, 1)
		if v != 0 || !bytes.Equal(next, appendVerdictKey(nil, 1, "b")) {
			t.Errorf("Sweep from %x: next = %s; want from the first entry", c, formatCursor(next))
		}
	}
	if next, v := sweep(nil, 1000, 10); next != nil || v != 3 {
		t.Errorf("Sweep of everything = %s, %d; want nil, 3", formatCursor(next), v)
	}
	// max <= 0 examines nothing and hands the cursor back.
	c := appendVerdictKey(nil, 2, "b")
	b = s.NewBatch()
	defer b.Close()
	for _, max := range []int{0, -1} {
		if sw, err := b.Sweep(2, 1000, c, max); err != nil || sw.Histories+sw.Verdicts != 0 || &sw.Next[0] != &c[0] {
			t.Errorf("Sweep max=%d = %x, %d, %d, %v", max, sw.Next, sw.Histories, sw.Verdicts, err)
		}
	}
	if b.Len() != 0 {
		t.Errorf("Sweep max<=0 added %d ops", b.Len())
	}
	if ps, _ := s.Partitions(); !slices.Equal(ps, []int32{1, 2}) {
		t.Errorf("Partitions = %v", ps)
	}
	if pos, ok, _ := s.Position(1); !ok || pos.Offset != 1 {
		t.Errorf("sweep touched the position: %v, %v", pos, ok)
	}
}

// TestSweepAllocs checks that Sweep's cost does not grow with the entries it
// examines: no allocation per entry, one for the returned cursor.
func TestSweepAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("Pebble allocates to check invariants under -race")
	}
	s := openMem(t)
	b := s.NewBatch()
	for i := range 2000 {
		b.PutVerdict(1, fmt.Sprintf("att-%06d", i), []byte(`{"verdict":"allowed"}`), 100)
	}
	commit(t, b)
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	b = s.NewBatch()
	defer b.Close()
	for _, tt := range []struct {
		max   int
		wantN float64
	}{{4000, 0}, {1000, 1}} {
		n := testing.AllocsPerRun(20, func() {
			sw, err := b.Sweep(1, 50, nil, tt.max)
			next, v := sw.Next, sw.Verdicts
			if err != nil || v != 0 || (next == nil) != (tt.max > 2000) {
				t.Fatalf("Sweep = %x, %d, %v", next, v, err)
			}
		})
		if n > tt.wantN {
			t.Errorf("Sweep of %d entries: %v allocations, want %v", min(tt.max, 2000), n, tt.wantN)
		}
	}
}

// TestSweepModel runs random puts and sweeps against a model of the
// partition's entries: a sweep deletes only expired entries, at most max of
// them, and a pass from the first entry to the end leaves no entry that
// expired before the pass began and was not rewritten during it.
func TestSweepModel(t *testing.T) {
	s := openMem(t)
	rng := rand.New(rand.NewPCG(7, 8))
	model := map[string]int64{} // key -> expiry, partitions 0 and 1
	key := func(p int32, i int) []byte {
		if i%2 == 0 {
			return appendHistoryKey(nil, p, "bot", strconv.Itoa(i))
		}
		return appendVerdictKey(nil, p, strconv.Itoa(i))
	}
	var cursor []byte
	pass := map[string]bool{} // entries of partition 0 present all along the current pass
	passNow := int64(0)
	now := int64(0)
	for step := range 800 {
		now += rng.Int64N(3)
		b := s.NewBatch()
		max := 1 + rng.IntN(8)
		if cursor == nil {
			// A pass begins: every entry expired by now must be gone at its end.
			clear(pass)
			for k, exp := range model {
				if k[partitionPrefixLen-1] == 0 && exp <= now {
					pass[k] = true
				}
			}
			passNow = now
		}
		sw, err := b.Sweep(0, now, cursor, max)
		next, h, v := sw.Next, sw.Histories, sw.Verdicts
		if err != nil {
			t.Fatal(err)
		}
		if h+v > max {
			t.Fatalf("step %d: %d deletions with max %d", step, h+v, max)
		}
		// A Put after the sweep may override one of its counted deletions.
		overridable := map[string]bool{}
		for range rng.IntN(4) {
			p := int32(rng.IntN(2))
			i := rng.IntN(40)
			k := key(p, i)
			exp := now + rng.Int64N(40) - 5
			if old, ok := model[string(k)]; ok && p == 0 && old <= now {
				overridable[string(k)] = true
			}
			if i%2 == 0 {
				if rng.IntN(5) == 0 {
					b.PutHistory(p, "bot", strconv.Itoa(i), nil, exp)
					delete(model, string(k))
				} else {
					b.PutHistory(p, "bot", strconv.Itoa(i), []quota.Send{{At: now, Agent: "a", Attempt: "x"}}, exp)
					model[string(k)] = exp
				}
			} else {
				b.PutVerdict(p, strconv.Itoa(i), []byte("v"), exp)
				model[string(k)] = exp
			}
			delete(pass, string(k))
		}
		commit(t, b)
		cursor = next

		// Compare the database with the model: every missing entry was
		// expired and was swept (counted).
		got := map[string]int64{}
		if err := s.scan([]byte{kindPartition}, []byte{kindPartition + 1}, func(k, val []byte) error {
			exp, _, err := decodeHeader(val)
			got[string(k)] = exp
			return err
		}); err != nil {
			t.Fatal(err)
		}
		deleted := 0
		for k, exp := range model {
			gexp, ok := got[k]
			switch {
			case ok && gexp != exp:
				t.Fatalf("step %d: %s expires at %d, want %d", step, formatCursor([]byte(k)), gexp, exp)
			case !ok && (k[partitionPrefixLen-1] != 0 || exp > now):
				t.Fatalf("step %d: %s (exp %d) deleted at %d", step, formatCursor([]byte(k)), exp, now)
			case !ok:
				deleted++
				delete(model, k)
			}
		}
		if len(got) != len(model) {
			t.Fatalf("step %d: %d entries, model %d", step, len(got), len(model))
		}
		if h+v < deleted || h+v > deleted+len(overridable) {
			t.Fatalf("step %d: %d entries deleted (%d more overridden by Puts at most), sweep counted %d", step, deleted, len(overridable), h+v)
		}
		if cursor == nil {
			for k := range pass {
				if _, ok := model[k]; ok {
					t.Fatalf("step %d: pass from %d ended, %s (exp %d) left", step, passNow, formatCursor([]byte(k)), model[k])
				}
			}
		}
	}
}

func TestOptions(t *testing.T) {
	var o Options
	o.EnsureDefaults()
	if o.FS != vfs.Default || o.CacheSize != DefaultCacheSize || o.MemTableSize != DefaultMemTableSize || DefaultCacheSize != 32<<20 || DefaultMemTableSize != 16<<20 || o.Logf == nil || o.NoSync {
		t.Errorf("defaults: %+v", o)
	}
	for _, o := range []Options{{CacheSize: -1}, {MemTableSize: 1 << 32}} {
		if err := o.Validate(); err == nil || !strings.HasPrefix(err.Error(), "state: options: ") {
			t.Errorf("Validate(%+v) = %v", o, err)
		}
		if _, err := Open("x", Options{FS: vfs.NewMem(), CacheSize: o.CacheSize, MemTableSize: o.MemTableSize}); err == nil {
			t.Errorf("Open(%+v) succeeded", o)
		}
	}
	var lines []string
	s, err := Open("db", Options{FS: vfs.NewMem(), Logf: func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }})
	if err != nil {
		t.Fatal(err)
	}
	b := s.NewBatch()
	b.PutPosition(0, Position{})
	commit(t, b)
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	if m := s.Metrics(); m == nil || m.Flush.Count == 0 {
		t.Errorf("Metrics = %v", m)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("pebble log lines: %d", len(lines))
}

func TestCorruptValue(t *testing.T) {
	s := openMem(t)
	k := appendHistoryKey(nil, 4, "b", "c")
	if err := s.db.Set(k, []byte{valueVersion, 2, 5}, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	_, err := s.History(4, "b", "c", nil)
	if err == nil || !strings.HasPrefix(err.Error(), `state: partition 4: history bot="b" contact="c": `) {
		t.Errorf("History of a corrupt value: %v", err)
	}
	k2 := appendVerdictKey(nil, 4, "v")
	if err := s.db.Set(k2, []byte{7}, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.Verdict(4, "v", nil); err == nil || !strings.Contains(err.Error(), "unknown value version 7") {
		t.Errorf("Verdict of a corrupt value: %v", err)
	}
	b := s.NewBatch()
	defer b.Close()
	cursor := appendHistoryKey(nil, 4, "a", "")
	sw, err := b.Sweep(4, 10, cursor, 10)
	next, h := sw.Next, sw.Histories
	if err == nil || !strings.HasPrefix(err.Error(), `state: partition 4: sweep: verdict`) || !strings.Contains(err.Error(), "unknown value version 7") {
		t.Errorf("Sweep over a corrupt value: %v", err)
	}
	// The history before it (whose header is sound) is deleted; the cursor
	// is handed back, for a retry from the same place.
	if h != 1 || &next[0] != &cursor[0] {
		t.Errorf("Sweep over a corrupt value = %x, %d; want the cursor back and 1 history", next, h)
	}
}

func TestEachVerdictID(t *testing.T) {
	s, err := Open("mem", Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := s.NewBatch()
	for _, id := range []string{"b", "a", "c\x00d"} {
		b.PutVerdict(3, id, []byte("v"), 100)
	}
	b.PutVerdict(4, "other", []byte("v"), 100)
	b.PutHistory(3, "bot", "contact", []quota.Send{{At: 1, Agent: "x", Attempt: "zz"}}, 100)
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := s.EachVerdictID(3, func(id []byte) error { got = append(got, string(id)); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "c\x00d"}; !slices.Equal(got, want) {
		t.Fatalf("ids %q, want %q", got, want)
	}
}
