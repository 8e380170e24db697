package schemas

import "embed"

// FS holds the schema files and the examples.
//
//go:embed *.schema.json examples
var FS embed.FS

// File names of the schemas in FS.
const (
	// AttemptRequested describes desk.active_message.requested.
	AttemptRequested = "attempt-requested.schema.json"
	// AttemptFailed describes desk.active_message.failed.
	AttemptFailed = "attempt-failed.schema.json"
	// SettingsChanged describes desk.settings.changed.
	SettingsChanged = "settings-changed.schema.json"
	// Verdict describes desk.active_message.decided.
	Verdict = "verdict.schema.json"
	// Examples is the directory of the examples in FS.
	Examples = "examples"
)

// All lists the schema file names.
var All = []string{AttemptRequested, AttemptFailed, SettingsChanged, Verdict}
