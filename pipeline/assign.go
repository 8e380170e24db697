package pipeline

import (
	"cmp"
	"encoding/binary"
	"errors"
	"slices"
	"sync"

	"github.com/segmentio/kafka-go"
)

// The consumer group's assignment is state-aware and sticky, in the spirit
// of Kafka Streams' HighAvailabilityTaskAssignor. At each join every member
// says in its subscription's user data (memberData) its advertised HTTP
// address and, for each attempts partition it has local state of (owned
// or a standby copy), the changelog offset its local state reflects. The
// leader gives the partitions out with assign: balanced first, then each to
// the member with the most caught-up copy, which is its owner of the
// generation before when it is still there, its standby copy's holder when
// not.

// stickyProtocol is the name of stickyBalancer's protocol. Members also
// offer "range" (advertisingBalancer, the address alone): the coordinator
// picks the protocol every member offers, so a group with a member of an
// earlier version (range only) keeps the range balancer until it has left.
const stickyProtocol = "sendgate-sticky"

// localCopy is what a member reports of its local state of one attempts
// partition.
type localCopy struct {
	// ChangelogEnd is the changelog offset its local state reflects
	// (state.Position.ChangelogEnd; reported only when > 0).
	ChangelogEnd int64
	// Owned says the member owned the partition in the generation before
	// the join.
	Owned bool
}

// memberData is a member's subscription user data.
//
// Its format, version 1: a zero byte (an address never starts with one:
// the user data of earlier versions is the advertised address alone, which
// decodes as an address without local state), the version byte, the
// address (uvarint length, then its bytes), the number of partitions
// (uvarint), then per partition, in increasing order, the partition
// (uvarint), its ChangelogEnd (uvarint) and a flags byte (bit 0: Owned).
// Later versions only append: a reader reads the fields it knows, ignores
// the flags it does not and what follows them.
type memberData struct {
	Addr   string
	Copies map[int]localCopy
}

const memberDataVersion = 1

