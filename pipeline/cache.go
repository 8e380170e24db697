package pipeline

import "github.com/sendgate/sendgate/quota"

// historyCache keeps the committed histories of recently seen contacts of
// one partition, so that a busy contact is read from Pebble once. It holds
// committed state only (filled after a batch commits), belongs to the
// partition's worker, and is dropped with the partition.
type historyCache struct {
	m   map[contactKey][]quota.Send
	max int
}

func newHistoryCache(max int) *historyCache {
	return &historyCache{m: make(map[contactKey][]quota.Send), max: max}
}

// get returns a copy of the cached sends of k, which the caller may change.
func (c *historyCache) get(k contactKey) ([]quota.Send, bool) {
	s, ok := c.m[k]
	if !ok {
		return nil, false
	}
	return append([]quota.Send(nil), s...), true
}

// put caches sends (committed) for k; the cache owns sends afterwards. When
// full it forgets an arbitrary sixteenth of its entries.
func (c *historyCache) put(k contactKey, sends []quota.Send) {
	if c.max <= 0 {
		return
	}
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		drop := max(c.max/16, 1)
		for ck := range c.m {
			delete(c.m, ck)
			if drop--; drop == 0 {
				break
			}
		}
	}
	c.m[k] = sends
}
