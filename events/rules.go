package events

import (
	"strconv"
	"time"

	// The calendar rules' time zones are loaded with time.LoadLocation,
	// which reads the system's /usr/share/zoneinfo first; the distroless
	// image has none, so the IANA database is embedded (about 450 kB).
	_ "time/tzdata"

	"github.com/sendgate/sendgate/quota"
)

// The rules and exempt categories of a settings event
// (data.active_messages.rules and .exempt_categories): read by the scanner
// into ruleList, then checked and converted by rulesErr.

// ruleKeys are the members of a rule that DecodeSettings reads, in the order
// of ruleFields' fields name .. mode; categories is read apart.
var ruleKeys = []string{"name", "max", "window_seconds", "calendar", "time_zone", "scope", "mode", "categories"}

const ruleCategories = 7 // index of "categories" in ruleKeys

// ruleFields are the members of one element of rules, as read.
type ruleFields struct {
	kind                                           kind // of the element
	name, max, window, calendar, zone, scope, mode field
	cats                                           kind // of categories
	categories                                     []field
}

// ruleList is what the scanner read of rules and exempt_categories.
type ruleList struct {
	rules kind
	// n counts the elements of rules; only the first quota.MaxRules are
	// kept in list (one more than allowed, to report the error).
	n       int
	list    []ruleFields
	exempt  kind
	exempts []field
}

// reset forgets what was read, for a duplicate active_messages member.
func (r *ruleList) reset() { *r = ruleList{} }

// readRules reads the value of a rules member at depth 4 (top-level object
// 0, data 1, active_messages 2) into r.
func (s *scanner) readRules(r *ruleList) bool {
	r.n, r.list = 0, r.list[:0]
	var ok bool
	r.rules, ok = s.array(func(i int) bool {
		r.n++
		if i >= quota.MaxRules {
			return s.skip(4)
		}
		r.list = append(r.list, ruleFields{})
		rf := &r.list[len(r.list)-1]
		var ok bool
		rf.kind, ok = s.object(ruleKeys, func(k int) bool {
			switch k {
			case -1:
				return s.skip(5)
			case ruleCategories:
				var ok bool
				rf.cats, ok = s.readStrings(&rf.categories)
				return ok
			}
			return s.value([...]*field{&rf.name, &rf.max, &rf.window, &rf.calendar, &rf.zone, &rf.scope, &rf.mode}[k])
		})
		return ok
	})
	return ok
}

// readStrings reads a list of strings (a rule's categories,
// exempt_categories) into *dst, keeping every element (non-strings too, for
// their kind); it returns the value's kind.
func (s *scanner) readStrings(dst *[]field) (kind, bool) {
	*dst = (*dst)[:0]
	return s.array(func(int) bool {
		var f field
		if !s.value(&f) {
			return false
		}
		*dst = append(*dst, f)
		return true
	})
}

// array reads the next value. When it is an array, array calls elem for each
// of its elements in order, with its index; elem reads or skips the element
// and returns false on a syntax error. Any other value is validated and
// skipped. array returns the value's kind and false on a syntax error
// (s.err set).
func (s *scanner) array(elem func(i int) bool) (kind, bool) {
	if s.peek() != '[' {
		var f field
		ok := s.value(&f)
		return f.kind, ok
	}
	s.i++
	if s.peek() == ']' {
		s.i++
		return kArray, true
	}
	for i := 0; ; i++ {
		if !elem(i) {
			return kArray, false
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return kArray, true
		default:
			return kArray, s.syntax("expected ',' or ']' in array")
		}
	}
}

const amPath = "data.active_messages."

// rulesErr checks what readRules and readStrings read and sets st.Rules and
// st.Exempt; an empty list leaves them nil (the same as absent). On error st
// is to be discarded.
func (s *scanner) rulesErr(r *ruleList, st *quota.Settings) *Error {
	switch r.rules {
	case kAbsent:
	case kArray:
		if r.n > quota.MaxRules-1 {
			return &Error{Field: amPath + "rules", Msg: "at most " + strconv.Itoa(quota.MaxRules-1) +
				" rules besides the default one, got " + strconv.Itoa(r.n)}
		}
		if r.n > 0 {
			st.Rules = make([]quota.Rule, r.n)
		}
		for i := range r.list {
			if err := s.ruleErr(&r.list[i], i, st.Rules); err != nil {
				return err
			}
		}
	default:
		return &Error{Field: amPath + "rules", Msg: "must be an array, got " + r.rules.String()}
	}
	switch r.exempt {
	case kAbsent:
	case kArray:
		cs, err := s.categories(r.exempts, amPath+"exempt_categories")
		if err != nil {
			return err
		}
		st.Exempt = cs
	default:
		return &Error{Field: amPath + "exempt_categories", Msg: "must be an array, got " + r.exempt.String()}
	}
	return nil
}

