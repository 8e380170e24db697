// Package kafkatest holds what the tests of several packages share: an
// in-process kfake broker seeded with sendgate's topics, a stand-in for the
// processor that answers records from it, and a buffer that a test reads
// while another goroutine writes it. It is imported only by _test.go files.
package kafkatest
