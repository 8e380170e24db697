package pipeline

import (
	"slices"
)

// placeStandbys says which members keep a standby copy of which partitions:
// for each partition with an owner, replicas members other than its owner
// (every other member when there are fewer), each chosen as the least
// loaded so far (partitions owned plus copies); among the least loaded,
// the one with the most caught-up warm copy of the partition (copies: what
// the members reported when they joined, memberData), then the first after
// the owner in the members' order. Partitions are taken in order. members,
// owner (partition -> member) and copies are the consumer group's, as every
// member reads them (DescribeGroups): a pure, deterministic function of
// them, so that every instance computes the same placement without talking
// to the others. The warm copies only break ties: the balance of the load
// is that of a placement without them, and a copy stays where it was
// whenever that costs no balance, caught up for the assignment (assign) to
// find.
//
// It returns each member's standby partitions, in order; a member with
// none is absent. A partition whose owner is not among members has no
// standby. The arguments are not modified; copies may be nil.
func placeStandbys(members []string, owner map[int]string, partitions []int, replicas int, copies map[string]map[int]localCopy) map[string][]int {
	ms := slices.Clone(members)
	slices.Sort(ms)
	ms = slices.Compact(ms)
	ps := slices.Clone(partitions)
	slices.Sort(ps)
	ps = slices.Compact(ps)
	at := make(map[string]int, len(ms))
	for i, m := range ms {
		at[m] = i
	}
	k := min(replicas, len(ms)-1)
	out := map[string][]int{}
	if k <= 0 {
		return out
	}
	load := make([]int, len(ms))
	for _, p := range ps {
		if o, ok := at[owner[p]]; ok {
			load[o]++
		}
	}
	chosen := make([]bool, len(ms))
	for _, p := range ps {
		o, ok := at[owner[p]]
		if !ok {
			continue
		}
		clear(chosen)
		for range k {
			best, warm := -1, int64(0)
			for d := 1; d < len(ms); d++ {
				i := (o + d) % len(ms)
				if chosen[i] {
					continue
				}
				e := copies[ms[i]][p].ChangelogEnd
				if best < 0 || load[i] < load[best] || (load[i] == load[best] && e > warm) {
					best, warm = i, e
				}
			}
			chosen[best] = true
			load[best]++
			out[ms[best]] = append(out[ms[best]], p)
		}
	}
	return out
}
