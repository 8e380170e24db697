package state

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/sendgate/sendgate/quota"
)

// TestExpire runs testdata/expire. Commands (each commits its own batch):
//
//	put-history p=P bot=B contact=C expire=T   input: one "at agent attempt" per line; none deletes
//	put-verdict p=P id=A expire=T              input: the verdict bytes
//	expire p=P now=T max=N                     prints the counts
//	history p=P bot=B contact=C
//	dump                                       every key of the database
//	reset                                      start over with an empty store
//
// Regenerate after an intended change with go test ./state -run TestExpire -rewrite.
func TestExpire(t *testing.T) {
	s := openMem(t)
	datadriven.RunTest(t, "testdata/expire", func(t *testing.T, td *datadriven.TestData) string {
		if td.Cmd == "reset" {
			s = openMem(t)
			return ""
		}
		return runExpireCmd(t, s, td)
	})
}

func runExpireCmd(t *testing.T, s *Store, td *datadriven.TestData) string {
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
	case "expire":
		b := s.NewBatch()
		h, v, err := b.Expire(int32(num("p")), num("now"), int(num("max")))
		if err != nil {
			b.Close()
			return err.Error()
		}
		commit(t, b)
		return fmt.Sprintf("histories=%d verdicts=%d", h, v)
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