// ruleErr checks rule i and fills rules[i]; rules[:i] are the rules before it.
func (s *scanner) ruleErr(rf *ruleFields, i int, rules []quota.Rule) *Error {
	path := amPath + "rules[" + strconv.Itoa(i) + "]"
	if rf.kind != kObject {
		return &Error{Field: path, Msg: "must be an object, got " + rf.kind.String()}
	}
	r := &rules[i]
	switch {
	case rf.name.kind == kAbsent:
		return &Error{Field: path + ".name", Msg: "required"}
	case rf.name.kind != kString:
		return &Error{Field: path + ".name", Msg: "must be a string, got " + rf.name.kind.String()}
	}
	r.Name = string(appendField(nil, &rf.name))
	if !quota.ValidRuleName(r.Name) {
		return &Error{Field: path + ".name", Msg: "must be 1.." + strconv.Itoa(quota.MaxNameLen) +
			" characters of [a-z0-9_-], got " + s.show(&rf.name)}
	}
	if r.Name == quota.DefaultRule {
		return &Error{Field: path + ".name", Msg: `"` + quota.DefaultRule + `" is reserved for max_per_contact, window_seconds and scope`}
	}
	for j := range rules[:i] {
		if rules[j].Name == r.Name {
			return &Error{Field: path + ".name", Msg: strconv.Quote(r.Name) + " is already the name of rules[" + strconv.Itoa(j) + "]"}
		}
	}
	m, err := s.intErr(&rf.max, path+".max", quota.MinMax, quota.MaxMax)
	if err != nil {
		return err
	}
	r.Max = int(m)

	switch {
	case rf.window.kind != kAbsent && rf.calendar.kind != kAbsent:
		return &Error{Field: path + ".calendar", Msg: "not allowed with window_seconds (a rule has exactly one of window_seconds and calendar)"}
	case rf.window.kind != kAbsent:
		w, err := s.intErr(&rf.window, path+".window_seconds", quota.MinWindowSeconds, quota.MaxWindowSeconds)
		if err != nil {
			return err
		}
		r.WindowMs = w * 1000
		if rf.zone.kind != kAbsent {
			return &Error{Field: path + ".time_zone", Msg: "only allowed on a calendar rule"}
		}
	case rf.calendar.kind != kAbsent:
		c, ok := quota.Calendar(0), false
		if rf.calendar.kind == kString {
			c, ok = quota.ParseCalendar(string(s.decoded(&rf.calendar)))
		}
		if !ok {
			return &Error{Field: path + ".calendar", Msg: `must be "day", "week" or "month", got ` + s.show(&rf.calendar)}
		}
		r.Calendar = c
		if r.Zone, err = s.zoneErr(&rf.zone, path+".time_zone"); err != nil {
			return err
		}
	default:
		return &Error{Field: path, Msg: "requires window_seconds or calendar"}
	}

	switch {
	case rf.scope.kind == kAbsent:
	case s.eq(&rf.scope, "contact"):
	case s.eq(&rf.scope, "agent_contact"):
		r.Scope = quota.ScopeAgentContact
	default:
		return &Error{Field: path + ".scope", Msg: `must be "contact" or "agent_contact", got ` + s.show(&rf.scope)}
	}
	switch {
	case rf.mode.kind == kAbsent:
	case s.eq(&rf.mode, "enforce"):
	case s.eq(&rf.mode, "shadow"):
		r.Shadow = true
	default:
		return &Error{Field: path + ".mode", Msg: `must be "enforce" or "shadow", got ` + s.show(&rf.mode)}
	}
	switch rf.cats {
	case kAbsent:
	case kArray:
		if len(rf.categories) == 0 {
			return &Error{Field: path + ".categories", Msg: "must not be empty (leave it out for every category)"}
		}
		if r.Categories, err = s.categories(rf.categories, path+".categories"); err != nil {
			return err
		}
	default:
		return &Error{Field: path + ".categories", Msg: "must be an array, got " + rf.cats.String()}
	}
	return nil
}

// categories checks a list of categories (distinct strings of
// 1..quota.MaxCategoryLen bytes) and returns them; nil for an empty list.
func (s *scanner) categories(fs []field, path string) ([]string, *Error) {
	if len(fs) == 0 {
		return nil, nil
	}
	out := make([]string, len(fs))
	var seen map[string]int
	if len(fs) > 8 {
		seen = make(map[string]int, len(fs))
	}
	for j := range fs {
		p := path + "[" + strconv.Itoa(j) + "]"
		if err := categoryErr(&fs[j], p); err != nil {
			return nil, err
		}
		c := string(appendField(nil, &fs[j]))
		dup := -1
		if seen != nil {
			if k, ok := seen[c]; ok {
				dup = k
			}
			seen[c] = j
		} else {
			for k := range out[:j] {
				if out[k] == c {
					dup = k
					break
				}
			}
		}
		if dup >= 0 {
			return nil, &Error{Field: p, Msg: strconv.Quote(c) + " is already listed at [" + strconv.Itoa(dup) + "]"}
		}
		out[j] = c
	}
	return out, nil
}

// zoneErr reads a calendar rule's time_zone: absent means UTC. Otherwise a
// string naming a zone of the IANA database (as time.LoadLocation loads it),
// not "" and not "Local". UTC, absent or named "UTC", is returned as nil
// (quota.Rule.Zone's UTC), so that equal settings decode equally.
func (s *scanner) zoneErr(f *field, path string) (*time.Location, *Error) {
	switch f.kind {
	case kAbsent:
		return nil, nil
	case kString:
	default:
		return nil, &Error{Field: path, Msg: "must be a string, got " + f.kind.String()}
	}
	name := string(s.decoded(f))
	switch {
	case name == "":
		return nil, &Error{Field: path, Msg: "must not be empty (leave it out for UTC)"}
	case name == "Local":
		return nil, &Error{Field: path, Msg: `must be an IANA time zone name, got "Local"`}
	case !zoneSyntax(name):
		return nil, &Error{Field: path, Msg: "must be an IANA time zone name (letters, digits, '_', '+', '-' and '/'), got " + s.show(f)}
	}
	if name == "UTC" {
		return nil, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, &Error{Field: path, Msg: "unknown time zone " + s.show(f)}
	}
	return loc, nil
}

// zoneSyntax reports whether name has the form of an IANA zone name,
// [A-Za-z0-9_+-]+ separated by single '/' (every name of the database does;
// this also keeps paths such as "../x" away from time.LoadLocation).
func zoneSyntax(name string) bool {
	prev := byte('/')
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '+', c == '-':
		case c == '/' && prev != '/':
		default:
			return false
		}
		prev = c
	}
	return prev != '/'
}
