// Package e2e holds the end-to-end tests: they build the real processor
// binary, run it against an in-process Kafka-protocol broker (kfake over TCP),
// kill it with SIGKILL at random moments and check every verdict against a
// reference model of the rule.
//
// Two environment variables help diagnose a failure: E2E_LOG_LEVEL sets the
// processors' --log-level (debug adds every committed batch: from, next,
// hwm, changelog end), and E2E_KEEP_DIR names a directory where a failed
// crash test leaves every run's log, the records as the model has them and
// a copy of the data dir (the embedded broker's log included).
package e2e
