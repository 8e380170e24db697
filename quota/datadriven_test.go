package quota_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/sendgate/sendgate/quota"
)

// TestDataDriven runs the scenarios in testdata/. Each file is one contact's
// history under one bot's settings; the commands are:
//
//	settings [enabled=B] [max=N] [window=DURATION] [scope=contact|agent_contact]
//	    change the fields given (starting from quota.Disabled()); prints them
//	send at=TIME agent=A id=ID        record a send (quota.Record)
//	send                              one send per input line: TIME AGENT ID
//	send-many n=N from=TIME every=DURATION agent=A id=PREFIX
//	    record N sends PREFIX1..PREFIXN, the first at from
//	fail id=ID                        quota.Release
//	decide at=TIME agent=A [id=ID]    quota.Decide; records the send when
//	                                  allowed, like the pipeline (id defaults
//	                                  to d1, d2, ...)
//	usage at=TIME agent=A             quota.Usage
//	expire at=TIME                    quota.Expire with the current window
//	history [agent=A]                 the sends kept (of agent A), oldest
//	                                  first; only the 3 oldest and newest of
//	                                  more than 10
//	expires-at                        quota.ExpiresAt with the current window
//	decision-time record=TIME now=TIME hwm=TIME
//	                                  quota.DecisionTime
//
// A decision prints as its wire fields: "blocked limit_reached limit=3 used=3
// remaining=0 retry_at=... retry_after=86220s"; limit and remaining are left
// out while the limit is disabled, retry_at and retry_after when unset.
// Run with -rewrite to regenerate the expectations after an intended change,
// then check the diff by eye.
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := &harness{s: quota.Disabled()}
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			out, err := h.run(t, td)
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			return out
		})
	})
}

type harness struct {
	s      quota.Settings
	sends  []quota.Send
	nextID int
}

func (h *harness) run(t *testing.T, td *datadriven.TestData) (string, error) {
	switch td.Cmd {
	case "settings":
		return h.settings(td)

	case "decision-time":
		var ts [3]int64
		for i, k := range []string{"record", "now", "hwm"} {
			v, err := timeArg(td, k)
			if err != nil {
				return "", err
			}
			ts[i] = v
		}
		return formatTime(quota.DecisionTime(ts[0], ts[1], ts[2])) + "\n", nil

	case "send":
		if td.HasArg("at") {
			at, err := timeArg(td, "at")
			if err != nil {
				return "", err
			}
			h.sends = quota.Record(h.sends, quota.Send{At: at, Agent: arg(td, "agent"), Attempt: arg(td, "id")})
			return "", nil
		}
		for _, line := range strings.Split(strings.TrimSpace(td.Input), "\n") {
			f := strings.Fields(line)
			if len(f) != 3 {
				return "", fmt.Errorf("want TIME AGENT ID, got %q", line)
			}
			at, err := parseTime(f[0])
			if err != nil {
				return "", err
			}
			h.sends = quota.Record(h.sends, quota.Send{At: at, Agent: f[1], Attempt: f[2]})
		}
		return "", nil

	case "send-many":
		n, err := strconv.Atoi(arg(td, "n"))
		if err != nil {
			return "", err
		}
		from, err := timeArg(td, "from")
		if err != nil {
			return "", err
		}
		every, err := time.ParseDuration(arg(td, "every"))
		if err != nil {
			return "", err
		}
		for i := range n {
			h.sends = quota.Record(h.sends, quota.Send{
				At:      from + int64(i)*every.Milliseconds(),
				Agent:   arg(td, "agent"),
				Attempt: fmt.Sprintf("%s%d", arg(td, "id"), i+1),
			})
		}
		return "", nil

	case "fail":
		id := arg(td, "id")
		var ok bool
		h.sends, ok = quota.Release(h.sends, id)
		if !ok {
			return fmt.Sprintf("%s unknown: ignored\n", id), nil
		}
		return fmt.Sprintf("%s released\n", id), nil

	case "decide":
		at, err := timeArg(td, "at")
		if err != nil {
			return "", err
		}
		agent := arg(td, "agent")
		d := quota.Decide(h.sends, h.s, agent, at)
		if d.Outcome == quota.Allowed {
			id := arg(td, "id")
			if id == "" {
				h.nextID++
				id = fmt.Sprintf("d%d", h.nextID)
			}
			h.sends = quota.Record(h.sends, quota.Send{At: at, Agent: agent, Attempt: id})
		}
		return formatDecision(d, at), nil

	case "usage":
		at, err := timeArg(td, "at")
		if err != nil {
			return "", err
		}
		return formatDecision(quota.Usage(h.sends, h.s, arg(td, "agent"), at), at), nil

	case "expire":
		at, err := timeArg(td, "at")
		if err != nil {
			return "", err
		}
		before := len(h.sends)
		h.sends = quota.Expire(h.sends, h.s.WindowMs, at)
		return fmt.Sprintf("dropped %d, kept %d\n", before-len(h.sends), len(h.sends)), nil

	case "history":
		sends := h.sends
		if agent := arg(td, "agent"); agent != "" {
			sends = nil
			for _, x := range h.sends {
				if x.Agent == agent {
					sends = append(sends, x)
				}
			}
		}
		return formatHistory(sends), nil

	case "expires-at":
		e := quota.ExpiresAt(h.sends, h.s.WindowMs)
		if e == 0 {
			return "none\n", nil
		}
		return formatTime(e) + "\n", nil
	}
	t.Fatalf("%s: unknown command %q", td.Pos, td.Cmd)
	return "", nil
}

