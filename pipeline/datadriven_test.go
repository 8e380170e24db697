package pipeline

import (
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// What the data-driven tests (testdata/assign, resume, standby) share:
// reading numbers and partition=offset pairs, printing partition lists.

func atoi(t *testing.T, td *datadriven.TestData, s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		td.Fatalf(t, "%q: %v", s, err)
	}
	return n
}

// partitionOffset reads f, "P=E": partition P, changelog offset E.
func partitionOffset(t *testing.T, td *datadriven.TestData, f string) (int, int64) {
	ps, end, ok := strings.Cut(f, "=")
	p, err1 := strconv.Atoi(ps)
	e, err2 := strconv.ParseInt(end, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		td.Fatalf(t, "%q: want partition=changelog-offset", f)
	}
	return p, e
}

func ints(ps []int) string {
	if len(ps) == 0 {
		return "-"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, " ")
}
