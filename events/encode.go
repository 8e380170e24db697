package events

import (
	"strconv"
	"unicode/utf8"

	"github.com/sendgate/sendgate/quota"
)

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Control characters, '"' and
// '\\' are escaped; invalid UTF-8 bytes become U+FFFD, so the output is
// always valid JSON.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plain[c] {
			i++
			continue
		}
		if c < 0x80 {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendEnvelope appends the CloudEvents attributes up to and including
// `"data":`.
func appendEnvelope(dst []byte, id, source, typ string, timeMs int64) []byte {
	dst = append(dst, `{"specversion":"1.0","id":`...)
	dst = appendString(dst, id)
	dst = append(dst, `,"source":`...)
	dst = appendString(dst, source)
	dst = append(dst, `,"type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, `","time":"`...)
	dst = AppendTime(dst, timeMs)
	return append(dst, `","data":`...)
}

// AppendAttempt appends a desk.active_message.requested event with the
// given id, data ids and time (Unix ms), source "/desk/sender", without a
// category. The result is valid per schemas/attempt-requested.schema.json
// when the ids are.
func AppendAttempt(dst []byte, id, bot, contact, agent string, timeMs int64) []byte {
	return AppendAttemptCategory(dst, id, bot, contact, agent, "", timeMs)
}

// AppendAttemptCategory is AppendAttempt with data.category, written when
// category is non-empty.
func AppendAttemptCategory(dst []byte, id, bot, contact, agent, category string, timeMs int64) []byte {
	dst = appendSenderStart(dst, id, TypeRequested, bot, contact, timeMs)
	dst = append(dst, `,"agent_id":`...)
	dst = appendString(dst, agent)
	if category != "" {
		dst = append(dst, `,"category":`...)
		dst = appendString(dst, category)
	}
	return append(dst, "}}"...)
}

// AppendFailed appends a desk.active_message.failed event releasing the
// slot of attempt, with event id id, source "/desk/sender". The result is
// valid per schemas/attempt-failed.schema.json when the ids are.
func AppendFailed(dst []byte, id, bot, contact, attempt string, timeMs int64) []byte {
	dst = appendSenderStart(dst, id, TypeFailed, bot, contact, timeMs)
	dst = append(dst, `,"attempt_id":`...)
	dst = appendString(dst, attempt)
	return append(dst, "}}"...)
}

// appendSenderStart appends the envelope of a sender event of type typ
// (source "/desk/sender") and its data up to bot_id and contact_id, which
// every sender event starts with; the caller writes the rest and "}}".
func appendSenderStart(dst []byte, id, typ, bot, contact string, timeMs int64) []byte {
	dst = appendEnvelope(dst, id, "/desk/sender", typ, timeMs)
	dst = append(dst, `{"bot_id":`...)
	dst = appendString(dst, bot)
	dst = append(dst, `,"contact_id":`...)
	return appendString(dst, contact)
}

// AppendSettingsEvent appends ev as a desk.settings.changed event, source
// "/settings". changed_by is written when non-empty, max_per_contact when
// the limit is enabled or Max is non-zero, window_seconds when WindowMs is
// non-zero (as WindowMs/1000), rules and exempt_categories when non-empty
// (see appendRules). The result is valid per
// schemas/settings-changed.schema.json when the fields are in range.
func AppendSettingsEvent(dst []byte, ev *SettingsChanged, timeMs int64) []byte {
	dst = appendEnvelope(dst, ev.ID, "/settings", TypeSettingsChanged, timeMs)
	dst = append(dst, `{"bot_id":`...)
	dst = appendString(dst, ev.BotID)
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendInt(dst, ev.Settings.Version, 10)
	if ev.ChangedBy != "" {
		dst = append(dst, `,"changed_by":`...)
		dst = appendString(dst, ev.ChangedBy)
	}
	dst = append(dst, `,"active_messages":{"limit_enabled":`...)
	dst = strconv.AppendBool(dst, ev.Settings.Enabled)
	if ev.Settings.Enabled || ev.Settings.Max != 0 {
		dst = append(dst, `,"max_per_contact":`...)
		dst = strconv.AppendInt(dst, int64(ev.Settings.Max), 10)
	}
	if ev.Settings.WindowMs != 0 {
		dst = append(dst, `,"window_seconds":`...)
		dst = strconv.AppendInt(dst, ev.Settings.WindowMs/1000, 10)
	}
	dst = append(dst, `,"scope":`...)
	dst = appendString(dst, scopeName(ev.Settings.Scope))
	dst = appendRules(dst, &ev.Settings)
	return append(dst, "}}}"...)
}

func scopeName(s quota.Scope) string {
	switch s {
	case quota.ScopeContact:
		return "contact"
	case quota.ScopeAgentContact:
		return "agent_contact"
	}
	return s.String()
}

// AppendVerdict appends the complete CloudEvents JSON value of the verdict
// event for v: id "{attempt_id}/verdict", source "sendgate", type
// TypeDecided, specversion "1.0", time = decided_at, and data with members
// in the order of the contract's example, the members of a bot with rules
// inserted:
//
//	attempt_id, bot_id, contact_id, agent_id, verdict, reason, rule, scope,
//	limit, used, remaining, window_seconds | calendar, time_zone,
//	retry_at, retry_after_seconds, rules, decided_at, settings_version
//
// limit and remaining are written only when v.Enabled and the reason is not
// Exempt; retry_at and retry_after_seconds only when v.RetryAt != 0; rule
// when v.Rule != ""; calendar and time_zone, in place of window_seconds,
// when v.Calendar is not Rolling; rules when v.NumRules > 0, each entry as
// {"name","mode","limit","used","remaining","retry_at"?,"would_block"?}
// (mode "enforce" or "shadow", retry_at when its RetryAt != 0,
// "would_block":true when WouldBlock). A verdict without Rule, Calendar and
// rules has exactly the members a single-limit verdict always had. For
// Outcome Rejected the data is attempt_id, bot_id / contact_id / agent_id
// when non-empty, verdict, reason, error, decided_at. Times are written by
// AppendTime.
//
// The output depends only on v, so re-emitting a stored verdict gives the
// same bytes. It does not allocate when dst has room.
func AppendVerdict(dst []byte, v *Verdict) []byte {
	dst = append(dst, `{"specversion":"1.0","id":`...)
	dst = appendVerdictID(dst, v.AttemptID)
	dst = append(dst, `,"source":"sendgate","type":"desk.active_message.decided","time":"`...)
	t := len(dst)
	dst = AppendTime(dst, v.DecidedAt)
	var decided [32]byte
	nd := copy(decided[:], dst[t:])
	dst = append(dst, `","data":{"attempt_id":`...)
	dst = appendString(dst, v.AttemptID)
	rejected := v.Outcome == Rejected
	if !rejected || v.BotID != "" {
		dst = append(dst, `,"bot_id":`...)
		dst = appendString(dst, v.BotID)
	}
	if !rejected || v.ContactID != "" {
		dst = append(dst, `,"contact_id":`...)
		dst = appendString(dst, v.ContactID)
	}
	if !rejected || v.AgentID != "" {
		dst = append(dst, `,"agent_id":`...)
		dst = appendString(dst, v.AgentID)
	}
	dst = append(dst, `,"verdict":"`...)
	dst = append(dst, v.Outcome.String()...)
	dst = append(dst, `","reason":"`...)
	dst = append(dst, v.Reason.String()...)
	dst = append(dst, '"')
	if v.Rule != "" && !rejected {
		dst = append(dst, `,"rule":`...)
		dst = appendString(dst, v.Rule)
	}
	if rejected {
		dst = append(dst, `,"error":`...)
		dst = appendString(dst, v.Error)
		dst = append(dst, `,"decided_at":"`...)
		dst = append(dst, decided[:nd]...)
		return append(dst, `"}}`...)
	}
	dst = append(dst, `,"scope":`...)
	dst = appendString(dst, scopeName(v.Scope))
	limited := v.Enabled && v.Reason != Exempt
	if limited {
		dst = append(dst, `,"limit":`...)
		dst = strconv.AppendInt(dst, int64(v.Limit), 10)
	}
	dst = append(dst, `,"used":`...)
	dst = strconv.AppendInt(dst, int64(v.Used), 10)
	if limited {
		dst = append(dst, `,"remaining":`...)
		dst = strconv.AppendInt(dst, int64(v.Remaining), 10)
	}
	if v.Calendar != quota.Rolling {
		dst = append(dst, `,"calendar":`...)
		dst = appendString(dst, v.Calendar.String())
		dst = append(dst, `,"time_zone":`...)
		dst = appendString(dst, v.TimeZone)
	} else {
		dst = append(dst, `,"window_seconds":`...)
		dst = strconv.AppendInt(dst, v.WindowSeconds, 10)
	}
	if v.RetryAt != 0 {
		dst = append(dst, `,"retry_at":"`...)
		dst = AppendTime(dst, v.RetryAt)
		dst = append(dst, `","retry_after_seconds":`...)
		dst = strconv.AppendInt(dst, v.RetryAfterSeconds, 10)
	}
	dst = appendRuleUsages(dst, v.RuleUsages())
	dst = append(dst, `,"decided_at":"`...)
	dst = append(dst, decided[:nd]...)
	dst = append(dst, `","settings_version":`...)
	dst = strconv.AppendInt(dst, v.SettingsVersion, 10)
	return append(dst, "}}"...)
}

// appendVerdictID appends the JSON string attempt + "/verdict".
func appendVerdictID(dst []byte, attempt string) []byte {
	dst = appendString(dst, attempt)
	dst = dst[:len(dst)-1]
	return append(dst, `/verdict"`...)
}

// appendRules appends the members rules and exempt_categories of st, each
// when non-empty, with a leading comma. A rule is written with name, max,
// window_seconds or calendar and time_zone (omitted for UTC), scope, mode
// and categories (when non-nil).
func appendRules(dst []byte, st *quota.Settings) []byte {
	if len(st.Rules) > 0 {
		dst = append(dst, `,"rules":[`...)
		for i := range st.Rules {
			r := &st.Rules[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"name":`...)
			dst = appendString(dst, r.Name)
			dst = append(dst, `,"max":`...)
			dst = strconv.AppendInt(dst, int64(r.Max), 10)
			if r.Calendar == quota.Rolling {
				dst = append(dst, `,"window_seconds":`...)
				dst = strconv.AppendInt(dst, r.WindowMs/1000, 10)
			} else {
				dst = append(dst, `,"calendar":`...)
				dst = appendString(dst, r.Calendar.String())
				if z := r.ZoneName(); z != "UTC" {
					dst = append(dst, `,"time_zone":`...)
					dst = appendString(dst, z)
				}
			}
			dst = append(dst, `,"scope":`...)
			dst = appendString(dst, scopeName(r.Scope))
			if r.Shadow {
				dst = append(dst, `,"mode":"shadow"`...)
			} else {
				dst = append(dst, `,"mode":"enforce"`...)
			}
			if r.Categories != nil {
				dst = append(dst, `,"categories":`...)
				dst = appendStrings(dst, r.Categories)
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	if len(st.Exempt) > 0 {
		dst = append(dst, `,"exempt_categories":`...)
		dst = appendStrings(dst, st.Exempt)
	}
	return dst
}

// appendStrings appends ss as a JSON array of strings.
func appendStrings(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, c := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, c)
	}
	return append(dst, ']')
}
