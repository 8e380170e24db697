// Package state is sendgate's durable store: the per-contact counted sends,
// the idempotency records (stored verdicts), the consumed positions and the
// bot settings, kept in one embedded Pebble database.
//
// # Atomicity
//
// Everything a decision changes (histories, verdicts, the partition's
// Position) and everything a settings event changes (the bot's settings, the
// settings partition's offset) is written through one Batch and committed as
// one atomic, fsynced Pebble write. State and offset therefore never
// disagree: after a crash the processor re-reads exactly the records whose
// effects were not committed.
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
//	0x01 p:u32 0x04 expiry:u64 sub:u8 ids...             expiry index entry (empty value)
//	0x02 len:uvarint bot                                 BotSettings (global)
//	0x03 p:u32                                           settings-topic partition offset (global)
//
// Ids are length-prefixed, never separated, so they may hold any byte. The
// expiry is an int64 with its sign bit flipped, big-endian, so index entries
// sort by time. An index entry's sub and ids are the primary key's, so the
// primary key is recovered from the index key without a lookup.
//
// Values are compact binary and start with a format version byte (1). The
// history and verdict values then carry their expiry instant (zig-zag varint),
// which Batch.Expire compares with the index entry's: an entry whose value
// has since been rewritten with another expiry is stale and only the entry is
// removed.
//
// # Time
//
// The package never reads a clock; every instant is passed in, in Unix
// milliseconds.
package state
