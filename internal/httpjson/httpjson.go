// Package httpjson writes the JSON responses of sendgate's two HTTP servers,
// the processor's query API and the desk console, so that both answer errors
// with the same body: {"error": "..."}.
package httpjson

import (
	"encoding/json"
	"net/http"
)

// Write writes v as a JSON response with the given status.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Error writes {"error": msg} with the given status.
func Error(w http.ResponseWriter, status int, msg string) {
	Write(w, status, map[string]string{"error": msg})
}

// NotFound answers every request with 404 and an error naming its route: the
// handler of "/" on a mux whose other patterns are the routes.
func NotFound(w http.ResponseWriter, r *http.Request) {
	Error(w, http.StatusNotFound, "no such route: "+r.Method+" "+r.URL.Path)
}
