package api

import (
	"context"
	"io"
	"net/http"
	"time"
)

// forwardedHeader marks a quota query one instance forwarded to another:
// the receiver answers it itself (with a 503 if it does not own the
// partition either), never forwards it again.
const forwardedHeader = "X-Sendgate-Forwarded"

// forwardTimeout bounds asking the owner.
const forwardTimeout = 2 * time.Second

// forward asks the owner at addr (host:port) the same query and writes its
// answer unchanged. It reports false, having written nothing, when the
// owner cannot be asked.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, addr string) bool {
	ctx, cancel := context.WithTimeout(r.Context(), forwardTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+r.URL.RequestURI(), nil)
	if err != nil {
		return false
	}
	req.Header.Set(forwardedHeader, "1")
	if a := r.Header.Get("Authorization"); a != "" {
		req.Header.Set("Authorization", a)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.cfg.Logger.Warn().Err(err).Str("owner", addr).Msg("forwarding a quota query to the partition's owner failed")
		return false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return false
	}
	for _, h := range []string{"Content-Type", "Retry-After"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	return true
}
