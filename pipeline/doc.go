// Package pipeline is sendgate's Kafka runner: it joins the consumer group on
// the attempts topic, follows the settings topic in full, decides every
// attempt with the quota rule, publishes verdicts (and dead letters) and waits
// for their acknowledgement, and only then commits the partition's state and
// its next offset to Pebble in one synced batch.
//
// It is the only package that imports kafka-go. The flow per assigned
// partition is:
//
//	fetch a batch -> catch up on settings -> decide -> publish, await acks
//	  -> commit state + offset (one pebble.Sync batch) -> commit group offset
//
// A crash at any point re-reads the records after the last committed batch;
// decisions are deterministic (decision time comes from the record timestamp
// and the persisted high-water mark), so the verdicts published again are the
// same and nothing is counted twice.
package pipeline
