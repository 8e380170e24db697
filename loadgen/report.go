package loadgen

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
)

// Counts counts verdicts by outcome and reason.
type Counts struct {
	Allowed       int `json:"allowed"`
	WithinLimit   int `json:"within_limit"`
	LimitDisabled int `json:"limit_disabled"`
	Blocked       int `json:"blocked"`
	Rejected      int `json:"rejected"`
}

func (c *Counts) add(v *events.Verdict) {
	switch v.Outcome {
	case events.Allowed:
		c.Allowed++
		if v.Reason == events.LimitDisabled {
			c.LimitDisabled++
		} else {
			c.WithinLimit++
		}
	case events.Blocked:
		c.Blocked++
	case events.Rejected:
		c.Rejected++
	}
}

func (c Counts) String() string {
	return fmt.Sprintf("allowed %d (within_limit %d, limit_disabled %d), blocked %d, rejected %d",
		c.Allowed, c.WithinLimit, c.LimitDisabled, c.Blocked, c.Rejected)
}

// Latency summarizes the time from an attempt's produce acknowledgement to
// the receipt of its verdict, in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Report is the outcome of a Run.
type Report struct {
	RunID string `json:"run_id"`
	// The workload.
	Attempts     int     `json:"attempts"`
	Duplicates   int     `json:"duplicates"`
	Failed       int     `json:"failed"`
	Invalid      int     `json:"invalid"`
	Bots         int     `json:"bots"`
	BotsContact  int     `json:"bots_contact"`
	BotsAgent    int     `json:"bots_agent_contact"`
	BotsDisabled int     `json:"bots_disabled"`
	Contacts     int     `json:"contacts"`
	Agents       int     `json:"agents"`
	Partitions   int     `json:"partitions"`
	Rate         float64 `json:"rate"`
	SpanSeconds  float64 `json:"span_seconds"`

	// Records is the attempts-topic records published; ProduceErrors those
	// that could not be.
	Records       int `json:"records"`
	ProduceErrors int `json:"produce_errors"`
	// ProduceSeconds is from the first produce call to the last
	// acknowledgement; ProducePerSec the records acknowledged per second.
	ProduceSeconds float64 `json:"produce_seconds"`
	ProducePerSec  float64 `json:"produce_per_sec"`
	// Verdicts is the verdicts received for the attempt records (one each);
	// Missing the attempt records without one; ExtraVerdicts the verdicts
	// beyond one per record (re-emissions); ForeignVerdicts those of other
	// runs or producers, ignored.
	Verdicts        int  `json:"verdicts"`
	Missing         int  `json:"missing"`
	ExtraVerdicts   int  `json:"extra_verdicts"`
	ForeignVerdicts int  `json:"foreign_verdicts"`
	TimedOut        bool `json:"timed_out"`
	// ElapsedSeconds is from the first produce call to the last verdict;
	// DecisionsPerSec is Verdicts over it.
	ElapsedSeconds  float64 `json:"elapsed_seconds"`
	DecisionsPerSec float64 `json:"decisions_per_sec"`
	// LatencyMs: produce acknowledgement to verdict receipt.
	LatencyMs Latency `json:"latency_ms"`
	// Counts are the verdicts received, Model the model's verdicts of the
	// same records.
	Counts Counts `json:"counts"`
	Model  Counts `json:"model_counts"`
	// Checked is the verdicts compared with the model; Mismatches those
	// that differ (or could not be decoded); Problems up to ten examples
	// of what went wrong.
	Checked    int      `json:"checked"`
	Mismatches int      `json:"mismatches"`
	Problems   []string `json:"problems,omitempty"`
	// TimestampSource says where the model's record timestamps came from:
	// "read back" (the attempts topic, after the run) or "produced".
	TimestampSource string `json:"timestamp_source"`
	// OK: every record published, every verdict received and equal to the
	// model's.
	OK bool `json:"ok"`

	lat                   []int64
	lastRecvNs, lastAckNs int64
}

