// Package api is sendgate's HTTP surface: health and readiness probes,
// Prometheus metrics, and the settings and quota queries of the contract.
// Errors are JSON {"error": "..."} with a 4xx or 5xx status; no internal
// error text reaches a response.
package api
