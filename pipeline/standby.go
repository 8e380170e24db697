package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
)

// Standby copies (Config.StandbyReplicas): an instance keeps a local copy of
// partitions it does not own by following their committed changelog, so
// that, when one of them is assigned to it, planResume finds the local
// state at (or a few records short of) the changelog's end and the worker
// catches up only the tail. A standby reads the changelog (read_committed,
// as a restore does) and applies it with the restore's code (applier); it
// never decides and never writes to Kafka.
//
// Placement is no protocol of its own: at the start of each generation
// every instance describes the group (members and assignment) and computes
// the same placeStandbys. Standbys run under the generation, like the
// workers: the generation ends only once each has stopped and done its last
// local commit, so a standby and a worker never write the same partition at
// once (the placement never puts a copy on the owner, and this instance's
// own partitions are skipped whatever the description says).

// standbyState is where a standby copy is in its lifecycle. It only moves
// forward, except that a copy whose fetch failed goes back to
// standbyStarting.
type standbyState int32

const (
	// standbyStarting: reading the local position and planning where to
	// follow the changelog from (planResume, as a worker does).
	standbyStarting standbyState = iota
	// standbyRestoring: applying the changelog, not yet at its end.
	standbyRestoring
	// standbyFollowing: at the changelog's end once; applying what
	// commits as it commits.
	standbyFollowing
	// standbyStopped: the follower has returned.
	standbyStopped
)

func (s standbyState) String() string {
	return [...]string{"starting", "restoring", "following", "stopped"}[s]
}

// standby is the standby copy of one attempts partition another instance
// owns.
type standby struct {
	r     *Runner
	id    int32
	state atomic.Int32 // standbyState
	log   zerolog.Logger
}

func (s *standby) current() standbyState { return standbyState(s.state.Load()) }

