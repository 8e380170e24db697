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

// stage applies a settings event (s) or, when tombstone, a deletion to
// staged, the changes of a batch not yet committed, and returns the record
// to persist. The table itself changes only when the batch is committed
// (commit), so a batch read again after a failure applies the same way. A
// tombstone keeps the deleted version as the floor.
func (t *settingsTable) stage(staged map[string]state.BotSettings, bot string, s quota.Settings, tombstone bool) (state.BotSettings, change) {
	cur, known := staged[bot]
	if !known {
		t.mu.RLock()
		cur, known = t.bots[bot]
		t.mu.RUnlock()
	}
	if tombstone {
		if !known {
			return cur, stale
		}
		next := state.BotSettings{Settings: quota.Disabled(), Floor: cur.Floor}
		staged[bot] = next
		return next, applied
	}
	if s.Version <= cur.Floor {
		return cur, stale
	}
	next := state.BotSettings{Settings: s, Floor: s.Version}
	staged[bot] = next
	return next, applied
}

// commit makes staged changes the settings in force.
func (t *settingsTable) commit(staged map[string]state.BotSettings) {
	if len(staged) == 0 {
		return
	}
	t.mu.Lock()
	for bot, bs := range staged {
		t.bots[bot] = bs
	}
	t.mu.Unlock()
}
