package events

import (
	"math"
	"strconv"

	"github.com/sendgate/sendgate/quota"
)

// intErr checks an integer member against [lo, hi].
func (s *scanner) intErr(f *field, path string, lo, hi int64) (int64, *Error) {
	rng := func() *Error {
		return &Error{Field: path, Msg: "must be " + strconv.FormatInt(lo, 10) + ".." + strconv.FormatInt(hi, 10) + ", got " + s.show(f)}
	}
	switch f.kind {
	case kAbsent:
		return 0, &Error{Field: path, Msg: "required"}
	case kNumber:
	default:
		return 0, &Error{Field: path, Msg: "must be an integer, got " + f.kind.String()}
	}
	v, c := intValue(f.raw)
	switch c {
	case numFrac:
		return 0, &Error{Field: path, Msg: "must be an integer, got " + s.show(f)}
	case numHuge, numTiny:
		return 0, rng()
	}
	if v < lo || v > hi {
		return 0, rng()
	}
	return v, nil
}

// settingsDataKeys are the members of data that DecodeSettings reads, and
// activeMessagesKeys those of data.active_messages, in the order of the
// fields they are read into.
var (
	settingsDataKeys   = []string{"bot_id", "version", "changed_by", "active_messages"}
	activeMessagesKeys = []string{"limit_enabled", "max_per_contact", "window_seconds", "scope", "rules", "exempt_categories"}
)

