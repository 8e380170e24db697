package events

import (
	"math"
	"strconv"

	"github.com/sendgate/sendgate/quota"
)

// The members of a verdict of a bot with rules: rules (the state of each
// rule that applied), written by AppendVerdict and read by DecodeVerdict.

// appendRuleUsages appends `,"rules":[...]` when rs is non-empty.
func appendRuleUsages(dst []byte, rs []quota.RuleUsage) []byte {
	if len(rs) == 0 {
		return dst
	}
	dst = append(dst, `,"rules":[`...)
	for i := range rs {
		r := &rs[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"name":`...)
		dst = appendString(dst, r.Name)
		if r.Shadow {
			dst = append(dst, `,"mode":"shadow","limit":`...)
		} else {
			dst = append(dst, `,"mode":"enforce","limit":`...)
		}
		dst = strconv.AppendInt(dst, int64(r.Limit), 10)
		dst = append(dst, `,"used":`...)
		dst = strconv.AppendInt(dst, int64(r.Used), 10)
		dst = append(dst, `,"remaining":`...)
		dst = strconv.AppendInt(dst, int64(r.Remaining), 10)
		if r.RetryAt != 0 {
			dst = append(dst, `,"retry_at":"`...)
			dst = AppendTime(dst, r.RetryAt)
			dst = append(dst, '"')
		}
		if r.WouldBlock {
			dst = append(dst, `,"would_block":true`...)
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// maxCalendarRetrySeconds bounds retry_after_seconds when the binding rule
// is a calendar one: the next month starts at most 31 days and a daylight
// saving time change away, so 32 days.
const maxCalendarRetrySeconds = 32 * 86400

// ruleUsageKeys are the members of an entry of a verdict's rules; the u*
// constants index them.
var ruleUsageKeys = []string{"name", "mode", "limit", "used", "remaining", "retry_at", "would_block"}

const (
	uName = iota
	uMode
	uLimit
	uUsed
	uRemaining
	uRetryAt
	uWouldBlock
	uCount
)

// verdictRules is what DecodeVerdict read of a verdict's rules: its kind,
// the number of elements and the first quota.MaxRules of them.
type verdictRules struct {
	kind kind
	n    int
	list [quota.MaxRules]ruleUsageFields
}

// ruleUsageFields are the members of one entry of rules, as read.
type ruleUsageFields struct {
	kind kind
	f    [uCount]field
}

// readVerdictRules reads the value of data.rules (depth 2) into r.
func (s *scanner) readVerdictRules(r *verdictRules) bool {
	*r = verdictRules{}
	var ok bool
	r.kind, ok = s.array(func(i int) bool {
		r.n++
		if i >= len(r.list) {
			return s.skip(3)
		}
		e := &r.list[i]
		var ok bool
		e.kind, ok = s.object(ruleUsageKeys, func(k int) bool {
			if k < 0 {
				return s.skip(4)
			}
			return s.value(&e.f[k])
		})
		return ok
	})
	return ok
}

// window reads window_seconds, or calendar and time_zone, into v.
func (r verdictReader) window(v *Verdict) error {
	cal, path := r.member(vCalendar)
	if cal.kind == kAbsent {
		if err := r.absent("without calendar", vTimeZone); err != nil {
			return err
		}
		var err error
		v.WindowSeconds, err = r.int(vWindowSeconds, quota.MinWindowSeconds, quota.MaxWindowSeconds)
		return err
	}
	if err := r.absent("with calendar", vWindowSeconds); err != nil {
		return err
	}
	if (v.Reason != WithinLimit && v.Reason != LimitReached) || r.data[vRule].kind == kAbsent {
		return &Error{Field: path, Msg: "only allowed with rule (a binding calendar rule)"}
	}
	name, err := r.str(cal, path)
	if err != nil {
		return err
	}
	var ok bool
	if v.Calendar, ok = quota.ParseCalendar(name); !ok {
		return &Error{Field: path, Msg: `must be "day", "week" or "month", got ` + strconv.Quote(name)}
	}
	f, path := r.member(vTimeZone)
	if v.TimeZone, err = r.str(f, path); err != nil {
		return err
	}
	if v.TimeZone == "UTC" {
		return nil
	}
	if _, err := r.s.zoneErr(f, path); err != nil {
		return err
	}
	return nil
}

// rules reads rule and rules into v, which holds the other members: present
// together, only on within_limit and limit_reached, and consistent with the
// top-level members.
func (r verdictReader) rules(v *Verdict, rs *verdictRules) error {
	rule, rulePath := r.member(vRule)
	switch {
	case rule.kind == kAbsent && rs.kind == kAbsent:
		return nil
	case rule.kind == kAbsent:
		return &Error{Field: rulePath, Msg: "required with rules"}
	case rs.kind == kAbsent:
		return &Error{Field: "data.rules", Msg: "required with rule"}
	case rs.kind != kArray:
		return &Error{Field: "data.rules", Msg: "must be an array, got " + rs.kind.String()}
	case rs.n == 0 || rs.n > quota.MaxRules:
		return &Error{Field: "data.rules", Msg: "must have 1.." + strconv.Itoa(quota.MaxRules) + " entries, got " + strconv.Itoa(rs.n)}
	}
	var err error
	if v.Rule, err = r.str(rule, rulePath); err != nil {
		return err
	}
	v.NumRules = rs.n
	bind := -1
	var latest int64
	for i := range rs.n {
		u := &v.Rules[i]
		if err := r.ruleUsage(u, &rs.list[i], i, v); err != nil {
			return err
		}
		if u.Name == v.Rule && !u.Shadow {
			bind = i
		}
		if !u.Shadow && u.Remaining == 0 {
			latest = max(latest, u.RetryAt)
		}
	}
	if bind < 0 {
		return &Error{Field: rulePath, Msg: "must name an enforced entry of rules, got " + strconv.Quote(v.Rule)}
	}
	if b := &v.Rules[bind]; b.Limit != v.Limit || b.Used != v.Used || b.Remaining != v.Remaining {
		return &Error{Field: rulePath, Msg: "limit, used and remaining must be those of the rule's entry in rules"}
	}
	if v.RetryAt != 0 && v.RetryAt != latest {
		return &Error{Field: "data.retry_at", Msg: "must be the latest retry_at of the enforced rules with nothing remaining"}
	}
	return nil
}

// ruleUsage reads entry i of rules into u.
func (r verdictReader) ruleUsage(u *quota.RuleUsage, e *ruleUsageFields, i int, v *Verdict) error {
	path := "data.rules[" + strconv.Itoa(i) + "]"
	if e.kind != kObject {
		return &Error{Field: path, Msg: "must be an object, got " + e.kind.String()}
	}
	name, err := r.str(&e.f[uName], path+".name")
	if err != nil {
		return err
	}
	switch {
	case i == 0 && name != quota.DefaultRule:
		return &Error{Field: path + ".name", Msg: `must be "` + quota.DefaultRule + `" for the first entry, got ` + strconv.Quote(name)}
	case i > 0 && (name == quota.DefaultRule || !quota.ValidRuleName(name)):
		return &Error{Field: path + ".name", Msg: "must be a rule name, got " + strconv.Quote(name)}
	}
	for j := range i {
		if v.Rules[j].Name == name {
			return &Error{Field: path + ".name", Msg: strconv.Quote(name) + " is already the name of rules[" + strconv.Itoa(j) + "]"}
		}
	}
	u.Name = name
	mode, err := r.str(&e.f[uMode], path+".mode")
	if err != nil {
		return err
	}
	switch mode {
	case "enforce":
	case "shadow":
		u.Shadow = true
	default:
		return &Error{Field: path + ".mode", Msg: `must be "enforce" or "shadow", got ` + strconv.Quote(mode)}
	}
	limit, err := r.intf(&e.f[uLimit], path+".limit", quota.MinMax, quota.MaxMax)
	if err != nil {
		return err
	}
	used, err := r.intf(&e.f[uUsed], path+".used", 0, math.MaxInt)
	if err != nil {
		return err
	}
	rem, err := r.intf(&e.f[uRemaining], path+".remaining", 0, quota.MaxMax)
	if err != nil {
		return err
	}
	u.Limit, u.Used, u.Remaining = int(limit), int(used), int(rem)
	if u.Remaining != max(u.Limit-u.Used, 0) {
		return &Error{Field: path + ".remaining", Msg: "must be max(limit - used, 0)"}
	}
	switch {
	case u.Remaining != 0 && e.f[uRetryAt].kind != kAbsent:
		return &Error{Field: path + ".retry_at", Msg: "must be absent unless remaining is 0"}
	case u.Remaining == 0:
		if u.RetryAt, err = r.time(&e.f[uRetryAt], path+".retry_at"); err != nil {
			return err
		}
		if u.RetryAt <= v.DecidedAt {
			return &Error{Field: path + ".retry_at", Msg: "must be later than decided_at"}
		}
	}
	switch wb := &e.f[uWouldBlock]; {
	case wb.kind == kAbsent:
	case wb.kind != kTrue:
		return &Error{Field: path + ".would_block", Msg: "must be true when present, got " + wb.kind.String()}
	case !u.Shadow:
		return &Error{Field: path + ".would_block", Msg: "only allowed on a shadow rule"}
	case u.Remaining != 0:
		return &Error{Field: path + ".would_block", Msg: "a rule that would block has nothing remaining"}
	default:
		u.WouldBlock = true
	}
	return nil
}
