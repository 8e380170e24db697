package state

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/sendgate/sendgate/quota"
)

// TestSweep runs testdata/expire. Commands (each commits its own batch):
//
//	put-history p=P bot=B contact=C expire=T   input: one "at agent attempt" per line; none deletes
//	put-verdict p=P id=A expire=T              input: the verdict bytes
//	put-position p=P offset=O hwm=T
//	sweep p=P now=T max=N [cursor=next]        prints the counts, the earliest expiry kept and the returned cursor; cursor=next
//	                                           continues from the cursor the previous sweep of P
//	                                           returned, none starts from the partition's first entry
//	history p=P bot=B contact=C
//	dump                                       every key of the database
//	reset                                      start over with an empty store
//
// Regenerate after an intended change with go test ./state -run TestSweep -rewrite.
func TestSweep(t *testing.T) {
	s := openMem(t)
	cursors := map[int32][]byte{}
	datadriven.RunTest(t, "testdata/expire", func(t *testing.T, td *datadriven.TestData) string {
		if td.Cmd == "reset" {
			s = openMem(t)
			clear(cursors)
			return ""
		}
		return runSweepCmd(t, s, cursors, td)
	})
}

func runSweepCmd(t *testing.T, s *Store, cursors map[int32][]byte, td *datadriven.TestData) string {
	arg := func(key string) string {
		var v string
		td.ScanArgs(t, key, &v)
		return v
	}
	num := func(key string) int64 {
		n, err := strconv.ParseInt(arg(key), 10, 64)
		if err != nil {
			td.Fatalf(t, "%s: %v", key, err)
		}
		return n
	}
	switch td.Cmd {
	case "put-history":
		var sends []quota.Send
		for _, line := range strings.Split(strings.TrimSpace(td.Input), "\n") {
			if line == "" {
				continue
			}
			var s quota.Send
			if _, err := fmt.Sscan(line, &s.At, &s.Agent, &s.Attempt); err != nil {
				td.Fatalf(t, "%q: %v", line, err)
			}
			sends = append(sends, s)
		}
		b := s.NewBatch()
		b.PutHistory(int32(num("p")), arg("bot"), arg("contact"), sends, num("expire"))
		commit(t, b)
		return ""
	case "put-verdict":
		b := s.NewBatch()
		b.PutVerdict(int32(num("p")), arg("id"), []byte(td.Input), num("expire"))
		commit(t, b)
		return ""
	case "put-position":
		b := s.NewBatch()
		b.PutPosition(int32(num("p")), Position{Offset: num("offset"), HWM: num("hwm")})
		commit(t, b)
		return ""
	case "sweep":
		p := int32(num("p"))
		var cursor []byte
		if td.HasArg("cursor") {
			if c := arg("cursor"); c != "next" {
				td.Fatalf(t, "cursor=%s: only cursor=next is known", c)
			}
			cursor = cursors[p]
		}
		b := s.NewBatch()
		sw, err := b.Sweep(p, num("now"), cursor, int(num("max")))
		next, h, v := sw.Next, sw.Histories, sw.Verdicts
		if err != nil {
			b.Close()
			return err.Error()
		}
		commit(t, b)
		cursors[p] = next
		earliest := "none"
		if sw.Earliest != math.MaxInt64 {
			earliest = strconv.FormatInt(sw.Earliest, 10)
		}
		return fmt.Sprintf("histories=%d verdicts=%d earliest=%s next=%s", h, v, earliest, formatCursor(next))
	case "history":
		sends, err := s.History(int32(num("p")), arg("bot"), arg("contact"), nil)
		if err != nil {
			return err.Error()
		}
		return fmt.Sprint(sends)
	case "dump":
		return dump(t, s)
	}
	td.Fatalf(t, "unknown command %q", td.Cmd)
	return ""
}

// formatCursor describes a cursor returned by Sweep.
func formatCursor(k []byte) string {
	if k == nil {
		return "nil"
	}
	if len(k) > partitionPrefixLen && k[0] == kindPartition {
		p, _ := keyPartition(k)
		switch k[partitionPrefixLen] {
		case subHistory:
			bot, rest, _ := readID(k[primaryHeaderLen:])
			contact, _, _ := readID(rest)
			return fmt.Sprintf("p%d history %q %q", p, bot, contact)
		case subVerdict:
			id, _, _ := readID(k[primaryHeaderLen:])
			return fmt.Sprintf("p%d verdict %q", p, id)
		}
	}
	return fmt.Sprintf("%x", k)
}
