package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/sendgate/sendgate/internal/httpjson"
)

// processorGet GETs path from the processor's API.
func (s *Server) processorGet(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.procURL+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if s.cfg.ProcessorToken != "" {
		req.Header.Set("Authorization", "Bearer "+s.cfg.ProcessorToken)
	}
	resp, err := s.web.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("processor at %s: %w", s.cfg.ProcessorURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("processor at %s: %w", s.cfg.ProcessorURL, err)
	}
	return resp.StatusCode, b, nil
}

// proxy answers with what the processor answered for path: its JSON and
// status, or 502 when it cannot be reached.
func (s *Server) proxy(w http.ResponseWriter, r *http.Request, path string) {
	s.proxyWith(w, r, path, nil)
}

// proxyWith is proxy with the processor's 200 answers passed through edit,
// when not nil.
func (s *Server) proxyWith(w http.ResponseWriter, r *http.Request, path string, edit func([]byte) []byte) {
	code, b, err := s.processorGet(r.Context(), path)
	if err != nil {
		httpjson.Error(w, http.StatusBadGateway, err.Error()+" (is the processor running?)")
		return
	}
	if !json.Valid(b) {
		httpjson.Error(w, http.StatusBadGateway, fmt.Sprintf("processor at %s answered %d with no JSON", s.cfg.ProcessorURL, code))
		return
	}
	if code == http.StatusOK && edit != nil {
		b = edit(b)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func (s *Server) settingsPath() string { return "/v1/bots/" + url.PathEscape(s.cfg.Bot) + "/settings" }

// currentSettings reads the bot's settings from the processor: their version
// and the whole answer.
func (s *Server) currentSettings(ctx context.Context) (int64, json.RawMessage, error) {
	code, body, err := s.processorGet(ctx, s.settingsPath())
	if err != nil {
		return 0, nil, err
	}
	if code != http.StatusOK {
		return 0, nil, fmt.Errorf("processor at %s: settings: %d %s", s.cfg.ProcessorURL, code, bytes.TrimSpace(body))
	}
	var b struct {
		Version *int64 `json:"version"`
	}
	if err := json.Unmarshal(body, &b); err != nil || b.Version == nil {
		return 0, nil, fmt.Errorf("processor at %s: settings: no version in %.200s", s.cfg.ProcessorURL, body)
	}
	return *b.Version, body, nil
}
