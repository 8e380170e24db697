package pipeline

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestPlaceStandbys runs testdata/standby: which members keep a standby
// copy of which partitions, for group shapes that matter.
func TestPlaceStandbys(t *testing.T) {
	runData(t, "testdata/standby", map[string]dataCmd{
		"place": func(t *testing.T, td *datadriven.TestData) string {
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
					p, e := partitionOffset(t, td, f)
					if copies[name] == nil {
						copies[name] = map[int]localCopy{}
					}
					copies[name][p] = localCopy{ChangelogEnd: e}
				}
				for _, f := range strings.Fields(list) {
					p := int(atoi(t, td, f))
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
		},
	})
}
