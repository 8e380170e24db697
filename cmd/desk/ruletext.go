package main

import (
	"fmt"
	"strings"
)

// The texts that name a bot's binding rule to the agent. They depend only on
// what a verdict or a quota answer carries (rule, limit, window_seconds or
// calendar and time_zone), so the server writes them and the page only adds
// the time of the next possible send, in the agent's local time.

// ruleLabel names a rule and its limit: "Weekly limit (5 per 7 days)",
// "Marketing daily limit (1 per calendar day in America/Sao_Paulo)". calendar
// is "" for a rolling rule, whose windowSeconds is then its window.
func ruleLabel(name string, limit int, windowSeconds int64, calendar, zone string) string {
	per := windowText(windowSeconds)
	if calendar != "" {
		per = "calendar " + calendar + " in " + zoneOrUTC(zone)
	}
	return fmt.Sprintf("%s (%d per %s)", ruleTitle(name), limit, per)
}

// rulePeriod says which sends a rule counts, to follow "N of X active
// messages sent": "in the last 7 days", "today (America/Sao_Paulo time)".
func rulePeriod(windowSeconds int64, calendar, zone string) string {
	switch calendar {
	case "":
		return "in the last " + windowText(windowSeconds)
	case "day":
		return "today (" + zoneOrUTC(zone) + " time)"
	}
	return "this " + calendar + " (" + zoneOrUTC(zone) + " time)"
}

// ruleTitle turns a rule name into a title ending in "limit":
// "marketing-daily" is "Marketing daily limit", "trial_limit" "Trial limit".
func ruleTitle(name string) string {
	words := strings.FieldsFunc(name, func(r rune) bool { return r == '-' || r == '_' })
	if len(words) == 0 {
		return "Limit"
	}
	if words[len(words)-1] != "limit" {
		words = append(words, "limit")
	}
	words[0] = strings.ToUpper(words[0][:1]) + words[0][1:]
	return strings.Join(words, " ")
}

// windowText writes a rolling window in the largest unit that divides it:
// "7 days", "24 hours", "1 hour", "90 minutes", "61 seconds". A day is
// written as 24 hours.
func windowText(seconds int64) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case seconds >= 2*86400 && seconds%86400 == 0:
		return plural(seconds/86400, "day")
	case seconds > 0 && seconds%3600 == 0:
		return plural(seconds/3600, "hour")
	case seconds > 0 && seconds%60 == 0:
		return plural(seconds/60, "minute")
	}
	return plural(seconds, "second")
}

func zoneOrUTC(zone string) string {
	if zone == "" {
		return "UTC"
	}
	return zone
}
