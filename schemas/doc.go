// Package schemas holds the machine-readable form of sendgate's wire
// contract: one JSON Schema (draft 2020-12) per event type, plus valid and
// invalid examples, embedded in FS.
//
// Layout of FS:
//
//	attempt-requested.schema.json, attempt-failed.schema.json,
//	settings-changed.schema.json, verdict.schema.json
//	examples/<event>/valid/<name>.json
//	examples/<event>/invalid/<name>.<field>.json
//
// where <event> is a schema file name without ".schema.json" and <field> is
// the JSON path ("data.bot_id", "id", "value" for the whole value) that the
// error of package events must name for that invalid example.
//
// The schemas and the Go decoders in package events agree by test: every
// example is validated against its schema and run through the decoder, and
// the fuzz tests of events check that whatever the decoders accept, the
// schemas accept. Ids are limited to 256 bytes of UTF-8; JSON Schema's
// maxLength counts characters, so the schemas also carry "maxBytes" (a
// sendgate keyword, ignored by other validators) which the tests enforce
// through package schematest.
package schemas
