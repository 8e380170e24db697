package pipeline

import (
	"fmt"
	"math"

	"github.com/sendgate/sendgate/quota"
	"github.com/sendgate/sendgate/state"
)

// contactKey names one contact's history.
type contactKey struct{ bot, contact string }

// history is a contact's counted sends as loaded and changed by a batch.
type history struct {
	sends   []quota.Send
	existed bool  // the key was in the store when loaded
	dirty   bool  // changed by this batch
	window  int64 // window (ms) of the bot when last touched, for the expiry
	// expireAt is the expiry stored with the history (0: none), as loaded
	// and, once written, as written.
	expireAt int64
	// shared says sends is the history cache's array, which holds
	// committed state only: own copies it before the batch changes it.
	shared bool
}

// own makes h.sends the batch's own copy, with room for one more send.
func (h *history) own() {
	if h.shared {
		h.sends = append(make([]quota.Send, 0, len(h.sends)+1), h.sends...)
		h.shared = false
	}
}

// work is what one batch decided: the changed histories and the new
// idempotency records, kept until they are committed so that queries
// reflect every verdict already published.
type work struct {
	hist     map[contactKey]*history
	verdicts map[string][]byte // attempt id -> binary verdict
	expiry   map[string]int64  // attempt id -> idempotency record expiry
	hwm      int64
	next     int64 // offset after the batch
}

func newWork() *work {
	return &work{hist: map[contactKey]*history{}, verdicts: map[string][]byte{}, expiry: map[string]int64{}}
}

// write adds the batch's changes to b: the deletion of expired keys first (a
// Pebble batch's later operation on a key wins), found by sweeping up to
// sweepMax entries from cursor, then histories, verdicts and the position.
// It returns what the sweep did (its cursor is where the next batch's sweep
// starts, once b is committed) and the change in the number of entries,
// with the earliest expiry written.
func (w *work) write(b *state.Batch, p int32, cursor []byte, sweepMax int) (delta stateDelta, swept state.Swept, err error) {
	swept, err = b.Sweep(p, w.hwm, cursor, sweepMax)
	if err != nil {
		return delta, swept, fmt.Errorf("partition %d: expire: %w", p, err)
	}
	delta.histories -= swept.Histories
	delta.verdicts -= swept.Verdicts
	delta.earliest = math.MaxInt64
	for k, h := range w.hist {
		if !h.dirty {
			continue
		}
		h.expireAt = quota.ExpiresAt(h.sends, h.window)
		b.PutHistory(p, k.bot, k.contact, h.sends, h.expireAt)
		switch {
		case len(h.sends) > 0 && !h.existed:
			delta.histories++
		case len(h.sends) == 0 && h.existed:
			delta.histories--
		}
		if len(h.sends) > 0 {
			delta.earliest = min(delta.earliest, h.expireAt)
		}
	}
	for id, v := range w.verdicts {
		b.PutVerdict(p, id, v, w.expiry[id])
		delta.verdicts++
		delta.earliest = min(delta.earliest, w.expiry[id])
	}
	return delta, swept, nil
}

// stateDelta is how a batch changes a partition's entries: how many
// histories and verdicts more (or fewer), and the earliest expiry among the
// entries it writes (math.MaxInt64: none).
type stateDelta struct {
	histories, verdicts int
	earliest            int64
}
