// Package loadgen drives sendgate with a synthetic workload and checks it:
// it publishes settings, then attempts (and optionally re-sent attempts,
// send failures and invalid attempts) to the attempts topic at a fixed rate
// or as fast as possible, consumes the verdicts, measures decisions per
// second and the latency from produce acknowledgement to verdict receipt,
// and compares every verdict with a model of the rule run over the records
// as they landed in the log (partition, offset, timestamp).
//
// Every id of a run carries a unique run id, so runs never see each other's
// state and can share a broker and a processor. cmd/loadgen wires flags to
// Run; scripts/bench.sh runs it against the processor.
package loadgen
