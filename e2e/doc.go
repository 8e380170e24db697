// Package e2e holds the end-to-end tests: they build the real processor
// binary, run it against an in-process Kafka-protocol broker (kfake over TCP),
// kill it with SIGKILL at random moments and check every verdict against a
// reference model of the rule.
package e2e
