package pipeline

import (
	"errors"
	"fmt"
	"time"

	"github.com/sendgate/sendgate/quota"
)

// ErrNotOwned is returned by Quota for a contact whose partition this
// instance does not own (now): its state here may be stale.
var ErrNotOwned = errors.New("pipeline: the contact's partition is not owned by this instance")

// Ready reports whether the processor is ready to decide: settings caught up,
// a consumer-group generation joined with every owned partition's state
// loaded, not shutting down, and the broker answering.
func (r *Runner) Ready() bool {
	if !r.settingsReady.Load() || !r.joined.Load() || r.stopping.Load() || r.brokerOKAt.Load() < r.brokerErrAt.Load() {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.parts {
		if p.current() != partRunning {
			return false
		}
	}
	return true
}

// Settings returns the settings in force for bot.
func (r *Runner) Settings(bot string) quota.Settings { return r.settings.get(bot) }

// Quota evaluates the limit of a contact at time at, for an attempt of agent
// and category ("" for none), over the sends counted so far with decision
// time <= at (quota.Usage). It reads the local state, which holds
// exactly the decisions whose transactions committed. It returns ErrNotOwned
// for a partition this instance does not own or is still restoring or
// rebuilding.
func (r *Runner) Quota(bot, contact, agent, category string, at time.Time) (quota.Decision, quota.Settings, error) {
	s := r.settings.get(bot)
	pid, ok := r.contactPartition(bot, contact)
	if !ok {
		return quota.Decision{}, s, errors.New("pipeline: not started")
	}
	r.mu.Lock()
	p := r.parts[pid]
	r.mu.Unlock()
	if p == nil {
		return quota.Decision{}, s, fmt.Errorf("%w: partition %d", ErrNotOwned, pid)
	}
	sends, err := p.query(bot, contact)
	if err != nil {
		return quota.Decision{}, s, err
	}
	return quota.Usage(sends, s, agent, category, at.UnixMilli()), s, nil
}

// contactPartition is the attempts partition of contact (bot, contact);
// false before the topic's partitions are known.
func (r *Runner) contactPartition(bot, contact string) (int32, bool) {
	r.mu.Lock()
	parts := r.attemptsParts
	r.mu.Unlock()
	return keyPartition([]byte(bot+"/"+contact), parts)
}
