//go:build race

package state

// raceEnabled reports a -race build, in which Pebble checks invariants and
// allocates more.
const raceEnabled = true
