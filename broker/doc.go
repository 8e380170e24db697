// Package broker runs the embedded Kafka-protocol broker of sendgate's
// single-machine development mode: github.com/twmb/franz-go/pkg/kfake,
// listening on one address and keeping its log on disk. Any Kafka client,
// sendgate's own included, talks to it over TCP as to a real cluster.
package broker
