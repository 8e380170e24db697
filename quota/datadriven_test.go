package quota_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "time/tzdata" // the zones of the calendar rules, on any machine

	"github.com/cockroachdb/datadriven"

	"github.com/sendgate/sendgate/quota"
)

// TestDataDriven runs the scenarios in testdata/. Each file is one contact's
// history under one bot's settings; the commands are:
//
//	settings [enabled=B] [max=N] [window=DURATION] [scope=contact|agent_contact]
//	         [exempt=C1,C2|none] [rules=none]
//	    change the fields given (starting from quota.Disabled()); prints them.
//	    Each input line is a rule, replacing the rules in force:
//	    NAME max=N (window=DURATION | calendar=day|week|month [zone=IANA])
//	         [scope=S] [mode=shadow] [categories=C1,C2]
//	send at=TIME agent=A id=ID [category=C]
//	                                  record a send (quota.Record)
//	send                              one send per input line: TIME AGENT ID [CATEGORY]
//	send-many n=N from=TIME every=DURATION agent=A id=PREFIX
//	    record N sends PREFIX1..PREFIXN, the first at from
//	fail id=ID                        quota.Release
//	decide at=TIME agent=A [id=ID] [category=C]
//	                                  quota.Decide; records the send when
//	                                  allowed and not exempt, like the
//	                                  pipeline (id defaults to d1, d2, ...)
//	usage at=TIME agent=A [category=C]
//	                                  quota.Usage
//	expire at=TIME                    quota.Expire with the settings' horizon
//	history [agent=A]                 the sends kept (of agent A), oldest
//	                                  first; only the 3 oldest and newest of
//	                                  more than 10
//	expires-at                        quota.ExpiresAt with the current window
//	decision-time record=TIME now=TIME hwm=TIME
//	                                  quota.DecisionTime
//
// A decision prints as its wire fields: "blocked limit_reached limit=3 used=3
// remaining=0 retry_at=... retry_after=86220s"; limit and remaining are left
// out while the limit is disabled, retry_at and retry_after when unset. A
// decision of a bot with rules also names its binding rule (and its calendar
// and zone when it is a calendar rule) and prints one indented line per
// applicable rule: "NAME [shadow] limit= used= remaining= [retry_at=]
// [would_block]". Times are UTC.
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
			h.sends = quota.Record(h.sends, quota.Send{At: at, Agent: arg(td, "agent"), Attempt: arg(td, "id"), Category: arg(td, "category")})
			return "", nil
		}
		for _, line := range strings.Split(strings.TrimSpace(td.Input), "\n") {
			f := strings.Fields(line)
			if len(f) != 3 && len(f) != 4 {
				return "", fmt.Errorf("want TIME AGENT ID [CATEGORY], got %q", line)
			}
			at, err := parseTime(f[0])
			if err != nil {
				return "", err
			}
			x := quota.Send{At: at, Agent: f[1], Attempt: f[2]}
			if len(f) == 4 {
				x.Category = f[3]
			}
			h.sends = quota.Record(h.sends, x)
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
		agent, category := arg(td, "agent"), arg(td, "category")
		d := quota.Decide(h.sends, h.s, agent, category, at)
		if d.Outcome == quota.Allowed && d.Reason != quota.Exempt {
			id := arg(td, "id")
			if id == "" {
				h.nextID++
				id = fmt.Sprintf("d%d", h.nextID)
			}
			h.sends = quota.Record(h.sends, quota.Send{At: at, Agent: agent, Attempt: id, Category: category})
		}
		return formatDecision(d, at), nil

	case "usage":
		at, err := timeArg(td, "at")
		if err != nil {
			return "", err
		}
		return formatDecision(quota.Usage(h.sends, h.s, arg(td, "agent"), arg(td, "category"), at), at), nil

	case "expire":
		at, err := timeArg(td, "at")
		if err != nil {
			return "", err
		}
		before := len(h.sends)
		expires := quota.Expires(h.sends, h.s.HorizonMs(), at)
		h.sends = quota.Expire(h.sends, h.s.HorizonMs(), at)
		if expires != (len(h.sends) < before) {
			return "", fmt.Errorf("Expires = %v, but Expire dropped %d", expires, before-len(h.sends))
		}
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
		e := quota.ExpiresAt(h.sends, h.s.HorizonMs())
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
		if ok, err := limitField(a.Key, v, &s.Max, &s.WindowMs, &s.Scope); ok {
			if err != nil {
				return "", err
			}
			continue
		}
		switch a.Key {
		case "enabled":
			s.Enabled, err = strconv.ParseBool(v)
		case "exempt":
			s.Exempt = list(v)
		case "rules":
			s.Rules = nil
		default:
			err = fmt.Errorf("unknown setting %q", a.Key)
		}
		if err != nil {
			return "", err
		}
	}
	if in := strings.TrimSpace(td.Input); in != "" {
		s.Rules = nil
		for _, line := range strings.Split(in, "\n") {
			r, err := parseRule(line)
			if err != nil {
				return "", err
			}
			s.Rules = append(s.Rules, r)
		}
	}
	if err := s.Validate(); err != nil {
		return "", err
	}
	h.s = s
	var b strings.Builder
	fmt.Fprintf(&b, "enabled=%t max=%d window=%ds scope=%s", s.Enabled, s.Max, s.WindowSeconds(), s.Scope)
	if len(s.Exempt) > 0 {
		fmt.Fprintf(&b, " exempt=%s", strings.Join(s.Exempt, ","))
	}
	b.WriteString("\n")
	for _, r := range s.Rules {
		fmt.Fprintf(&b, "  %s max=%d", r.Name, r.Max)
		if r.Calendar == quota.Rolling {
			fmt.Fprintf(&b, " window=%ds", r.WindowMs/1000)
		} else {
			fmt.Fprintf(&b, " calendar=%s zone=%s", r.Calendar, r.ZoneName())
		}
		fmt.Fprintf(&b, " scope=%s", r.Scope)
		if r.Shadow {
			b.WriteString(" mode=shadow")
		}
		if r.Categories != nil {
			fmt.Fprintf(&b, " categories=%s", strings.Join(r.Categories, ","))
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}

// limitField parses the fields settings and rules share (max, window,
// scope) into the pointers; ok is false for another key.
func limitField(k, v string, max *int, windowMs *int64, scope *quota.Scope) (ok bool, err error) {
	switch k {
	case "max":
		*max, err = strconv.Atoi(v)
	case "window":
		var d time.Duration
		d, err = time.ParseDuration(v)
		*windowMs = d.Milliseconds()
	case "scope":
		var known bool
		if *scope, known = quota.ParseScope(v); !known {
			err = fmt.Errorf("unknown scope %q", v)
		}
	default:
		return false, nil
	}
	return true, err
}

// list parses "a,b" into its items; "none" is the empty list.
func list(v string) []string {
	if v == "none" {
		return nil
	}
	return strings.Split(v, ",")
}

// parseRule parses a rule line: NAME k=v...
func parseRule(line string) (quota.Rule, error) {
	f := strings.Fields(line)
	r := quota.Rule{Name: f[0]}
	for _, kv := range f[1:] {
		k, v, _ := strings.Cut(kv, "=")
		ok, err := limitField(k, v, &r.Max, &r.WindowMs, &r.Scope)
		if ok {
			if err != nil {
				return r, err
			}
			continue
		}
		switch k {
		case "calendar":
			var ok bool
			if r.Calendar, ok = quota.ParseCalendar(v); !ok {
				err = fmt.Errorf("unknown calendar %q", v)
			}
		case "zone":
			r.Zone, err = time.LoadLocation(v)
		case "mode":
			r.Shadow = v == "shadow"
		case "categories":
			r.Categories = list(v)
		default:
			err = fmt.Errorf("unknown rule field %q", k)
		}
		if err != nil {
			return r, err
		}
	}
	return r, nil
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
	if d.Rule != "" {
		fmt.Fprintf(&b, " rule=%s", d.Rule)
		if d.Calendar != quota.Rolling {
			fmt.Fprintf(&b, " calendar=%s zone=%s", d.Calendar, d.Zone)
		}
	}
	if d.Enabled && d.Reason != quota.Exempt {
		fmt.Fprintf(&b, " limit=%d", d.Limit)
	}
	fmt.Fprintf(&b, " used=%d", d.Used)
	if d.Enabled && d.Reason != quota.Exempt {
		fmt.Fprintf(&b, " remaining=%d", d.Remaining)
	}
	if d.RetryAt != 0 {
		fmt.Fprintf(&b, " retry_at=%s retry_after=%ds", formatTime(d.RetryAt), d.RetryAfterSeconds)
	}
	b.WriteString("\n")
	for _, u := range d.Rules {
		fmt.Fprintf(&b, "  %s", u.Name)
		if u.Shadow {
			b.WriteString(" shadow")
		}
		fmt.Fprintf(&b, " limit=%d used=%d remaining=%d", u.Limit, u.Used, u.Remaining)
		if u.RetryAt != 0 {
			fmt.Fprintf(&b, " retry_at=%s", formatTime(u.RetryAt))
		}
		if u.WouldBlock {
			b.WriteString(" would_block")
		}
		b.WriteString("\n")
	}
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
