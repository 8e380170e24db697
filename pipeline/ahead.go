package pipeline

import "context"

// fetchAhead is a fetch of a partition's next batch that runs while the
// current batch's transaction commits: the three round trips of the
// transaction and the fetch's own overlap, instead of following each other.
//
// It changes nothing of the commit protocol: the records it returns are
// committed data (read_committed), and they are decided only after the
// batch before them committed, and only if the partition's position is
// then the offset they were fetched from. A batch whose commit failed is
// read again from the committed position, and the fetch ahead is dropped.
// Read-your-settings holds as before: the settings catch-up runs when the
// batch is decided, after its records were fetched.
//
// It runs only when the partition has a backlog: at least 1/aheadBacklog of
// MaxBatch records left after the batch. Without one, a fetch ahead would
// return the first record or two that arrive while the transaction
// commits, and the batches would shrink to a record each, one transaction
// per record; the fetch after the commit takes everything that arrived
// during it.
type fetchAhead struct {
	offset int64
	buf    int // the record buffer it fills (of the loop's two)
	cancel context.CancelFunc
	done   chan struct{}
	res    fetchResult
	err    error
}

const aheadBacklog = 4

// startFetchAhead fetches partition p from offset into recs, in the
// background.
func (p *partition) startFetchAhead(ctx context.Context, offset int64, buf int, recs []record) *fetchAhead {
	r := p.r
	fctx, cancel := context.WithCancel(ctx)
	a := &fetchAhead{offset: offset, buf: buf, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(a.done)
		a.res, a.err = r.kafka.fetchWatching(fctx, r.cfg.AttemptsTopic, int(p.id), offset, r.cfg.MaxBatch, recs, r.follower.watch())
	}()
	return a
}

// wait waits for the fetch and reports whether it read from offset (its
// result is then in res and err). One from another offset is stopped
// first: its buffer is about to be reused.
func (a *fetchAhead) wait(offset int64) bool {
	if a.offset != offset {
		a.cancel()
	}
	<-a.done
	a.cancel()
	return a.offset == offset
}
