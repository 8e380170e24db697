package cli

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
)

func TestParseExit(t *testing.T) {
	check := func(err error, wantCode int, wantExit bool, wantStderr string) {
		t.Helper()
		var stderr strings.Builder
		code, exit := ParseExit(&stderr, "cmd", err)
		if code != wantCode || exit != wantExit || stderr.String() != wantStderr {
			t.Errorf("ParseExit(%v) = %d, %v, stderr %q; want %d, %v, %q", err, code, exit, stderr.String(), wantCode, wantExit, wantStderr)
		}
	}
	check(nil, 0, false, "")
	check(flag.ErrHelp, 0, true, "")
	check(fmt.Errorf("parse: %w", flag.ErrHelp), 0, true, "")
	check(errors.New("--brokers: no broker"), 2, true, "cmd: --brokers: no broker\n")
}

func TestFail(t *testing.T) {
	var stderr strings.Builder
	if code := Fail(&stderr, "cmd", errors.New("no broker")); code != 1 || stderr.String() != "cmd: no broker\n" {
		t.Fatalf("Fail = %d, stderr %q; want 1 and %q", code, stderr.String(), "cmd: no broker\n")
	}
}
