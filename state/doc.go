// Package state is sendgate's durable store: the per-contact counted sends,
// the idempotency records (stored verdicts), the consumed positions and the
// bot settings, kept in one embedded Pebble database.
//
// # Atomicity
//
// Everything a decision changes (histories, verdicts, the partition's
// Position) is written through one Batch and committed as one atomic Pebble
// write, and so is everything a settings event changes (the bot's settings,
// the settings partition's offset). State and position therefore never
// disagree.
//
// The store is the cache of the state changelog, as Kafka Streams runs
// RocksDB: the pipeline commits a batch here only after the Kafka
// transaction that carried the same operations to the changelog committed,
// and without waiting for fsync (CommitNoSync). Position.ChangelogEnd says
// how much of the changelog the partition's state reflects; after a crash
// or a power loss (either can lose a tail of the unsynced write-ahead log;
// Pebble recovers a consistent prefix of batches) the pipeline catches up
// from there. Batch.Each hands out a batch's operations for the changelog and
// Batch.Restore applies them back; a Load rebuilds a partition whole from
// them, as one sstable ingested with its position (no write-ahead log, no
// memtable), so that data and position become durable in one step.
//
// # Layout
//
// Every key starts with a one-byte kind. State of an attempts-topic partition
// p lives under kindPartition followed by p as a 4-byte big-endian integer, so
// a partition's state is one contiguous key range that can be listed, dropped
// (DropPartition) or restored whole:
//
//	0x01 p:u32 0x01                                   Position
//	0x01 p:u32 0x02 len:uvarint bot len:uvarint contact  history of a contact
//	0x01 p:u32 0x03 len:uvarint attempt                  stored verdict
//	0x02 len:uvarint bot                                 BotSettings (global)
//	0x03 p:u32                                           settings-topic partition offset (global)
//
// Ids are length-prefixed, never separated, so they may hold any byte.
//
// Values are compact binary and start with a format version byte (1). The
// history and verdict values then carry their expiry instant (zig-zag
// varint).
//
// # Expiry
//
// There is no expiry index: Batch.Sweep walks a partition's histories and
// verdicts in key order with a cursor the caller carries from batch to
// batch, a bounded number of entries per batch, reads each value's expiry
// and deletes the expired ones. Every write of the hot path is thus a single
// key, and a history rewritten with a later expiry leaves nothing stale
// behind. The price is that an expired entry lives until the sweep next
// passes it. If a partition gains w new keys per batch, each live for L
// batches, and the sweep examines m >= w entries per batch, a pass takes about
// P = wL/(m-w/2) batches and the partition holds about w(L+P/2) entries: with
// m = w, P = 2L and twice the live entries; with m = 2w, P = 2L/3 and a third
// more. A batch of n records adds at most 2n keys (a history and a verdict
// each), fewer when contacts return: their histories are rewritten in place.
// Sweep also reports the earliest expiry among the entries it kept
// (Swept.Earliest), so that a caller that knows the earliest expiry of what
// it wrote can tell when the next entry expires, and rest until then.
//
// # Time
//
// The package never reads a clock; every instant is passed in, in Unix
// milliseconds.
package state
