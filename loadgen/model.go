package loadgen

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
)

// model decides the records of the attempts topic as the contract says:
// partition by partition in offset order, decision time = max(record
// timestamp, the partition's last decision time), every other producer's
// record moving that time too. It returns the expected verdict of every
// attempt that reached the log (decided[a] says which did).
//
// log is what readBack returned, or nil to use the records' produced
// timestamps and offsets (other producers' records are then unknown).
//
// Not modelled: the processor clamps timestamps to its clock + 5 minutes
// (the workload's timestamps end at the run's start), and forgets a verdict
// after max(window, --verdict-retention) (duplicates re-send attempts at
// most 12 simulated hours old).
func (p *plan) model(log map[int32][]logEntry) (want []events.Verdict, decided []bool) {
	if log == nil {
		log = map[int32][]logEntry{}
		for j := range p.recs {
			r := &p.recs[j]
			if r.err == nil {
				log[r.partition] = append(log[r.partition], logEntry{offset: r.offset, tsMs: r.tsMs, rec: int32(j)})
			}
		}
		for _, es := range log {
			slices.SortFunc(es, func(a, b logEntry) int { return cmp.Compare(a.offset, b.offset) })
		}
	}
	want = make([]events.Verdict, len(p.attempts))
	decided = make([]bool, len(p.attempts))
	for _, entries := range log {
		hist := map[int32][]quota.Send{} // by contact: each belongs to one bot
		hwm := int64(math.MinInt64)
		for _, e := range entries {
			t := max(e.tsMs, hwm)
			hwm = t
			if e.rec < 0 {
				continue
			}
			r := &p.recs[e.rec]
			c := p.attempts[r.attempt].contact
			if r.kind == kindFailed {
				hist[c], _ = quota.Release(hist[c], p.attemptID(r.attempt))
				continue
			}
			if decided[r.attempt] { // a re-sent attempt: its first verdict again
				continue
			}
			decided[r.attempt] = true
			in, err := events.DecodeInbound(p.value(int(e.rec)))
			if err != nil {
				want[r.attempt] = events.RejectedVerdict(in, err, t)
				continue
			}
			st := p.botOf(c).settings
			h := quota.Expire(hist[c], st.WindowMs, t)
			d := quota.Decide(h, st, in.AgentID, "", t)
			if d.Outcome == quota.Allowed {
				h = quota.Record(h, quota.Send{At: t, Agent: in.AgentID, Attempt: in.ID})
			}
			hist[c] = h
			want[r.attempt] = events.FromDecision(in, d, st, t)
		}
	}
	return want, decided
}

// maxExamples bounds the problems a report lists.
const maxExamples = 10

// check compares every verdict received with the model's and fills the
// report's counts, problems and latencies.
func (rep *Report) check(p *plan, log map[int32][]logEntry, extra []extraVerdict) {
	want, decided := p.model(log)
	example := func(format string, args ...any) {
		if len(rep.Problems) < maxExamples {
			rep.Problems = append(rep.Problems, fmt.Sprintf(format, args...))
		}
	}
	var lastRecv, lastAck int64
	rep.lat = make([]int64, 0, len(p.recs))
	for j := range p.recs {
		r := &p.recs[j]
		if r.err != nil {
			rep.ProduceErrors++
			example("record %d (attempt %s): not published: %v", j, p.attemptID(r.attempt), r.err)
			continue
		}
		rep.Records++
		lastAck = max(lastAck, r.ackNs)
		if r.kind == kindFailed {
			continue
		}
		id := p.attemptID(r.attempt)
		if !decided[r.attempt] {
			rep.Mismatches++
			example("attempt %s: published (partition %d offset %d) but not found in the log", id, r.partition, r.offset)
			continue
		}
		w := &want[r.attempt]
		rep.Model.add(w)
		if r.verdict == nil {
			rep.Missing++
			example("attempt %s (partition %d offset %d): no verdict", id, r.partition, r.offset)
			continue
		}
		rep.Verdicts++
		lastRecv = max(lastRecv, r.recvNs)
		rep.lat = append(rep.lat, max(r.recvNs-r.ackNs, 0))
		got, err := events.DecodeVerdict(r.verdict)
		if err != nil {
			rep.Mismatches++
			example("attempt %s: undecodable verdict: %v: %s", id, err, r.verdict)
			continue
		}
		rep.Counts.add(&got)
		rep.Checked++
		if got != *w {
			rep.Mismatches++
			example("attempt %s (partition %d offset %d):\n   got %+v\n  want %+v", id, r.partition, r.offset, got, *w)
		}
	}
	for _, x := range extra {
		rep.ExtraVerdicts++
		id := p.attemptID(x.attempt)
		got, err := events.DecodeVerdict(x.value)
		switch {
		case err != nil:
			rep.Mismatches++
			example("attempt %s: undecodable extra verdict: %v: %s", id, err, x.value)
		case !decided[x.attempt] || got != want[x.attempt]:
			rep.Mismatches++
			example("attempt %s: extra verdict differs:\n   got %+v\n  want %+v", id, got, want[x.attempt])
		default:
			rep.Checked++
		}
	}
	rep.lastRecvNs, rep.lastAckNs = lastRecv, lastAck
}
