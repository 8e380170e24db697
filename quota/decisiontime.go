package quota

import "time"

// FutureClamp is how far ahead of the processor's wall clock a record
// timestamp may be before it is clamped (fixed by the contract, "Time").
const FutureClamp = 5 * time.Minute

// DecisionTime is the decision time of a record on the attempts topic, in
// Unix ms (the contract's "Time"): its timestamp recordMs, first clamped to
// nowMs + FutureClamp if later than that, then raised to hwm, the
// partition's last decision time, if earlier (decision times never go back
// on a partition). nowMs is the processor's wall clock, read by the caller.
func DecisionTime(recordMs, nowMs, hwm int64) int64 {
	return max(min(recordMs, nowMs+FutureClamp.Milliseconds()), hwm)
}
