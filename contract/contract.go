package contract

// The contract's defaults; every one of them is a flag of the processor.
const (
	// GroupID is the processor's consumer group; its transactional ids
	// start with GroupID + "-".
	GroupID = "sendgate"
	// AttemptsTopic carries attempt and send-failed events, keyed
	// {bot_id}/{contact_id}.
	AttemptsTopic = "desk.active-messages.attempts"
	// SettingsTopic (compacted) carries settings-changed events keyed
	// {bot_id}, or tombstones.
	SettingsTopic = "desk.bot-settings"
	// VerdictsTopic carries the verdict events, keyed as their attempt.
	VerdictsTopic = "desk.active-messages.verdicts"
	// DLQTopic carries the dead letters.
	DLQTopic = "desk.active-messages.dlq"
)

// ChangelogSuffix makes the default name of the compacted topic that holds
// a copy of the state of consumer group G: G + ChangelogSuffix.
const ChangelogSuffix = "-state-changelog"
