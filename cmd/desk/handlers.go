package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sendgate/sendgate/internal/httpjson"
)

func (s *Server) config(w http.ResponseWriter, r *http.Request) {
	httpjson.Write(w, http.StatusOK, map[string]any{
		"bot_id":          s.cfg.Bot,
		"processor_url":   s.cfg.ProcessorURL,
		"brokers":         s.cfg.Brokers,
		"roles":           roles,
		"agents":          agents,
		"contacts":        contacts,
		"categories":      categories,
		"verdict_timeout": s.cfg.VerdictTimeout.String(),
	})
}

// status reports whether the processor answers and is ready, and whether
// the verdict consumer has a fetch error.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	body := map[string]string{"processor": "ready"}
	code, msg, err := s.processorGet(r.Context(), "/readyz")
	switch {
	case err != nil:
		body["processor"], body["detail"] = "unreachable", err.Error()
	case code != http.StatusOK:
		body["processor"], body["detail"] = "starting", strings.TrimSpace(string(msg))
	}
	s.consumerMu.Lock()
	if s.consumerErr != "" {
		body["verdicts"] = s.consumerErr
	}
	s.consumerMu.Unlock()
	httpjson.Write(w, http.StatusOK, body)
}

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request) {
	s.proxy(w, r, s.settingsPath())
}

// putSettings publishes a desk.settings.changed event with the next version,
// for a role with the "edit bot general settings" permission, then waits
// (briefly) for the processor to apply it.
func (s *Server) putSettings(w http.ResponseWriter, r *http.Request) {
	role, ok := roleByID(r.Header.Get("X-Desk-Role"))
	if !ok || !role.CanEditSettings {
		httpjson.Error(w, http.StatusForbidden, `changing the bot's settings needs the "edit bot general settings" permission; switch the role to Admin`)
		return
	}
	var req settingsRequest
	if !readJSON(w, r, &req) {
		return
	}
	st, ferr := req.settings()
	if ferr != nil {
		httpjson.Write(w, http.StatusBadRequest, ferr)
		return
	}

	s.settingsMu.Lock()
	defer s.settingsMu.Unlock()
	cur, _, err := s.currentSettings(r.Context())
	if err != nil {
		httpjson.Error(w, http.StatusBadGateway, "reading the current settings version: "+err.Error()+" (is the processor running?)")
		return
	}
	if req.BaseVersion != nil && *req.BaseVersion != cur {
		httpjson.Write(w, http.StatusConflict, map[string]any{
			"error":   fmt.Sprintf("the settings changed since this page loaded them (version %d, now %d); reload them and save again", *req.BaseVersion, cur),
			"version": cur,
		})
		return
	}
	st.Version = cur + 1
	pctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	rec := &kgo.Record{Topic: s.cfg.SettingsTopic, Key: []byte(s.cfg.Bot),
		Value: settingsEvent("set-desk-"+randomHex(), s.cfg.Bot, role.User, st, time.Now().UnixMilli())}
	if err := s.kafka.ProduceSync(pctx, rec).FirstErr(); err != nil {
		httpjson.Error(w, http.StatusBadGateway, fmt.Sprintf("publishing the settings to %s: %v (is the broker at %s up?)", s.cfg.SettingsTopic, err, strings.Join(s.cfg.Brokers, ",")))
		return
	}
	s.cfg.Logf("published settings version %d for %s by %s", st.Version, s.cfg.Bot, role.User)

	// Kafka acknowledged the event, so every attempt fetched from now on is
	// decided under it; the query API follows the settings topic a moment
	// later. Wait for that, so the page shows what is in force.
	applied := false
	var now json.RawMessage
	for wait := time.Now().Add(5 * time.Second); time.Now().Before(wait) && r.Context().Err() == nil; {
		var v int64
		if v, now, err = s.currentSettings(r.Context()); err == nil && v >= st.Version {
			applied = true
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp := map[string]any{"version": st.Version, "applied": applied, "changed_by": role.User}
	if applied {
		resp["settings"] = now
	}
	s.hub.broadcast(sseEvent{name: "settings", data: mustJSON(map[string]any{"version": st.Version, "changed_by": role.User})})
	httpjson.Write(w, http.StatusOK, resp)
}

// sendRequest is the body of POST /api/send.
type sendRequest struct {
	AgentID   string `json:"agent_id"`
	ContactID string `json:"contact_id"`
	// Category is the template category, one of categories; "" for none.
	Category string `json:"category"`
}

// send publishes a desk.active_message.requested event and answers with its
// verdict.
func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	var req sendRequest
	if !readJSON(w, r, &req) {
		return
	}
	if !known(agents, req.AgentID) {
		httpjson.Error(w, http.StatusBadRequest, fmt.Sprintf("agent_id: unknown agent %q", req.AgentID))
		return
	}
	if !known(contacts, req.ContactID) {
		httpjson.Error(w, http.StatusBadRequest, fmt.Sprintf("contact_id: unknown contact %q", req.ContactID))
		return
	}
	if req.Category != "" && !slices.Contains(categories, req.Category) {
		httpjson.Error(w, http.StatusBadRequest, fmt.Sprintf("category: unknown template category %q (want one of %s, or none)", req.Category, strings.Join(categories, ", ")))
		return
	}
	id := "att-desk-" + randomHex()
	verdict := s.hub.wait(id)
	defer s.hub.unwait(id)
	pctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	rec := &kgo.Record{Topic: s.cfg.AttemptsTopic, Key: []byte(s.cfg.Bot + "/" + req.ContactID),
		Value: attemptEvent(id, attemptData{BotID: s.cfg.Bot, ContactID: req.ContactID, AgentID: req.AgentID, Category: req.Category}, time.Now().UnixMilli())}
	if err := s.kafka.ProduceSync(pctx, rec).FirstErr(); err != nil {
		httpjson.Error(w, http.StatusBadGateway, fmt.Sprintf("publishing the attempt to %s: %v (is the broker at %s up, and has the processor created its topics?)",
			s.cfg.AttemptsTopic, err, strings.Join(s.cfg.Brokers, ",")))
		return
	}
	t := time.NewTimer(s.cfg.VerdictTimeout)
	defer t.Stop()
	select {
	case v := <-verdict:
		httpjson.Write(w, http.StatusOK, v)
	case <-t.C:
		httpjson.Write(w, http.StatusGatewayTimeout, map[string]string{"attempt_id": id,
			"error": fmt.Sprintf("no verdict for attempt %s within %s: is the processor running and consuming %s?", id, s.cfg.VerdictTimeout, s.cfg.AttemptsTopic)})
	case <-r.Context().Done():
	}
}

// events streams the bot's verdicts (and settings saves) to the page as
// Server-Sent Events, starting with the recent ones.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	ch, backlog := s.hub.subscribe()
	defer s.hub.unsubscribe(ch)
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "retry: 2000\n\n")
	for _, e := range backlog {
		e.write(w)
	}
	if rc.Flush() != nil {
		return
	}
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case e, ok := <-ch:
			if !ok {
				return // too slow: the page reconnects and resyncs
			}
			e.write(w)
		case <-ping.C:
			_, _ = io.WriteString(w, ": ping\n\n")
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// readJSON decodes a JSON request body into v, answering 415 or 400 itself
// when it cannot. Requiring application/json also means a cross-site form
// cannot post here without a CORS preflight, which this server never grants.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		httpjson.Error(w, http.StatusUnsupportedMediaType, "Content-Type: must be application/json")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "body: "+err.Error())
		return false
	}
	return true
}

func randomHex() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs and maps are marshalled
	}
	return b
}
