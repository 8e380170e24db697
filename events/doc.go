// Package events holds sendgate's wire types: the CloudEvents 1.0
// (structured JSON) values of the attempts, settings and verdicts topics, and
// their decoding, validation and encoding.
//
// The decoders, DecodeInbound and DecodeSettings on the hot path and
// DecodeVerdict for tests and tools, are a small strict JSON scanner
// (RFC 8259; no encoding/json, no reflection; BenchmarkDecodeInbound and
// BenchmarkDecodeInboundStdlib compare it with encoding/json) that validates
// exactly what the JSON Schemas in package schemas describe, with one
// deliberate difference: *_id lengths are bytes (the contract's rule), while
// JSON Schema's maxLength counts characters; the schemas carry a "maxBytes"
// keyword that the schema tests enforce. Validation errors are *Error values
// naming the offending member's JSON path.
//
// The encoders (AppendVerdict, AppendAttempt, AppendFailed,
// AppendSettingsEvent) append to a caller's buffer; AppendVerdict does not
// allocate. Verdict also has a compact, versioned binary form for the state
// store (AppendBinary, UnmarshalBinary); re-emitting a stored verdict gives
// byte-identical JSON.
//
// The package imports nothing of Kafka, Pebble or logging.
package events
