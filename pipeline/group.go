package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
)

// consume runs consumer-group generations until ctx is done.
func (r *Runner) consume(ctx context.Context, cancel context.CancelCauseFunc) {
	// The sticky protocol first; range for a group with a member of an
	// earlier version (assign.go).
	sticky := &stickyBalancer{r: r}
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                     r.cfg.GroupID,
		Brokers:                r.cfg.Brokers,
		Dialer:                 r.conns.dialer,
		Topics:                 []string{r.cfg.AttemptsTopic},
		SessionTimeout:         r.cfg.SessionTimeout,
		RebalanceTimeout:       r.cfg.SessionTimeout,
		HeartbeatInterval:      r.cfg.SessionTimeout / 5,
		JoinGroupBackoff:       time.Second,
		WatchPartitionChanges:  true,
		PartitionWatchInterval: 10 * time.Second,
		StartOffset:            kafka.FirstOffset,
		GroupBalancers:         []kafka.GroupBalancer{sticky, advertisingBalancer{addr: r.cfg.AdvertisedHTTPAddr}},
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			r.log.Debug().Str("component", "consumer-group").Msgf(msg, args...)
		}),
	})
	if err != nil {
		cancel(fmt.Errorf("pipeline: consumer group: %w", err))
		return
	}
	defer func() {
		if err := cg.Close(); err != nil {
			r.log.Debug().Err(err).Msg("leaving the consumer group")
		}
	}()
	for {
		gen, err := cg.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.noteBrokerError(err)
			r.log.Warn().Err(err).Msg("joining the consumer group failed; retrying")
			sleep(ctx, time.Second)
			continue
		}
		sticky.setOwned(gen)
		r.runGeneration(ctx, cancel, gen)
		if ctx.Err() != nil {
			return
		}
	}
}

// runGeneration runs one worker per assigned partition and returns when the
// generation ends (rebalance) or ctx is done, all workers having committed.
func (r *Runner) runGeneration(ctx context.Context, cancel context.CancelCauseFunc, gen *kafka.Generation) {
	assigned := gen.Assignments[r.cfg.AttemptsTopic]
	ids := make([]int32, 0, len(assigned))
	for _, a := range assigned {
		ids = append(ids, int32(a.ID))
	}
	r.log.Info().Int32("generation", gen.ID).Interface("partitions", ids).Msg("consumer group generation")
	parts := make(map[int32]*partition, len(assigned))
	for _, a := range assigned {
		parts[int32(a.ID)] = newPartition(r, int32(a.ID), gen, max(r.cfg.CacheContacts/max(len(assigned), 1), 1024))
	}
	// Partitions may have been added to the topics.
	if err := r.loadPartitions(ctx); err != nil {
		var se *setupError
		if errors.As(err, &se) {
			cancel(se.err)
			return
		}
		r.log.Warn().Err(err).Msg("cannot refresh the topics' partitions; using those read before")
	}
	r.mu.Lock()
	r.parts = parts
	r.mu.Unlock()
	r.metrics.partitionsOwned.Set(float64(len(parts)))
	r.owners.invalidate()
	r.joined.Store(true)
	r.updateReady()

	// Workers run under the generation (gen.Start): it ends only once each
	// has finished (committed or abandoned) its batch in hand.
	var wg sync.WaitGroup
	wg.Add(1)
	gen.Start(func(gctx context.Context) {
		// Ends the generation on shutdown, and keeps it while there is no
		// partition to work on.
		defer wg.Done()
		select {
		case <-gctx.Done():
		case <-ctx.Done():
		}
	})
	// spawn runs f under the generation, on a context that ends with the
	// generation or ctx; an error from f stops the processor (logged to log).
	spawn := func(log zerolog.Logger, f func(context.Context) error) {
		wg.Add(1)
		gen.Start(func(gctx context.Context) {
			defer wg.Done()
			fctx, fcancel := context.WithCancel(ctx)
			defer fcancel()
			stop := context.AfterFunc(gctx, fcancel)
			defer stop()
			if err := f(fctx); err != nil {
				log.Error().Err(err).Msg("stopping the processor")
				cancel(err)
			}
		})
	}
	if r.cfg.StandbyReplicas > 0 {
		// Copies of other instances' partitions, for this generation.
		spawn(r.log, func(sctx context.Context) error { return r.runStandbys(sctx, gen, parts) })
	}
	for _, a := range assigned {
		p := parts[int32(a.ID)]
		offset := a.Offset
		spawn(r.log.With().Int32("partition", p.id).Logger(), func(wctx context.Context) error { return p.run(wctx, offset) })
	}
	wg.Wait()
	r.joined.Store(false)
	r.mu.Lock()
	r.parts = map[int32]*partition{}
	r.mu.Unlock()
	for id := range parts {
		r.metrics.lag.DeleteLabelValues(partLabel(id))
	}
	r.metrics.partitionsOwned.Set(0)
	r.updateReady()
}
