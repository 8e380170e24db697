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
// naming the offending member's JSON path, e.g.
// "data.active_messages.rules[1].time_zone".
//
// Several rules (issue #12): an attempt may carry data.category
// (Inbound.Category); a settings event may carry rules and exempt_categories
// (quota.Settings.Rules and .Exempt, rules.go; the IANA zones of calendar
// rules are embedded with time/tzdata); a verdict of a bot with rules whose
// limit is enabled names its binding rule and lists the rules that applied
// (Verdict.Rule, Calendar, TimeZone, Rules[:NumRules], verdictrules.go), and
// an exempt attempt gets reason Exempt. Bots without rules, and every
// disabled bot, get byte for byte the verdicts they always got, in JSON and
// in the binary form (TestVerdictGolden).
//
// The encoders (AppendVerdict, AppendAttempt, AppendFailed,
// AppendSettingsEvent) append to a caller's buffer; AppendVerdict does not
// allocate. Verdict also has a compact, versioned binary form for the state
// store (AppendBinary, UnmarshalBinary: version 1 for verdicts without the
// members of rules, version 2 for the others); re-emitting a stored verdict
// gives byte-identical JSON.
//
// The package imports nothing of Kafka, Pebble or logging.
package events
