// Package pipeline is sendgate's Kafka runner: it joins the consumer group on
// the attempts topic, follows the settings topic in full, decides every
// attempt with the quota rule, and commits each batch's outputs, state and
// position as one Kafka transaction. It is the only package that imports
// kafka-go.
//
// # The commit protocol
//
// Each owned attempts partition has one worker and one transactional
// producer, whose transactional id is "{group-id}-{attempts-topic}-{partition}"
// (txn.go says why one id per partition). Per batch (commit.go):
//
//  1. fetch the next committed records (isolation read_committed; when the
//     settings partitions have the attempts partition's leader, the same
//     request reads their last stable offsets, otherwise a ListOffsets
//     does), catch up on settings to those offsets (read-your-settings),
//     decide (decide.go);
//  2. in one transaction: the batch's changelog records (its state
//     operations, one record per key, then its position) to the partition's
//     changelog partition, its verdicts and dead letters, the copies of
//     records that sat on another partition than their key's (forward.go:
//     they are decided on their key's partition), and the group offset of
//     the attempts partition (TxnOffsetCommit, with the member id and
//     generation);
//  3. EndTxn(commit);
//  4. the local Pebble commit: the same state operations and the position,
//     with the changelog offset the state now reflects.
//
// The expiry sweep of a partition's state runs in its batches, and rests while
// nothing can have expired (sweep.go).
//
// The changelog (compacted, one partition per attempts partition) is the
// durable copy of the state; the local store is its cache, committed
// without fsync. The local store never holds a decision whose transaction
// did not commit. A transaction that fails is aborted and the batch read
// again; its verdicts were never visible to read_committed consumers.
//
// # Fencing
//
// An instance that gets a partition first calls InitProducerID with the
// partition's transactional id: the broker bumps the epoch, aborts the
// previous owner's open transaction and refuses whatever that owner sends
// afterwards. A member that lost its generation (stalled by a GC or VM
// pause past the session timeout) cannot commit either: TxnOffsetCommit
// refuses its generation. Its worker drops the batch in hand and commits
// nothing locally.
//
// # Resuming a partition
//
// After the fencing, planResume (resume.go, testdata/resume) compares the
// local position (its attempts offset and the changelog offset it
// reflects) with the changelog's start and last stable offset: use the
// local state, catch up from the changelog (another owner wrote it since, or
// this instance died between EndTxn and its local commit), restore it whole
// (no usable local state), or rebuild from the attempts topic (no changelog).
// The worker carries the plan out; its lifecycle is one partState
// (starting, restoring, rebuilding, running, stopped). Only a running
// partition is ready and answers quota queries.
//
// # Standby copies
//
// With Config.StandbyReplicas = N, an instance keeps a warm copy of N
// other instances' partitions (standby.go): it follows their changelog
// from its local position on, read_committed as a restore does, and
// applies it with the restore's code, keeping the local position's
// ChangelogEnd where it stopped. When such a partition is assigned to
// it, planResume finds the local state at the changelog's end, or a few
// records short of it (the abort marker the fencing wrote, the batches of
// the last moments), and the worker catches up only that tail. A standby
// never decides and never writes to Kafka.
//
// There is no cluster protocol of its own: at the start of each
// generation every instance describes the group (DescribeGroups: the
// members and their assignments, as the owners lookup reads them) and
// computes the same placement, placeStandbys (placement.go,
// testdata/standby): for each partition, N members other than its owner,
// the least loaded first (partitions owned plus copies), ties to the one
// that reported the most caught-up copy of it when it joined, then to the
// first after the owner in member-id order; N larger than the number of
// other instances keeps one copy on each of them.
// Standbys run under the generation, like the workers, each with one
// standbyState (starting, restoring, following, stopped): the generation
// ends only once every standby has stopped, its last local commit done,
// so no worker of the next generation starts on a partition while this
// instance's standby of it still writes; within a generation the
// placement never puts a copy on the owner, and a standby is never
// started for a partition this instance owns. Readiness does not wait for
// the copies.
//
// # The assignment
//
// The group's balancer (assign.go, testdata/assign) is state-aware and
// sticky. At each join, once the generation before has ended, every member
// puts in its subscription's user data (memberData, whose format assign.go
// describes) its advertised HTTP address and, for each attempts partition
// it has local state of, the ChangelogEnd of its local position and
// whether it owned the partition. The leader's assign balances first
// (floor or ceil of partitions/members each), then gives each partition to
// the member with the most caught-up copy (ties to its owner, then by
// member id), swapping a partition left without a copy for one its member
// has a copy of when that saves a restore; partitions nobody with room
// has a copy of go in order, as ranges. So a partition stays with its
// owner, and after a kill goes to the member of its standby copy, whose
// resume is a use-local or a short catch-up. Members also offer the range
// protocol with the address alone: the coordinator picks the protocol
// every member offers, so a group with a member of an earlier version
// uses range until it has left; a member's user data of that format reads
// as an address without state.
//
// # Queries
//
// Any instance answers a quota query: one that does not own the contact's
// partition finds the owner in the group's member metadata, where each
// member advertises its HTTP address (owners.go), and the api package
// forwards the query there.
//
// Decision time comes from the record timestamp and the partition's
// persisted high-water mark, never from the clock of the moment (beyond the
// contract's future clamp), and an attempt id already decided re-emits its
// stored verdict. A batch whose transaction aborted is decided again, maybe
// under newer settings: its first verdicts were never visible.
package pipeline
