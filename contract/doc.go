// Package contract holds the values of sendgate's external contract
// (../shared/contract.md, linked from README.md) that more than one command
// needs: the default topic names and the default consumer group.
//
// It imports nothing, so that a command that only produces or reads
// sendgate's topics (loadgen, sgctl, desk, the development broker) does
// not link the processor's Kafka and Pebble code to learn their names.
package contract
