// Package quota is the rule sendgate enforces: at most X counted sends to one
// customer contact within a rolling window, and, for a bot that has them,
// up to 9 more rules: rolling windows or calendar periods (day, ISO week,
// month) in an IANA time zone, limited to some template categories, per
// agent or per contact, enforced or in shadow; and exempt categories
// (rules.go, calendar.go).
//
// Everything here is a pure function of (counted sends, settings, decision
// time): no I/O, no clock, no logging. Times are Unix milliseconds. The rule is
// exact: with limit X the (X+1)-th allowed send inside any window of the
// configured length is impossible, and RetryAt is the instant a slot frees.
//
// A send decided at time t counts for every decision at a time d with
// t <= d < t+window; for a calendar rule, when t <= d and both fall in the
// same period of the rule's zone.
//
// # Using the package
//
// The caller keeps, per contact, the history of counted sends: a []Send in
// ascending At order, holding every agent's sends. For each attempt it calls
// [Decide] with the history, the settings in force, the attempt's agent and
// category and the decision time; when the verdict is Allowed and not
// Exempt (whether or not the limit is enabled, so that enabling it acts on
// real history) it stores the send, with its category, with [Record]. A
// failed send is removed with [Release]. [Expire] drops sends that no
// decision under the current rules can count any more (pass
// [Settings.HorizonMs]), and [ExpiresAt] says when the whole history will
// have expired (for a storage TTL). [Usage] answers the quota query API at
// any instant without recording anything.
//
// The history functions may reuse the backing array of the slice they are
// given, like append: the caller must use the returned slice and forget the
// old one.
//
// # What the caller owns
//
// Idempotency is the caller's: this package does not know which attempts were
// already decided. A redelivered attempt must be answered from the stored
// verdict, never passed to Decide and Record again, or it would be counted
// twice. Likewise, attempt ids in the history are assumed unique.
//
// The decision times the caller passes must be non-decreasing per contact (the
// pipeline guarantees this per partition); Decide and Usage tolerate sends
// later than the decision time by ignoring them.
package quota