func newReport(cfg *Config, p *plan, partitions int) *Report {
	rep := &Report{RunID: p.run, Attempts: len(p.attempts), Duplicates: p.nDup, Failed: p.nFail, Invalid: p.nInvalid,
		Bots: len(p.bots), Contacts: cfg.Contacts, Agents: cfg.Agents, Partitions: partitions, Rate: cfg.Rate,
		SpanSeconds: cfg.Span.Seconds()}
	for _, b := range p.bots {
		switch {
		case !b.settings.Enabled:
			rep.BotsDisabled++
		case b.settings.Scope == quota.ScopeAgentContact:
			rep.BotsAgent++
		default:
			rep.BotsContact++
		}
	}
	return rep
}

// finish derives the rates and percentiles and OK.
func (rep *Report) finish() {
	if rep.lastAckNs > 0 {
		rep.ProducePerSec = float64(rep.Records) / (float64(rep.lastAckNs) / 1e9)
	}
	rep.ElapsedSeconds = float64(rep.lastRecvNs) / 1e9
	if rep.lastRecvNs > 0 {
		rep.DecisionsPerSec = float64(rep.Verdicts) / rep.ElapsedSeconds
	}
	if n := len(rep.lat); n > 0 {
		slices.Sort(rep.lat)
		q := func(f float64) float64 {
			i := min(max(int(f*float64(n)+0.9999999)-1, 0), n-1) // nearest rank
			return float64(rep.lat[i]) / 1e6
		}
		var sum float64
		for _, l := range rep.lat {
			sum += float64(l)
		}
		rep.LatencyMs = Latency{P50: q(0.50), P99: q(0.99), P999: q(0.999), Max: float64(rep.lat[n-1]) / 1e6, Mean: sum / float64(n) / 1e6}
	}
	rep.OK = rep.ProduceErrors == 0 && rep.Missing == 0 && rep.Mismatches == 0
}

func ms(v float64) string {
	d := time.Duration(v * float64(time.Millisecond))
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(10 * time.Microsecond).String()
}

// WriteTable writes the report as an aligned table.
func (rep *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	rate := "as fast as possible"
	if rep.Rate > 0 {
		rate = fmt.Sprintf("%.0f records/s", rep.Rate)
	}
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	row("run", "%s", rep.RunID)
	row("workload", "%d attempts (%d invalid) + %d duplicates + %d send-failed; %s", rep.Attempts, rep.Invalid, rep.Duplicates, rep.Failed, rate)
	row("population", "%d bots (%d contact, %d agent_contact, %d disabled), %d contacts, %d agents; %d partitions; timestamps span %s",
		rep.Bots, rep.BotsContact, rep.BotsAgent, rep.BotsDisabled, rep.Contacts, rep.Agents, rep.Partitions,
		time.Duration(rep.SpanSeconds*float64(time.Second)).Round(time.Second))
	row("produced", "%d records in %.2fs: %.0f records/s (%d errors)", rep.Records, rep.ProduceSeconds, rep.ProducePerSec, rep.ProduceErrors)
	row("decisions", "%d verdicts, first produce to last verdict %.2fs: %.0f decisions/s", rep.Verdicts, rep.ElapsedSeconds, rep.DecisionsPerSec)
	row("latency", "produce ack to verdict: p50 %s  p99 %s  p99.9 %s  max %s  (mean %s)",
		ms(rep.LatencyMs.P50), ms(rep.LatencyMs.P99), ms(rep.LatencyMs.P999), ms(rep.LatencyMs.Max), ms(rep.LatencyMs.Mean))
	row("verdicts", "%s", rep.Counts)
	row("model", "%s", rep.Model)
	check := "OK"
	if !rep.OK {
		check = "FAILED"
	}
	row("check", "%s: %d verdicts equal the model's (timestamps %s), %d differ, %d missing, %d extra (re-emitted), %d foreign%s",
		check, rep.Checked, rep.TimestampSource, rep.Mismatches, rep.Missing, rep.ExtraVerdicts, rep.ForeignVerdicts,
		map[bool]string{true: "; timed out waiting", false: ""}[rep.TimedOut])
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, pr := range rep.Problems {
		if _, err := fmt.Fprintln(w, "  "+strings.ReplaceAll(pr, "\n", "\n  ")); err != nil {
			return err
		}
	}
	return nil
}