// DecodeSettings decodes and validates a desk.settings.changed event, as
// schemas/settings-changed.schema.json describes it:
//
//   - the CloudEvents attributes as for an attempt (specversion "1.0", id of
//     1..MaxIDBytes bytes, non-empty source, type TypeSettingsChanged,
//     RFC 3339 time, data an object);
//   - data.bot_id: an id; data.version: an integer 1..math.MaxInt64;
//     data.changed_by: optional string;
//   - data.active_messages: an object with limit_enabled (boolean,
//     required), max_per_contact (integer 1..1000, required when enabled,
//     checked when present while disabled), window_seconds (integer
//     60..2592000, default 86400), scope ("contact" or "agent_contact",
//     default "contact"), rules and exempt_categories (see below).
//
// data.active_messages.rules, optional, is a list of at most
// quota.MaxRules-1 objects, each with name (1..quota.MaxNameLen of
// [a-z0-9_-], unique, not quota.DefaultRule; required), max (1..1000,
// required), exactly one of window_seconds (60..2592000) and calendar ("day",
// "week", "month"), time_zone (only with calendar: an IANA name that
// time.LoadLocation loads, not "" nor "Local"; absent means UTC), scope
// ("contact" or "agent_contact", default "contact"), mode ("enforce" or
// "shadow", default "enforce") and categories (a non-empty list of distinct
// strings of 1..quota.MaxCategoryLen bytes; absent means every category).
// data.active_messages.exempt_categories, optional, is a list of distinct
// strings of 1..quota.MaxCategoryLen bytes. They become Settings.Rules (in
// order; Zone nil for UTC) and Settings.Exempt; an empty list is the same as
// absent and leaves them nil, so that Settings.HasRules is false. Anything
// invalid in them makes the whole event invalid, with an error naming the
// member (e.g. data.active_messages.rules[1].time_zone). Rule names and
// time zones are checked beyond what the schema can express: names unique,
// zones known.
//
// As everywhere in the event, null is not absent (a member that is null is
// invalid) and unknown members are ignored, inside rules too.
//
// Integers may be written in any JSON form whose value is an integer
// (42, 42.0, 4.2e1). It returns an *Error on failure. A tombstone (empty
// value) is not a settings event: the caller handles it before calling.
func DecodeSettings(b []byte) (SettingsChanged, error) {
	s := scanner{b: b}
	var env envelope
	var bot, version, changedBy, enabled, maxPer, window, scope field
	var am kind
	var rules ruleList
	if s.peek() != '{' {
		return SettingsChanged{}, s.notObject()
	}
	activeMessages := func(i int) bool {
		switch i {
		case -1:
			return s.skip(3)
		case 4:
			return s.readRules(&rules)
		case 5:
			var ok bool
			rules.exempt, ok = s.readStrings(&rules.exempts)
			return ok
		}
		return s.value([...]*field{&enabled, &maxPer, &window, &scope}[i])
	}
	ok := s.event(&env, func() (kind, bool) {
		bot, version, changedBy, enabled, maxPer, window, scope = field{}, field{}, field{}, field{}, field{}, field{}, field{}
		am = kAbsent
		rules.reset()
		return s.object(settingsDataKeys, func(i int) bool {
			switch i {
			case -1:
				return s.skip(2)
			case 3: // active_messages
				enabled, maxPer, window, scope = field{}, field{}, field{}, field{}
				rules.reset()
				var ok bool
				am, ok = s.object(activeMessagesKeys, activeMessages)
				return ok
			}
			return s.value([...]*field{&bot, &version, &changedBy}[i])
		})
	})
	if !ok {
		return SettingsChanged{}, s.err
	}
	if err := idErr(&env.id, "id"); err != nil {
		return SettingsChanged{}, err
	}
	if err := s.envErr(&env, TypeSettingsChanged); err != nil {
		return SettingsChanged{}, err
	}
	if err := idErr(&bot, "data.bot_id"); err != nil {
		return SettingsChanged{}, err
	}
	ver, err := s.intErr(&version, "data.version", 1, math.MaxInt64)
	if err != nil {
		return SettingsChanged{}, err
	}
	if changedBy.kind != kAbsent && changedBy.kind != kString {
		return SettingsChanged{}, &Error{Field: "data.changed_by", Msg: "must be a string, got " + changedBy.kind.String()}
	}
	switch am {
	case kAbsent:
		return SettingsChanged{}, &Error{Field: "data.active_messages", Msg: "required"}
	case kObject:
	default:
		return SettingsChanged{}, &Error{Field: "data.active_messages", Msg: "must be an object, got " + am.String()}
	}
	st := quota.Settings{Version: ver, WindowMs: quota.DefaultWindowSeconds * 1000, Scope: quota.ScopeContact}
	switch enabled.kind {
	case kTrue:
		st.Enabled = true
	case kFalse:
	case kAbsent:
		return SettingsChanged{}, &Error{Field: "data.active_messages.limit_enabled", Msg: "required"}
	default:
		return SettingsChanged{}, &Error{Field: "data.active_messages.limit_enabled", Msg: "must be a boolean, got " + enabled.kind.String()}
	}
	if st.Enabled || maxPer.kind != kAbsent {
		m, err := s.intErr(&maxPer, "data.active_messages.max_per_contact", quota.MinMax, quota.MaxMax)
		if err != nil {
			if maxPer.kind == kAbsent {
				err.Msg = "required when limit_enabled is true"
			}
			return SettingsChanged{}, err
		}
		st.Max = int(m)
	}
	if window.kind != kAbsent {
		w, err := s.intErr(&window, "data.active_messages.window_seconds", quota.MinWindowSeconds, quota.MaxWindowSeconds)
		if err != nil {
			return SettingsChanged{}, err
		}
		st.WindowMs = w * 1000
	}
	switch {
	case scope.kind == kAbsent:
	case s.eq(&scope, "contact"):
		st.Scope = quota.ScopeContact
	case s.eq(&scope, "agent_contact"):
		st.Scope = quota.ScopeAgentContact
	default:
		return SettingsChanged{}, &Error{Field: "data.active_messages.scope", Msg: `must be "contact" or "agent_contact", got ` + s.show(&scope)}
	}
	if err := s.rulesErr(&rules, &st); err != nil {
		return SettingsChanged{}, err
	}
	if err := st.Validate(); err != nil {
		// Defence in depth: the checks above are quota's, so this does
		// not happen.
		return SettingsChanged{}, &Error{Field: "data.active_messages", Msg: err.Error()}
	}
	str := s.join(&env.id, &bot, &changedBy)
	n1 := env.id.n
	n2 := n1 + bot.n
	return SettingsChanged{ID: str[:n1], BotID: str[n1:n2], ChangedBy: str[n2:], Settings: st}, nil
}
