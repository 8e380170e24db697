package pipeline

import "github.com/sendgate/sendgate/quota"

// historyCache keeps the committed histories of recently seen contacts of
// one partition, so that a busy contact is read from Pebble once. It holds
// committed state only (filled after a batch commits), belongs to the
// partition's worker, and is dropped with the partition.
type historyCache struct {
	m   map[contactKey]cached
	max int
}

// cached is a committed history and the expiry stored with it.
type cached struct {
	sends    []quota.Send
	expireAt int64
}

func newHistoryCache(max int) *historyCache {
	return &historyCache{m: make(map[contactKey]cached), max: max}
}

// get returns the cached sends of k and their stored expiry. The sends are
// the cache's: the caller must not change them (it copies them first).
func (c *historyCache) get(k contactKey) ([]quota.Send, int64, bool) {
	e, ok := c.m[k]
	return e.sends, e.expireAt, ok
}

// put caches sends (committed) for k; the cache owns sends afterwards. When
// full it forgets an arbitrary sixteenth of its entries.
func (c *historyCache) put(k contactKey, sends []quota.Send, expireAt int64) {
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
	c.m[k] = cached{sends, expireAt}
}
