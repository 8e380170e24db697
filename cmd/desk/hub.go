package main

import (
	"fmt"
	"io"
	"sync"
)

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	name string
	data []byte // one line of JSON
}

func (e sseEvent) write(w io.Writer) {
	_, _ = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.name, e.data)
}

// recentVerdicts is how many of the bot's latest verdicts a new event
// stream starts with.
const recentVerdicts = 50

// hub hands verdicts to the sends waiting for them, by attempt id, and to
// the event streams of the open pages.
type hub struct {
	bot     string
	mu      sync.Mutex
	waiters map[string]chan verdictJSON
	subs    map[chan sseEvent]struct{}
	recent  []verdictJSON
}

func newHub(bot string) *hub {
	return &hub{bot: bot, waiters: map[string]chan verdictJSON{}, subs: map[chan sseEvent]struct{}{}}
}

// wait registers a send waiting for the verdict of attempt id; unwait ends
// the wait.
func (h *hub) wait(id string) <-chan verdictJSON {
	ch := make(chan verdictJSON, 1)
	h.mu.Lock()
	h.waiters[id] = ch
	h.mu.Unlock()
	return ch
}

func (h *hub) unwait(id string) {
	h.mu.Lock()
	delete(h.waiters, id)
	h.mu.Unlock()
}

// deliver hands v to its waiting send, if any, and streams it when it is
// about the console's bot or answers one of its sends.
func (h *hub) deliver(v verdictJSON) {
	h.mu.Lock()
	ch, mine := h.waiters[v.AttemptID]
	if mine {
		delete(h.waiters, v.AttemptID)
		ch <- v
	}
	h.mu.Unlock()
	if !mine && v.BotID != h.bot {
		return
	}
	h.mu.Lock()
	h.recent = append(h.recent, v)
	if len(h.recent) > recentVerdicts {
		h.recent = append(h.recent[:0], h.recent[len(h.recent)-recentVerdicts:]...)
	}
	h.mu.Unlock()
	h.broadcast(sseEvent{name: "verdict", data: mustJSON(v)})
}

// broadcast sends e to every stream; a stream whose buffer is full is
// closed (its page reconnects and reloads what it shows).
func (h *hub) broadcast(e sseEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- e:
		default:
			delete(h.subs, ch)
			close(ch)
		}
	}
}

// subscribe opens a stream and returns the recent verdicts to send first.
func (h *hub) subscribe() (chan sseEvent, []sseEvent) {
	ch := make(chan sseEvent, 64)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs[ch] = struct{}{}
	backlog := make([]sseEvent, 0, len(h.recent))
	for _, j := range h.recent {
		j.Replay = true
		backlog = append(backlog, sseEvent{name: "verdict", data: mustJSON(j)})
	}
	return ch, backlog
}

func (h *hub) unsubscribe(ch chan sseEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[ch]; ok {
		delete(h.subs, ch)
		close(ch)
	}
}
