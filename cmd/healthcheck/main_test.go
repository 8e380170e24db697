package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"status":"ok"}`)) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("{\"status\":\"not ready\"}\n"))
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/healthz", http.StatusFound) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { time.Sleep(time.Second) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	_, port, _ := net.SplitHostPort(addr)

	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	for _, tc := range []struct {
		name    string
		args    []string
		env     string // SENDGATE_HTTP_ADDR
		code    int
		wantOut string // substring of stdout+stderr
	}{
		{"2xx", []string{srv.URL + "/healthz"}, "", 0, "GET " + srv.URL + "/healthz: 200 OK"},
		{"503 with body", []string{srv.URL + "/readyz"}, "", 1, `503 Service Unavailable: {"status":"not ready"}`},
		{"404", []string{srv.URL + "/nope"}, "", 1, "404 Not Found"},
		{"redirect not followed", []string{srv.URL + "/moved"}, "", 1, "302 Found"},
		{"timeout", []string{"--timeout", "100ms", srv.URL + "/slow"}, "", 1, "no answer within 100ms"},
		{"refused", []string{"http://" + closed + "/healthz"}, "", 1, "connection refused"},
		{"path on SENDGATE_HTTP_ADDR", []string{"/healthz"}, addr, 0, "200 OK"},
		{"path on an unspecified host", []string{"/healthz"}, "0.0.0.0:" + port, 0, "http://127.0.0.1:" + port + "/healthz: 200 OK"},
		{"path on the default address", []string{"/healthz"}, "", -1, "http://127.0.0.1:8080/healthz"},
		{"bad SENDGATE_HTTP_ADDR", []string{"/healthz"}, "8080", 1, `SENDGATE_HTTP_ADDR (--http-addr): "8080"`},
		{"--http-addr wins over SENDGATE_HTTP_ADDR", []string{"--http-addr", addr, "/healthz"}, "8080", 0, "200 OK"},
		{"bad --http-addr", []string{"--http-addr", "8080", "/healthz"}, "", 1, `--http-addr: "8080"`},
		{"no argument", nil, "", 1, "want exactly one URL"},
		{"two arguments", []string{"/a", "/b"}, "", 1, "want exactly one URL"},
		{"not a URL", []string{"localhost:8080/healthz"}, "", 1, "want http://host:port/path"},
		{"bad flag", []string{"--nope", "/healthz"}, "", 1, "flag provided but not defined"},
		{"bad timeout", []string{"--timeout", "0s", "/healthz"}, "", 1, "--timeout must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			getenv := func(k string) string {
				if k == "SENDGATE_HTTP_ADDR" {
					return tc.env
				}
				return ""
			}
			code := run(tc.args, getenv, &out, &out)
			if tc.code >= 0 && code != tc.code {
				t.Errorf("exit %d, want %d; output: %s", code, tc.code, out.String())
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Errorf("output %q, want it to contain %q", out.String(), tc.wantOut)
			}
			if n := strings.Count(strings.TrimSpace(out.String()), "\n"); code != 0 && tc.name != "bad flag" && n != 0 {
				t.Errorf("want one line of output, got %q", out.String())
			}
		})
	}
}
