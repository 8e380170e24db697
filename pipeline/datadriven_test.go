package pipeline

import (
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// What the data-driven tests (testdata/assign, idempotency, resume,
// standby) share: running a file's commands, reading numbers and
// partition=offset pairs, printing partition lists.

// dataCmd runs one command of a data-driven test and returns its output.
type dataCmd func(t *testing.T, td *datadriven.TestData) string

// runData runs the data-driven test file path, each command with its
// function in cmds; an unknown command fails the test.
func runData(t *testing.T, path string, cmds map[string]dataCmd) {
	datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
		cmd, ok := cmds[td.Cmd]
		if !ok {
			td.Fatalf(t, "unknown command %s", td.Cmd)
		}
		return cmd(t, td)
	})
}

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
