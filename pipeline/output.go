package pipeline

import (
	"github.com/segmentio/kafka-go"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
)

// output is what a batch writes besides its changelog records: verdicts,
// dead letters and forwarded records, in the order decided.
type output struct {
	msgs []kafka.Message
	// arena holds the verdicts' encoded bytes; spans say which message's
	// value is where (the arena may still move while the batch is decided,
	// so the values are pointed at it by finish).
	arena []byte
	spans []span

	verdicts  int
	dlq       int
	forwarded int
	// byKind counts the verdicts by outcome and reason, for the metrics
	// (added once the batch's transaction committed).
	byKind map[verdictKind]int
	// byRule counts the new decisions of bots with rules by binding rule
	// and outcome, wouldBlock the shadow rules' would-blocks, by rule.
	byRule     map[ruleKind]int
	wouldBlock map[string]int
	// newestMs is the newest record timestamp of the batch, for the
	// decision-latency metric.
	newestMs int64
}

// span is where the value of msgs[msg] lies in the arena.
type span struct{ msg, start, end int }

type verdictKind struct {
	outcome events.Outcome
	reason  events.Reason
}

type ruleKind struct {
	rule    string
	outcome quota.Outcome
}

// reset empties out for the next batch of n records, keeping its buffers.
func (out *output) reset(n int) {
	if cap(out.arena) < 512*n {
		out.arena = make([]byte, 0, 512*n)
	}
	if out.byKind == nil {
		out.byKind, out.byRule, out.wouldBlock = map[verdictKind]int{}, map[ruleKind]int{}, map[string]int{}
	}
	clear(out.byKind)
	clear(out.byRule)
	clear(out.wouldBlock)
	*out = output{msgs: out.msgs[:0], arena: out.arena[:0], spans: out.spans[:0], byKind: out.byKind, byRule: out.byRule, wouldBlock: out.wouldBlock}
}

// countRules counts a new decision of a bot with rules for the metrics.
func (out *output) countRules(dec *quota.Decision) {
	if dec.Rule == "" {
		return
	}
	out.byRule[ruleKind{dec.Rule, dec.Outcome}]++
	for i := range dec.Rules {
		if dec.Rules[i].WouldBlock {
			out.wouldBlock[dec.Rules[i].Name]++
		}
	}
}

// emit appends the verdict message for rec.
func (d *decider) emit(out *output, rec *record, v *events.Verdict) {
	start := len(out.arena)
	out.arena = events.AppendVerdict(out.arena, v)
	key := rec.Key
	if len(key) > maxVerdictKey {
		// Only a rejected attempt can have such a key (a valid one is
		// bot_id/contact_id): cut it rather than have Kafka refuse the batch.
		key = key[:maxVerdictKey]
	}
	out.spans = append(out.spans, span{msg: len(out.msgs), start: start, end: len(out.arena)})
	out.msgs = append(out.msgs, kafka.Message{Topic: d.cfg.verdictsTopic, Key: key})
	out.verdicts++
	out.byKind[verdictKind{v.Outcome, v.Reason}]++
}

// finish points every verdict message at its bytes in the arena.
func (out *output) finish() {
	for _, s := range out.spans {
		out.msgs[s.msg].Value = out.arena[s.start:s.end:s.end]
	}
}

// count adds the batch's committed verdicts, dead letters and forwarded
// records to the metrics.
func (out *output) count(m *metrics, topic string) {
	for k, n := range out.byKind {
		m.verdicts.WithLabelValues(k.outcome.String(), k.reason.String()).Add(float64(n))
	}
	for k, n := range out.byRule {
		m.ruleVerdicts.WithLabelValues(k.rule, k.outcome.String()).Add(float64(n))
	}
	for rule, n := range out.wouldBlock {
		m.wouldBlock.WithLabelValues(rule).Add(float64(n))
	}
	if out.dlq > 0 {
		m.dlq.WithLabelValues(topic).Add(float64(out.dlq))
	}
	if out.forwarded > 0 {
		m.forwarded.Add(float64(out.forwarded))
	}
}
