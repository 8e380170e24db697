package quota

import (
	"errors"
	"fmt"
	"time"
)

// Calendar is the period of a calendar rule: its sends count until the
// period ends, in the rule's time zone.
type Calendar uint8

const (
	// Rolling is no calendar: the rule has a rolling window (WindowMs).
	Rolling Calendar = iota
	// Day is the local calendar day, from 00:00.
	Day
	// Week is the ISO week, from Monday 00:00 local.
	Week
	// Month is the calendar month, from the first at 00:00 local.
	Month
)

// calendarNames are the wire names of the calendars.
var calendarNames = [...]string{Rolling: "", Day: "day", Week: "week", Month: "month"}

// String returns the wire name of the calendar ("day", "week", "month"), or ""
// for Rolling.
func (c Calendar) String() string {
	if c == Rolling {
		return ""
	}
	return wireName(calendarNames[:], c, "calendar")
}

// ParseCalendar parses a wire calendar name ("day", "week" or "month"); ok is
// false for anything else.
func ParseCalendar(s string) (Calendar, bool) { return parseWire[Calendar](calendarNames[:], s) }

// Bounds of the rules, as fixed by the contract.
const (
	// MaxRules is the most rules a bot has, the default rule included.
	MaxRules = 10
	// MaxNameLen bounds a rule's name; MaxCategoryLen a category.
	MaxNameLen     = 64
	MaxCategoryLen = 64
	// DefaultRule is the name of the rule made of max_per_contact,
	// window_seconds and scope.
	DefaultRule = "default"
)

// Rule is one limit of a bot besides the default one: at most Max counted
// sends per scope key within a rolling window or a calendar period, counting
// only the attempts of its categories.
type Rule struct {
	// Name identifies the rule in verdicts: 1..MaxNameLen of [a-z0-9_-],
	// unique per bot, never DefaultRule.
	Name string
	// Max is the most counted sends (MinMax..MaxMax).
	Max int
	// WindowMs is the rolling window, in ms, of a Rolling rule
	// (MinWindowSeconds..MaxWindowSeconds, whole seconds); 0 for a calendar
	// rule.
	WindowMs int64
	// Calendar is the period of a calendar rule; Rolling for a rolling one.
	Calendar Calendar
	// Zone is the time zone of a calendar rule's periods; nil means UTC.
	// A rolling rule has none.
	Zone *time.Location
	// Scope selects which sends share the limit.
	Scope Scope
	// Shadow rules are evaluated and reported but never block.
	Shadow bool
	// Categories, when non-nil, are the only categories the rule applies to
	// and counts (non-empty, distinct, 1..MaxCategoryLen bytes each); nil
	// means every attempt, with or without a category.
	Categories []string
}

// location returns the rule's zone, UTC when none is set.
func (r *Rule) location() *time.Location {
	if r.Zone == nil {
		return time.UTC
	}
	return r.Zone
}

// ZoneName returns the IANA name of a calendar rule's zone ("UTC" when none
// is set), or "" for a rolling rule.
func (r *Rule) ZoneName() string {
	if r.Calendar == Rolling {
		return ""
	}
	return r.location().String()
}

// Applies reports whether the rule applies to (and counts) an attempt or send
// of category ("" for none).
func (r *Rule) Applies(category string) bool {
	if r.Categories == nil {
		return true
	}
	for _, c := range r.Categories {
		if c == category {
			return true
		}
	}
	return false
}

// horizonMs is how long after its decision time a send may still count for
// the rule: the window, or the longest period of the calendar (a day of 25
// hours, a week or month with a daylight saving time change), rounded up
// generously.
func (r *Rule) horizonMs() int64 {
	const hour = int64(time.Hour / time.Millisecond)
	switch r.Calendar {
	case Day:
		return 26 * hour
	case Week:
		return 7*24*hour + 2*hour
	case Month:
		return 31*24*hour + 2*hour
	}
	return r.WindowMs
}

// ValidRuleName reports whether s is a valid rule name: 1..MaxNameLen
// characters of [a-z0-9_-] (DefaultRule included).
func ValidRuleName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validate checks one rule; names are checked for uniqueness by the caller.
func (r *Rule) validate() error {
	if !ValidRuleName(r.Name) {
		return fmt.Errorf("name %q must be 1..%d characters of [a-z0-9_-]", r.Name, MaxNameLen)
	}
	if r.Name == DefaultRule {
		return fmt.Errorf("name %q is reserved", DefaultRule)
	}
	if r.Max < MinMax || r.Max > MaxMax {
		return fmt.Errorf("max %d out of range %d..%d", r.Max, MinMax, MaxMax)
	}
	switch {
	case r.Calendar == Rolling:
		if r.Zone != nil {
			return errors.New("time_zone is only for a calendar rule")
		}
		if r.WindowMs%1000 != 0 {
			return fmt.Errorf("window %d ms is not a whole number of seconds", r.WindowMs)
		}
		if w := r.WindowMs / 1000; w < MinWindowSeconds || w > MaxWindowSeconds {
			return fmt.Errorf("window %d s out of range %d..%d", w, MinWindowSeconds, MaxWindowSeconds)
		}
	case r.Calendar > Month:
		return errors.New("unknown calendar " + r.Calendar.String())
	case r.WindowMs != 0:
		return errors.New("a rule has either a window or a calendar, not both")
	case r.Zone == time.Local:
		return errors.New(`time_zone "Local" is not an IANA name`)
	}
	if r.Scope != ScopeContact && r.Scope != ScopeAgentContact {
		return errors.New("unknown scope " + r.Scope.String())
	}
	if r.Categories != nil {
		if len(r.Categories) == 0 {
			return errors.New("categories must not be empty (leave it out for every category)")
		}
		if err := validCategories(r.Categories); err != nil {
			return fmt.Errorf("categories: %w", err)
		}
	}
	return nil
}

// validCategories checks a list of categories: distinct, 1..MaxCategoryLen
// bytes each.
func validCategories(cs []string) error {
	for i, c := range cs {
		if len(c) == 0 || len(c) > MaxCategoryLen {
			return fmt.Errorf("category %q must be 1..%d bytes", c, MaxCategoryLen)
		}
		for _, d := range cs[:i] {
			if d == c {
				return fmt.Errorf("category %q is listed twice", c)
			}
		}
	}
	return nil
}
