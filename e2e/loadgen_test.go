package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sendgate/sendgate/loadgen"
)

// TestLoadgen runs a small load-generator workload (duplicates, send
// failures, invalid attempts, every settings kind) through the real binary
// and requires every verdict to equal loadgen's model of the rule.
func TestLoadgen(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	startProc(t, t.TempDir(), "--brokers", addr, "--partitions", "4") // creates the topics

	var progress strings.Builder
	cfg := loadgen.Config{Brokers: []string{addr}, Attempts: 2000, Bots: 10, Contacts: 200, Agents: 3,
		AgentContact: 0.2, Disabled: 0.2, Duplicates: 0.05, Failed: 0.05, Invalid: 0.02,
		Timeout: time.Minute, Progress: &progress, Logf: t.Logf}
	rep, err := loadgen.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", table.String())
	if !rep.OK {
		t.Fatalf("model check failed")
	}
	want := loadgen.Report{Attempts: 2000, Duplicates: 100, Failed: 100, Invalid: 40, BotsContact: 6, BotsAgent: 2, BotsDisabled: 2}
	if rep.Attempts != want.Attempts || rep.Duplicates != want.Duplicates || rep.Failed != want.Failed || rep.Invalid != want.Invalid ||
		rep.BotsContact != want.BotsContact || rep.BotsAgent != want.BotsAgent || rep.BotsDisabled != want.BotsDisabled {
		t.Errorf("workload: got %+v", rep)
	}
	if rep.Records != 2200 || rep.Verdicts != 2100 || rep.Missing != 0 || rep.Mismatches != 0 || rep.Checked < 2100 ||
		rep.ProduceErrors != 0 || rep.Partitions != 4 || rep.TimestampSource != "read back" {
		t.Errorf("counts: got %+v", rep)
	}
	// Rejected: the 40 invalid attempts, and the duplicates that repeated one.
	if rep.Counts != rep.Model || rep.Counts.Rejected < 40 || rep.Counts.Rejected > 40+100 || rep.Counts.Blocked == 0 ||
		rep.Counts.WithinLimit == 0 || rep.Counts.LimitDisabled == 0 ||
		rep.Counts.Allowed+rep.Counts.Blocked+rep.Counts.Rejected != rep.Verdicts {
		t.Errorf("verdict counts: got %+v, model %+v", rep.Counts, rep.Model)
	}
	if rep.DecisionsPerSec <= 0 || rep.LatencyMs.Max < rep.LatencyMs.P50 {
		t.Errorf("measurements: %+v %+v", rep.DecisionsPerSec, rep.LatencyMs)
	}
}
