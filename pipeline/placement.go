package pipeline

import (
	"slices"
)

// placeStandbys says which members keep a standby copy of which partitions:
// for each partition with an owner, replicas members other than its owner
// (every other member when there are fewer). Each copy goes to a member
// that already has a warm copy of the partition (copies: what the members
// reported when they joined, memberData), the most caught-up first, while
// its load (partitions owned plus copies so far) is under its share,
// ceil(owned*(replicas+1)/members); otherwise to the least loaded member.
// Ties, in either case, go to the first after the owner in the members'
// order.
// Partitions are taken in order. members, owner (partition -> member) and
// copies are the consumer group's, as every member reads them
// (DescribeGroups): a pure, deterministic function of them, so that every
// instance computes the same placement without talking to the others.
// Preferring warm copies keeps the copies where they are across
// rebalances, so that they stay caught up for the assignment (assign) to
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
	owned := 0
	for _, p := range ps {
		if o, ok := at[owner[p]]; ok {
			load[o]++
			owned++
		}
	}
	share := (owned*(k+1) + len(ms) - 1) / len(ms)
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
				if e := copies[ms[i]][p].ChangelogEnd; !chosen[i] && e > warm && load[i] < share {
					best, warm = i, e
				}
			}
			for d := 1; d < len(ms) && best < 0; d++ {
				i := (o + d) % len(ms)
				if !chosen[i] && (best < 0 || load[i] < load[best]) {
					best = i
				}
			}
			chosen[best] = true
			load[best]++
			out[ms[best]] = append(out[ms[best]], p)
		}
	}
	return out
}
