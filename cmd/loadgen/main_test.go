package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

func noEnv(string) string { return "" }

func TestParse(t *testing.T) {
	cfg, asJSON, err := parse([]string{"--brokers", "a:1, b:2", "--attempts", "5000", "--rate", "250",
		"--contacts", "400", "--bots", "4", "--window", "1h", "--duplicates", "0.1", "--json", "--quiet"}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !asJSON || len(cfg.Brokers) != 2 || cfg.Brokers[1] != "b:2" || cfg.Attempts != 5000 || cfg.Rate != 250 ||
		cfg.Contacts != 400 || cfg.Bots != 4 || cfg.Window != time.Hour || cfg.Duplicates != 0.1 ||
		cfg.AgentContact != 0.1 || cfg.Disabled != 0.1 || cfg.Progress != nil || cfg.Logf == nil {
		t.Fatalf("parsed %+v json=%v", cfg, asJSON)
	}
}

func TestRunBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"-h"}, 0, "-attempts"},
		{[]string{"--attempts", "0"}, 2, "attempts: must be"},
		{[]string{"--rate", "-1"}, 2, "rate: must not be negative"},
		{[]string{"--bogus"}, 2, "flag provided but not defined"},
		{[]string{"extra"}, 2, "unexpected argument"},
	} {
		var stderr strings.Builder
		if code := run(context.Background(), c.args, noEnv, io.Discard, &stderr); code != c.code || !strings.Contains(stderr.String(), c.out) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr.String(), c.code, c.out)
		}
	}
}
