package pipeline

import "fmt"

// resumeInput is what decides where a newly assigned partition resumes. It
// is read after this instance fenced every earlier producer of the
// partition (txnProducer.init), so the changelog cannot grow meanwhile.
type resumeInput struct {
	// Local says the local store has a position for the partition;
	// LocalOffset is its next attempts offset and LocalChangelog the
	// changelog offset up to which the local state reflects the changelog
	// (0: unknown: a state written before versions recorded it, or by a
	// processor without transactions, whose ChangelogEnd meant another
	// thing).
	Local          bool
	LocalOffset    int64
	LocalChangelog int64
	// Group is the consumer group's committed offset (< 0: none).
	Group int64
	// ChangelogStart and ChangelogEnd bound the partition's changelog as
	// a read_committed reader sees it (ChangelogEnd is the last stable
	// offset).
	ChangelogStart, ChangelogEnd int64
}

// resumeAction is how a partition's state is brought up to date.
type resumeAction int

const (
	// useLocal: the local state reflects the whole changelog.
	useLocal resumeAction = iota
	// catchUp: apply the changelog from From on top of the local state
	// (another owner wrote it since, or this instance committed a
	// transaction and stopped before its local commit).
	catchUp
	// restoreWhole: drop the local state and apply the changelog from
	// From, its start.
	restoreWhole
	// rebuild: nothing to restore: read the attempts partition from its
	// first offset, deciding again without publishing what the group's
	// offset says was published.
	rebuild
)

func (a resumeAction) String() string {
	switch a {
	case useLocal:
		return "use-local"
	case catchUp:
		return "catch-up"
	case restoreWhole:
		return "restore-whole"
	}
	return "rebuild"
}

// resumePlan is planResume's answer.
type resumePlan struct {
	Action resumeAction
	// From is the changelog offset to apply from (catchUp, restoreWhole).
	From int64
	// Why says in words why, for the log.
	Why string
}

// planResume decides how a partition resumes. It is a pure function; the
// partition worker carries the plan out.
func planResume(in resumeInput) resumePlan {
	switch {
	case in.Local && in.LocalChangelog == in.ChangelogEnd:
		return resumePlan{Action: useLocal, Why: "the local state reflects the whole changelog"}
	case in.Local && in.LocalChangelog > 0 && in.LocalChangelog >= in.ChangelogStart && in.LocalChangelog < in.ChangelogEnd:
		return resumePlan{Action: catchUp, From: in.LocalChangelog,
			Why: fmt.Sprintf("the changelog grew past the local state (%d records after it)", in.ChangelogEnd-in.LocalChangelog)}
	case in.ChangelogEnd > in.ChangelogStart:
		why := "no local state"
		switch {
		case in.Local && in.LocalChangelog == 0:
			why = "the local state does not say which changelog it reflects"
		case in.Local && in.LocalChangelog > in.ChangelogEnd:
			why = "the local state reflects more changelog than there is (topic recreated?)"
		case in.Local:
			why = "the changelog no longer holds the records after the local state (log start moved)"
		}
		return resumePlan{Action: restoreWhole, From: in.ChangelogStart, Why: why}
	}
	why := "no state locally or in the changelog"
	if in.Local {
		why = "the local state reflects more changelog than there is, and the changelog is empty (topic recreated?)"
	}
	return resumePlan{Action: rebuild, Why: why}
}

// publishFrom is the first attempts offset whose verdicts are published
// when the partition resumes at offset: records below the group's offset
// were decided, and their verdicts published, by an earlier owner (only an
// instance without the state of them decides them again, to rebuild it).
func publishFrom(offset, group int64) int64 {
	return max(offset, group)
}
