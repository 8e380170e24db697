package pipeline

import (
	"sync"

	"github.com/sendgate/sendgate/quota"
	"github.com/sendgate/sendgate/state"
)

// settingsTable is the in-memory view of every bot's settings in force,
// mirrored in Pebble. Readers never block each other.
type settingsTable struct {
	mu   sync.RWMutex
	bots map[string]state.BotSettings
}

func newSettingsTable() *settingsTable {
	return &settingsTable{bots: make(map[string]state.BotSettings)}
}

// get returns the settings in force for bot (quota.Disabled for an unknown or
// tombstoned bot).
func (t *settingsTable) get(bot string) quota.Settings {
	t.mu.RLock()
	bs, ok := t.bots[bot]
	t.mu.RUnlock()
	if !ok {
		return quota.Disabled()
	}
	return bs.Settings
}

func (t *settingsTable) load(bot string, bs state.BotSettings) {
	t.mu.Lock()
	t.bots[bot] = bs
	t.mu.Unlock()
}

// change is the outcome of applying one settings record.
type change uint8

const (
	applied change = iota
	stale          // version not greater than the floor: ignored
)

// apply applies a settings event (s) or, when tombstone, a deletion, and
// returns the record to persist. A tombstone keeps the deleted version as
// the floor.
func (t *settingsTable) apply(bot string, s quota.Settings, tombstone bool) (state.BotSettings, change) {
	t.mu.Lock()
	defer t.mu.Unlock()
	cur := t.bots[bot]
	if tombstone {
		if _, ok := t.bots[bot]; !ok {
			return cur, stale
		}
		next := state.BotSettings{Settings: quota.Disabled(), Floor: cur.Floor}
		t.bots[bot] = next
		return next, applied
	}
	if s.Version <= cur.Floor {
		return cur, stale
	}
	next := state.BotSettings{Settings: s, Floor: s.Version}
	t.bots[bot] = next
	return next, applied
}

// maxWindowMs is the longest window any bot uses (at least the default).
func (t *settingsTable) maxWindowMs() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	m := int64(quota.DefaultWindowSeconds * 1000)
	for _, bs := range t.bots {
		m = max(m, bs.Settings.WindowMs)
	}
	return m
}
