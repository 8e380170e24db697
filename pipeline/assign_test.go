package pipeline

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/segmentio/kafka-go"
)

// TestAssign runs testdata/assign: the group's assignment through the
// sticky balancer (each member's user data encoded, then decoded by the
// leader), for the group shapes that matter.
//
//	assign partitions=N
//	A: 0=120* 1=118 ...   member A, its copy of partition 0 at changelog
//	                      offset 120, owned (*), of 1 at 118
//	B: old                a member of an earlier version: its address alone
//	C:                    a member without local state
//
// It prints, per member, what it gets and how: kept (it owned it), from a
// copy (the changelog offset of its copy / of the best copy any member
// reported), or without one (a restore from the changelog's start).
// "range partitions=N" with member names prints kafka-go's range balancer.
func TestAssign(t *testing.T) {
	const topic = "attempts"
	datadriven.RunTest(t, "testdata/assign", func(t *testing.T, td *datadriven.TestData) string {
		var n int
		td.ScanArgs(t, "partitions", &n)
		var partitions []kafka.Partition
		for p := range n {
			partitions = append(partitions, kafka.Partition{Topic: topic, ID: p})
		}
		var members []kafka.GroupMember
		copies := map[string]map[int]localCopy{}
		best := map[int]int64{}
		for _, line := range strings.Split(strings.TrimSpace(td.Input), "\n") {
			name, list, ok := strings.Cut(line, ":")
			if !ok {
				td.Fatalf(t, "%q: want member: copies", line)
			}
			name = strings.TrimSpace(name)
			d := memberData{Addr: name + ":8080", Copies: map[int]localCopy{}}
			ud := []byte(nil)
			for _, f := range strings.Fields(list) {
				if f == "old" {
					ud = []byte(d.Addr)
					continue
				}
				p, e := partitionOffset(t, td, strings.TrimSuffix(f, "*"))
				d.Copies[p] = localCopy{ChangelogEnd: e, Owned: strings.HasSuffix(f, "*")}
				best[p] = max(best[p], e)
			}
			if ud == nil {
				ud = d.encode()
			}
			copies[name] = d.Copies
			members = append(members, kafka.GroupMember{ID: name, Topics: []string{topic}, UserData: ud})
		}
		var got kafka.GroupMemberAssignments
		switch td.Cmd {
		case "assign":
			b := &stickyBalancer{r: &Runner{cfg: Config{AttemptsTopic: topic}}}
			got = b.AssignGroups(members, partitions)
		case "range":
			got = kafka.RangeGroupBalancer{}.AssignGroups(members, partitions)
		default:
			td.Fatalf(t, "unknown command %s", td.Cmd)
		}
		names := make([]string, 0, len(members))
		for _, m := range members {
			names = append(names, m.ID)
		}
		slices.Sort(names)
		var b strings.Builder
		for _, m := range names {
			ps := got[m][topic]
			fmt.Fprintf(&b, "%s: %s", m, ints(ps))
			if td.Cmd == "assign" {
				var kept, fromCopy, without []string
				for _, p := range ps {
					c, ok := copies[m][p]
					switch {
					case ok && c.Owned:
						kept = append(kept, strconv.Itoa(p))
					case ok:
						fromCopy = append(fromCopy, fmt.Sprintf("%d (%d/%d)", p, c.ChangelogEnd, best[p]))
					default:
						without = append(without, strconv.Itoa(p))
					}
				}
				for _, s := range []struct {
					what string
					ps   []string
				}{{"kept", kept}, {"from a copy", fromCopy}, {"without one", without}} {
					if len(s.ps) > 0 {
						fmt.Fprintf(&b, "; %s %s", s.what, strings.Join(s.ps, " "))
					}
				}
			}
			b.WriteString("\n")
		}
		return b.String()
	})
}

func TestMemberData(t *testing.T) {
	d := memberData{Addr: "10.0.0.7:8080", Copies: map[int]localCopy{0: {ChangelogEnd: 1 << 40, Owned: true}, 3: {ChangelogEnd: 7}}}
	b := d.encode()
	got, err := decodeMemberData(b)
	if err != nil || got.Addr != d.Addr || len(got.Copies) != 2 || got.Copies[0] != d.Copies[0] || got.Copies[3] != d.Copies[3] {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	// A later version appends fields and flags: a version-1 reader reads
	// what it knows.
	later := slices.Clone(b)
	later[1] = 2
	later[len(later)-1] |= 0x80
	later = append(later, 0xff, 0x01)
	if got, err := decodeMemberData(later); err != nil || got.Addr != d.Addr || got.Copies[3] != d.Copies[3] {
		t.Fatalf("a later version: %+v, %v", got, err)
	}
	// An earlier version's user data: the address alone.
	for _, old := range []string{"10.0.0.7:8080", ""} {
		if got, err := decodeMemberData([]byte(old)); err != nil || got.Addr != old || got.Copies != nil {
			t.Fatalf("%q: %+v, %v", old, got, err)
		}
	}
	// Truncated: no copies, and the address if it was read whole.
	for i := 1; i < len(b); i++ {
		got, err := decodeMemberData(b[:i])
		if err == nil || got.Copies != nil || (got.Addr != "" && got.Addr != d.Addr) {
			t.Fatalf("truncated at %d: %+v, %v", i, got, err)
		}
	}
}
