package pipeline

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestPlaceStandbys runs testdata/standby: which members keep a standby
// copy of which partitions, for group shapes that matter.
func TestPlaceStandbys(t *testing.T) {
	datadriven.RunTest(t, "testdata/standby", func(t *testing.T, td *datadriven.TestData) string {
		switch td.Cmd {
		case "place":
			var replicas int
			td.ScanArgs(t, "replicas", &replicas)
			var members []string
			owner := map[int]string{}
			var partitions []int
			owns := map[string][]int{}
			copies := map[string]map[int]localCopy{}
			for _, line := range strings.Split(strings.TrimSpace(td.Input), "\n") {
				name, list, ok := strings.Cut(line, ":")
				if !ok {
					td.Fatalf(t, "%q: want member: partitions", line)
				}
				name = strings.TrimSpace(name)
				list, warm, _ := strings.Cut(list, "|")
				for _, f := range strings.Fields(strings.TrimPrefix(strings.TrimSpace(warm), "copies")) {
					ps, end, ok := strings.Cut(f, "=")
					p, err1 := strconv.Atoi(ps)
					e, err2 := strconv.ParseInt(end, 10, 64)
					if !ok || err1 != nil || err2 != nil {
						td.Fatalf(t, "%q: want partition=changelog-offset", f)
					}
					if copies[name] == nil {
						copies[name] = map[int]localCopy{}
					}
					copies[name][p] = localCopy{ChangelogEnd: e}
				}
				for _, f := range strings.Fields(list) {
					p, err := strconv.Atoi(f)
					if err != nil {
						td.Fatalf(t, "%q: %v", line, err)
					}
					partitions = append(partitions, p)
					if name == "-" { // a partition nobody owns
						continue
					}
					owner[p] = name
					owns[name] = append(owns[name], p)
				}
				if name != "-" {
					members = append(members, name)
				}
			}
			got := placeStandbys(members, owner, partitions, replicas, copies)
			slices.Sort(members)
			var b strings.Builder
			for _, m := range members {
				fmt.Fprintf(&b, "%s: owns %s; standby %s\n", m, ints(owns[m]), ints(got[m]))
			}
			return b.String()
		}
		td.Fatalf(t, "unknown command %s", td.Cmd)
		return ""
	})
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