// runStandbys keeps this instance's standby copies during one generation:
// it describes the group until the description shows this member's
// assignment (owned), places the copies and follows each until ctx is
// done. Every follower has stopped when it returns. It returns an error
// only for a failure of the local store.
func (r *Runner) runStandbys(ctx context.Context, gen *kafka.Generation, owned map[int32]*partition) error {
	ids, err := r.standbyPartitions(ctx, gen, owned)
	if err != nil || len(ids) == 0 {
		<-ctx.Done()
		return nil
	}
	r.log.Info().Int32("generation", gen.ID).Interface("partitions", ids).Msg("standby copies")
	r.metrics.standbyPartitions.Set(float64(len(ids)))
	defer r.metrics.standbyPartitions.Set(0)
	// A failure of the store stops every copy (and the processor).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		s := &standby{r: r, id: id, log: r.log.With().Str("topic", r.cfg.AttemptsTopic).Int32("partition", id).Str("role", "standby").Logger()}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = s.run(ctx); errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// standbyPartitions returns the partitions this member keeps a standby copy
// of in generation gen: nil when ctx ends first.
func (r *Runner) standbyPartitions(ctx context.Context, gen *kafka.Generation, owned map[int32]*partition) ([]int32, error) {
	bo := newBackoff()
	for {
		members, err := r.describeGroup(ctx)
		if err == nil {
			ids, ok := r.placeMine(gen.MemberID, members, owned)
			if ok {
				return ids, nil
			}
			err = errors.New("the group's description does not show this generation's assignment yet")
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r.log.Debug().Err(err).Dur("retry_in", bo.peek()).Msg("placing the standby copies: describing the group again")
		if !sleep(ctx, bo.next()) {
			return nil, ctx.Err()
		}
	}
}

// placeMine is placeStandbys for member me, minus the partitions it owns.
// ok is false when the description's assignment of me is not owned (a
// description of another generation).
func (r *Runner) placeMine(me string, members []groupMember, owned map[int32]*partition) (ids []int32, ok bool) {
	owner := map[int]string{}
	names := make([]string, 0, len(members))
	copies := make(map[string]map[int]localCopy, len(members))
	found := false
	for _, m := range members {
		names = append(names, m.id)
		copies[m.id] = m.copies
		if m.id == me {
			found = true
			if len(m.parts) != len(owned) {
				return nil, false
			}
			for _, p := range m.parts {
				if owned[int32(p)] == nil {
					return nil, false
				}
			}
		}
		for _, p := range m.parts {
			owner[p] = m.id
		}
	}
	if !found {
		return nil, false
	}
	r.mu.Lock()
	all := slices.Clone(r.attemptsParts)
	r.mu.Unlock()
	for _, p := range placeStandbys(names, owner, all, r.cfg.StandbyReplicas, copies)[me] {
		if owned[int32(p)] == nil {
			ids = append(ids, int32(p))
		}
	}
	return ids, true
}

// run follows the partition's changelog until ctx is done, starting over
// after a failed fetch. The local commit of what was applied is done before
// it returns. It returns an error only for a failure of the local store.
func (s *standby) run(ctx context.Context) error {
	defer s.state.Store(int32(standbyStopped))
	defer s.r.metrics.standbyLag.DeleteLabelValues(partLabel(s.id))
	bo := newBackoff()
	for ctx.Err() == nil {
		s.state.Store(int32(standbyStarting))
		from, err := s.start(ctx)
		if err == nil {
			err = s.follow(ctx, from, bo)
		}
		if err == nil || ctx.Err() != nil {
			return nil
		}
		var se *storageError
		if errors.As(err, &se) {
			return err
		}
		s.log.Warn().Err(err).Dur("retry_in", bo.peek()).Msg("standby copy failed: starting it again")
		if !sleep(ctx, bo.next()) {
			return nil
		}
	}
	return nil
}

// start plans where to follow the changelog from, as a worker plans its
// resume: from where the local state reflects it, or from its start over
// an empty local state.
func (s *standby) start(ctx context.Context) (int64, error) {
	r := s.r
	local, ok, err := r.store.Position(s.id)
	if err != nil {
		return 0, storageErr("partition %d: load position: %w", s.id, err)
	}
	first, end, err := r.kafka.offsets(ctx, r.cfg.ChangelogTopic, []int{int(s.id)})
	if err != nil {
		return 0, err
	}
	in := resumeInput{Local: ok, LocalOffset: local.Offset, LocalChangelog: local.ChangelogEnd, Group: -1,
		ChangelogStart: first[int(s.id)], ChangelogEnd: end[int(s.id)]}
	plan := planResume(in)
	from := in.LocalChangelog
	switch plan.Action {
	case catchUp:
		from = plan.From
	case restoreWhole, rebuild:
		// Nothing of the local state is usable: the copy starts over from
		// the changelog's start (for rebuild, an empty changelog, whose
		// owner is rebuilding it from the attempts topic).
		if err := r.store.DropPartition(s.id); err != nil {
			return 0, storageErr("partition %d: drop local state: %w", s.id, err)
		}
		from = in.ChangelogStart
	}
	s.log.Info().Str("plan", plan.Action.String()).Bool("local", in.Local).Int64("local_changelog", in.LocalChangelog).
		Int64("changelog_start", in.ChangelogStart).Int64("changelog_end", in.ChangelogEnd).Int64("from", from).
		Msg("standby copy started: " + plan.Why)
	return from, nil
}

// follow applies the changelog from offset off on, committing locally
// (without fsync) after each fetch that applied records or moved past
// markers, with the position found in the changelog and ChangelogEnd where
// it stopped. A fetch may end inside a transaction: the state then holds a
// part of a batch under the previous batch's position, which only a
// standby ever sees (a worker that gets the partition catches up from
// there: the changelog's end, after its fencing, is past that batch).
func (s *standby) follow(ctx context.Context, off int64, bo *backoff) error {
	r := s.r
	a := newApplier(r, s.id, "standby")
	defer a.close()
	lag := r.metrics.standbyLag.WithLabelValues(partLabel(s.id))
	s.state.Store(int32(standbyRestoring))
	t0, n0 := time.Now(), 0
	for {
		next, res, err := a.step(ctx, off, math.MaxInt64)
		if err != nil {
			// Every earlier fetch's records are committed; a failed
			// fetch added none.
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, kafka.OffsetOutOfRange) {
				return fmt.Errorf("changelog offset %d out of range (compacted or deleted since): %w", off, err)
			}
			return err
		}
		bo.reset()
		if next > off || a.pending() > 0 {
			if err := s.commit(a, next); err != nil {
				return err
			}
		}
		off = next
		lag.Set(float64(max(res.lso-off, 0)))
		if s.current() == standbyRestoring && off >= res.lso {
			s.state.Store(int32(standbyFollowing))
			s.log.Info().Int("records", a.n-n0).Dur("took", time.Since(t0)).Int64("changelog_offset", off).Msg("standby copy at the changelog's end")
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// commit commits what the applier holds, with the position, as reflecting
// the changelog up to end.
func (s *standby) commit(a *applier, end int64) error {
	_, _, err := a.commit(end, false)
	return err
}