func (h *harness) settings(td *datadriven.TestData) (string, error) {
	s := h.s
	for _, a := range td.CmdArgs {
		v := a.String()[len(a.Key)+1:]
		var err error
		switch a.Key {
		case "enabled":
			s.Enabled, err = strconv.ParseBool(v)
		case "max":
			s.Max, err = strconv.Atoi(v)
		case "window":
			var d time.Duration
			d, err = time.ParseDuration(v)
			s.WindowMs = d.Milliseconds()
		case "scope":
			var ok bool
			if s.Scope, ok = quota.ParseScope(v); !ok {
				err = fmt.Errorf("unknown scope %q", v)
			}
		default:
			err = fmt.Errorf("unknown setting %q", a.Key)
		}
		if err != nil {
			return "", err
		}
	}
	if err := s.Validate(); err != nil {
		return "", err
	}
	h.s = s
	return fmt.Sprintf("enabled=%t max=%d window=%ds scope=%s\n", s.Enabled, s.Max, s.WindowSeconds(), s.Scope), nil
}

// arg returns the single value of the argument key, or "" when absent.
func arg(td *datadriven.TestData, key string) string {
	a, ok := td.Arg(key)
	if !ok || len(a.Vals) != 1 {
		return ""
	}
	return a.Vals[0]
}

func timeArg(td *datadriven.TestData, key string) (int64, error) {
	return parseTime(arg(td, key))
}

func parseTime(s string) (int64, error) {
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, err
	}
	return tm.UnixMilli(), nil
}

func formatTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// formatDecision prints a decision as its wire fields, and flags a broken
// invariant of the Decision type.
func formatDecision(d quota.Decision, at int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", d.Outcome, d.Reason)
	if d.Enabled {
		fmt.Fprintf(&b, " limit=%d", d.Limit)
	}
	fmt.Fprintf(&b, " used=%d", d.Used)
	if d.Enabled {
		fmt.Fprintf(&b, " remaining=%d", d.Remaining)
	}
	if d.RetryAt != 0 {
		fmt.Fprintf(&b, " retry_at=%s retry_after=%ds", formatTime(d.RetryAt), d.RetryAfterSeconds)
	}
	b.WriteString("\n")
	if err := checkDecision(d, at); err != nil {
		fmt.Fprintf(&b, "INVARIANT BROKEN: %v\n", err)
	}
	return b.String()
}

func formatHistory(sends []quota.Send) string {
	if len(sends) == 0 {
		return "empty\n"
	}
	var b strings.Builder
	line := func(s quota.Send) { fmt.Fprintf(&b, "%s %s %s\n", formatTime(s.At), s.Agent, s.Attempt) }
	if len(sends) <= 10 {
		for _, s := range sends {
			line(s)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "%d sends\n", len(sends))
	for _, s := range sends[:3] {
		line(s)
	}
	b.WriteString("...\n")
	for _, s := range sends[len(sends)-3:] {
		line(s)
	}
	return b.String()
}