func (d memberData) encode() []byte {
	ps := make([]int, 0, len(d.Copies))
	for p := range d.Copies {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	b := []byte{0, memberDataVersion}
	b = binary.AppendUvarint(b, uint64(len(d.Addr)))
	b = append(b, d.Addr...)
	b = binary.AppendUvarint(b, uint64(len(ps)))
	for _, p := range ps {
		c := d.Copies[p]
		b = binary.AppendUvarint(b, uint64(p))
		b = binary.AppendUvarint(b, uint64(c.ChangelogEnd))
		var flags byte
		if c.Owned {
			flags |= 1
		}
		b = append(b, flags)
	}
	return b
}

var errMemberData = errors.New("pipeline: malformed member user data")

// decodeMemberData decodes a member's user data. On an error it returns
// what it could read before it (the address, maybe) and no copies: the
// member is then taken as having no local state.
func decodeMemberData(b []byte) (memberData, error) {
	if len(b) == 0 || b[0] != 0 {
		return memberData{Addr: string(b)}, nil // the address alone
	}
	if len(b) < 2 || b[1] < 1 {
		return memberData{}, errMemberData
	}
	b = b[2:]
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	var d memberData
	n, ok := uv()
	if !ok || n > uint64(len(b)) {
		return d, errMemberData
	}
	d.Addr, b = string(b[:n]), b[n:]
	count, ok := uv()
	if !ok || count > uint64(len(b))/3 {
		return d, errMemberData
	}
	copies := make(map[int]localCopy, count)
	for range count {
		p, ok1 := uv()
		end, ok2 := uv()
		if !ok1 || !ok2 || len(b) == 0 || p > 1<<31-1 || end > 1<<63-1 {
			return d, errMemberData
		}
		copies[int(p)] = localCopy{ChangelogEnd: int64(end), Owned: b[0]&1 != 0}
		b = b[1:]
	}
	d.Copies = copies
	return d, nil
}

// assignMember is a member of the group as assign sees it.
type assignMember struct {
	ID     string
	Copies map[int]localCopy // by attempts partition; nil: no local state
}

// assign gives out partitions to members, balanced: each member gets
// floor(P/M) or ceil(P/M) of them. Within that, each partition goes to the
// member with its most caught-up copy (the highest ChangelogEnd; ties to
// the member that owned it, then by member id): the partitions' best
// copies are served first, in partition order, then their second best,
// and so on, a member taking a partition while it is below floor(P/M), or
// at it while fewer than P mod M members are above it. Partitions left
// (no member with room has a copy) go in partition order to the first
// member with room in member-id order. Then each partition given without
// a copy is swapped, when that saves its restore, with one of a member
// holding a copy of it (the most caught-up first) that the first member
// has a copy of (one it does not own first, then in partition order):
// the same balance, two partitions from a copy. Without any copy the
// result has the
// range balancer's balance: contiguous ranges, the larger ones first.
//
// It is a pure, deterministic function of its arguments, which it does
// not modify. It returns each member's partitions, in order; a member
// without any is absent. Duplicate members or partitions count once.
func assign(members []assignMember, partitions []int) map[string][]int {
	ms := slices.Clone(members)
	slices.SortStableFunc(ms, func(a, b assignMember) int { return cmp.Compare(a.ID, b.ID) })
	ms = slices.CompactFunc(ms, func(a, b assignMember) bool { return a.ID == b.ID })
	ps := slices.Clone(partitions)
	slices.Sort(ps)
	ps = slices.Compact(ps)
	out := map[string][]int{}
	if len(ms) == 0 {
		return out
	}
	floor, extra := len(ps)/len(ms), len(ps)%len(ms)
	count := make([]int, len(ms))
	above := 0 // members at floor+1
	room := func(i int) bool {
		return count[i] < floor || (count[i] == floor && above < extra)
	}
	owner := make(map[int]int, len(ps))
	give := func(p, i int) {
		owner[p] = i
		count[i]++
		if count[i] == floor+1 {
			above++
		}
	}

	// Each partition's copies, the most caught-up first.
	ranked := make([][]int, len(ps))
	most := 0
	for j, p := range ps {
		for i, m := range ms {
			if c, ok := m.Copies[p]; ok && c.ChangelogEnd > 0 {
				ranked[j] = append(ranked[j], i)
			}
		}
		slices.SortStableFunc(ranked[j], func(a, b int) int {
			ca, cb := ms[a].Copies[p], ms[b].Copies[p]
			if c := cmp.Compare(cb.ChangelogEnd, ca.ChangelogEnd); c != 0 {
				return c
			}
			if ca.Owned != cb.Owned {
				if ca.Owned {
					return -1
				}
				return 1
			}
			return cmp.Compare(a, b)
		})
		most = max(most, len(ranked[j]))
	}
	for rank := range most {
		for j, p := range ps {
			if _, done := owner[p]; done || rank >= len(ranked[j]) {
				continue
			}
			if i := ranked[j][rank]; room(i) {
				give(p, i)
			}
		}
	}
	for _, p := range ps {
		if _, done := owner[p]; done {
			continue
		}
		for i := range ms {
			if room(i) {
				give(p, i)
				break
			}
		}
	}
	has := func(i, p int) bool { return ms[i].Copies[p].ChangelogEnd > 0 }
	for j, p := range ps {
		x := owner[p]
		if has(x, p) {
			continue
		}
	swap:
		for _, y := range ranked[j] {
			for _, owned := range []bool{false, true} {
				for _, q := range ps {
					if owner[q] == y && has(x, q) && ms[y].Copies[q].Owned == owned {
						owner[p], owner[q] = y, x
						break swap
					}
				}
			}
		}
	}
	for _, p := range ps {
		id := ms[owner[p]].ID
		out[id] = append(out[id], p)
	}
	return out
}

// stickyBalancer is the consumer group's balancer: its user data is this
// member's memberData, its assignment assign's.
type stickyBalancer struct {
	r *Runner

	mu    sync.Mutex
	owned map[int]bool // attempts partitions of the generation run last
}

func (b *stickyBalancer) ProtocolName() string { return stickyProtocol }

// setOwned records the attempts partitions of the generation starting, to
// report as owned at the next join.
func (b *stickyBalancer) setOwned(gen *kafka.Generation) {
	owned := map[int]bool{}
	for _, a := range gen.Assignments[b.r.cfg.AttemptsTopic] {
		owned[a.ID] = true
	}
	b.mu.Lock()
	b.owned = owned
	b.mu.Unlock()
}

// UserData is called at each join, once the generation before has ended
// (every worker and standby stopped, their local commits done): it reads
// the local position of every attempts partition. A failure to read one is
// logged, and the member then reports no local state (it still joins).
func (b *stickyBalancer) UserData() ([]byte, error) {
	r := b.r
	r.mu.Lock()
	parts := slices.Clone(r.attemptsParts)
	r.mu.Unlock()
	b.mu.Lock()
	owned := b.owned
	b.mu.Unlock()
	d := memberData{Addr: r.cfg.AdvertisedHTTPAddr, Copies: map[int]localCopy{}}
	for _, p := range parts {
		pos, ok, err := r.store.Position(int32(p))
		if err != nil {
			r.log.Warn().Err(err).Int("partition", p).Msg("joining the group without reporting the local state: cannot read a position")
			d.Copies = nil
			break
		}
		if ok && pos.ChangelogEnd > 0 {
			d.Copies[p] = localCopy{ChangelogEnd: pos.ChangelogEnd, Owned: owned[p]}
		}
	}
	r.log.Debug().Int("copies", len(d.Copies)).Msg("joining the group with the local state")
	return d.encode(), nil
}

// AssignGroups runs assign for each topic, with the members' copies for the
// attempts topic.
func (b *stickyBalancer) AssignGroups(members []kafka.GroupMember, partitions []kafka.Partition) kafka.GroupMemberAssignments {
	byTopic := map[string][]int{}
	for _, p := range partitions {
		byTopic[p.Topic] = append(byTopic[p.Topic], p.ID)
	}
	out := kafka.GroupMemberAssignments{}
	for topic, ps := range byTopic {
		var ms []assignMember
		for _, m := range members {
			if !slices.Contains(m.Topics, topic) {
				continue
			}
			am := assignMember{ID: m.ID}
			if topic == b.r.cfg.AttemptsTopic {
				d, _ := decodeMemberData(m.UserData) // malformed: no state
				am.Copies = d.Copies
			}
			ms = append(ms, am)
		}
		for id, got := range assign(ms, ps) {
			if out[id] == nil {
				out[id] = map[string][]int{}
			}
			out[id][topic] = got
		}
	}
	// Every member gets an assignment, maybe empty.
	for _, m := range members {
		if out[m.ID] == nil {
			out[m.ID] = map[string][]int{}
		}
	}
	return out
}
