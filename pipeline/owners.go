package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// Any instance answers a quota query: one that does not own the contact's
// partition forwards it to the owner's advertised HTTP address. Each member
// puts its address (Config.AdvertisedHTTPAddr) in its consumer-group
// metadata, in its balancer's user data (memberData, assign.go); owners
// reads it back, with the assignments, from the group coordinator
// (DescribeGroups).

// advertisingBalancer is kafka-go's range balancer with this member's
// advertised HTTP address alone as its user data: the protocol offered
// after stickyBalancer's, which the group uses while one of its members
// offers no other (an earlier version, during a rolling upgrade).
type advertisingBalancer struct {
	kafka.RangeGroupBalancer
	addr string
}

func (b advertisingBalancer) UserData() ([]byte, error) { return []byte(b.addr), nil }

// Advertise sets the address put in the group metadata for other instances
// to forward quota queries to (Config.AdvertisedHTTPAddr). Call it before
// Run.
func (r *Runner) Advertise(addr string) { r.cfg.AdvertisedHTTPAddr = addr }

// owners caches which member owns each attempts partition, by the
// advertised address of the member.
type owners struct {
	mu      sync.Mutex
	at      time.Time // when byPart was read
	byPart  map[int]string
	refresh time.Duration
}

// Owner returns the advertised HTTP address of the instance that owns the
// partition of contact (bot, contact), to forward a quota query to: "" when
// this instance owns it (ready or not), when no other instance advertises
// one, or before the group was described.
func (r *Runner) Owner(bot, contact string) (string, error) {
	pid, ok := r.contactPartition(bot, contact)
	if !ok {
		return "", nil
	}
	r.mu.Lock()
	mine := r.parts[pid] != nil
	r.mu.Unlock()
	if mine {
		return "", nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	addr, err := r.owners.lookup(ctx, r, int(pid))
	if addr == r.cfg.AdvertisedHTTPAddr {
		return "", err // a stale description: this instance lost it
	}
	return addr, err
}

func (o *owners) lookup(ctx context.Context, r *Runner, p int) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if addr, ok := o.byPart[p]; ok && time.Since(o.at) < o.refresh {
		return addr, nil
	}
	if time.Since(o.at) < o.refresh/4 {
		return o.byPart[p], nil // described a moment ago: do not ask again at once
	}
	members, err := r.describeGroup(ctx)
	o.at = time.Now()
	if err != nil {
		return "", err
	}
	byPart := map[int]string{}
	for _, m := range members {
		if m.addr == "" {
			continue
		}
		for _, part := range m.parts {
			byPart[part] = m.addr
		}
	}
	o.byPart = byPart
	return byPart[p], nil
}

// groupMember is a member of the consumer group as the coordinator
// describes it: its id, advertised HTTP address, attempts partitions and
// the local copies it reported when it joined (nil under the range
// protocol).
type groupMember struct {
	id, addr string
	parts    []int
	copies   map[int]localCopy
}

// describeGroup asks the group coordinator for the members of the group
// and their assignments (DescribeGroups).
func (r *Runner) describeGroup(ctx context.Context) ([]groupMember, error) {
	resp, err := r.kafka.client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{r.cfg.GroupID}})
	if err != nil {
		return nil, fmt.Errorf("describe group %s: %w", r.cfg.GroupID, err)
	}
	var members []groupMember
	for _, g := range resp.Groups {
		if g.Error != nil {
			return nil, fmt.Errorf("describe group %s: %w", r.cfg.GroupID, g.Error)
		}
		for _, m := range g.Members {
			d, _ := decodeMemberData(m.MemberMetadata.UserData) // malformed: what could be read
			gm := groupMember{id: m.MemberID, addr: d.Addr, copies: d.Copies}
			for _, t := range m.MemberAssignments.Topics {
				if t.Topic == r.cfg.AttemptsTopic {
					gm.parts = append(gm.parts, t.Partitions...)
				}
			}
			members = append(members, gm)
		}
	}
	return members, nil
}

// invalidate makes the next lookup describe the group again (a new
// generation).
func (o *owners) invalidate() {
	o.mu.Lock()
	o.at = time.Time{}
	o.mu.Unlock()
}
