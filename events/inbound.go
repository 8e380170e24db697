package events

import (
	"strconv"
	"unicode/utf8"

	"github.com/sendgate/sendgate/quota"
)

// envelope holds the CloudEvents attributes of a value being decoded.
type envelope struct {
	spec, id, source, typ, time field
	data                        kind
}

// envelopeKeys are the top-level members event reads.
var envelopeKeys = []string{"specversion", "id", "source", "type", "time", "data"}

// event reads a whole value that starts with '{' (check with s.peek): its
// CloudEvents attributes into env and, for each "data" member (of duplicates
// the last one counts), data, which resets what it collects from data and
// reads the value with s.object. Other members are validated and skipped. It
// returns false on a syntax error (s.err set), also one after the top-level
// object.
func (s *scanner) event(env *envelope, data func() (kind, bool)) bool {
	attrs := [...]*field{&env.spec, &env.id, &env.source, &env.typ, &env.time}
	_, ok := s.object(envelopeKeys, func(i int) bool {
		switch {
		case i < 0:
			return s.skip(1)
		case i < len(attrs):
			return s.value(attrs[i])
		}
		k, ok := data()
		env.data = k
		return ok
	})
	return ok && s.end()
}

// notObject explains why a value that does not start with '{' is invalid.
func (s *scanner) notObject() *Error {
	if s.skip(0) && s.end() {
		var f field
		s.i = 0
		s.value(&f)
		return &Error{Field: "value", Msg: "must be a JSON object, got " + f.kind.String()}
	}
	return s.err
}

// idErr checks an id or *_id member: a string of 1..MaxIDBytes bytes.
func idErr(f *field, path string) *Error {
	switch {
	case f.kind == kAbsent:
		return &Error{Field: path, Msg: "required"}
	case f.kind != kString:
		return &Error{Field: path, Msg: "must be a string, got " + f.kind.String()}
	case f.n == 0 || f.n > MaxIDBytes:
		return &Error{Field: path, Msg: "must be 1.." + strconv.Itoa(MaxIDBytes) + " bytes, got " + strconv.Itoa(f.n)}
	}
	return nil
}

// validID reports whether f is a valid id.
func validID(f *field) bool { return f.kind == kString && f.n > 0 && f.n <= MaxIDBytes }

// show renders a member's value for an error message, truncated.
func (s *scanner) show(f *field) string {
	switch f.kind {
	case kString:
		v := appendField(nil, f)
		if len(v) > 64 {
			n := 64
			for n > 0 && !utf8.RuneStart(v[n]) {
				n--
			}
			return strconv.Quote(string(v[:n])) + "..."
		}
		return strconv.Quote(string(v))
	case kNumber:
		if len(f.raw) > 32 {
			return string(f.raw[:32]) + "..."
		}
		return string(f.raw)
	}
	return f.kind.String()
}

// envErr checks the attributes other than id, in a fixed order:
// specversion, type, source, time, data.
func (s *scanner) envErr(env *envelope, typ string) *Error {
	switch {
	case env.spec.kind == kAbsent:
		return &Error{Field: "specversion", Msg: "required"}
	case !s.eq(&env.spec, SpecVersion):
		return &Error{Field: "specversion", Msg: `must be "` + SpecVersion + `", got ` + s.show(&env.spec)}
	case env.typ.kind == kAbsent:
		return &Error{Field: "type", Msg: "required"}
	case !s.eq(&env.typ, typ):
		return &Error{Field: "type", Msg: `must be "` + typ + `", got ` + s.show(&env.typ)}
	case env.source.kind == kAbsent:
		return &Error{Field: "source", Msg: "required"}
	case env.source.kind != kString:
		return &Error{Field: "source", Msg: "must be a string, got " + env.source.kind.String()}
	case env.source.n == 0:
		return &Error{Field: "source", Msg: "must not be empty"}
	case env.time.kind == kAbsent:
		return &Error{Field: "time", Msg: "required"}
	case env.time.kind != kString:
		return &Error{Field: "time", Msg: "must be a string, got " + env.time.kind.String()}
	case !validDateTime(s.decoded(&env.time)):
		return &Error{Field: "time", Msg: "must be an RFC 3339 date-time, got " + s.show(&env.time)}
	case env.data == kAbsent:
		return &Error{Field: "data", Msg: "required"}
	case env.data != kObject:
		return &Error{Field: "data", Msg: "must be an object, got " + env.data.String()}
	}
	return nil
}

// decoded returns the decoded text of string field f, in scratch space
// valid until the next use of s.scratch.
func (s *scanner) decoded(f *field) []byte {
	if !f.esc {
		return f.raw
	}
	return unescape(s.scratch[:0], f.raw)
}

// inboundDataKeys are the members of data that DecodeInbound reads, in the
// order of its fields bot, contact, agent, attempt and category.
var inboundDataKeys = []string{"bot_id", "contact_id", "agent_id", "attempt_id", "category"}

// senderErr is the first error of a sender event's envelope (of type typ),
// data.bot_id and data.contact_id, in that order: what an attempt and a
// send-failed event check first.
func (s *scanner) senderErr(env *envelope, typ string, bot, contact *field) *Error {
	if err := s.envErr(env, typ); err != nil {
		return err
	}
	if err := idErr(bot, "data.bot_id"); err != nil {
		return err
	}
	return idErr(contact, "data.contact_id")
}

// categoryErr checks an optional category member (data.category of an
// attempt, an entry of a rule's categories or of exempt_categories): when
// present, a string of 1..quota.MaxCategoryLen bytes.
func categoryErr(f *field, path string) *Error {
	switch {
	case f.kind == kAbsent:
		return nil
	case f.kind != kString:
		return &Error{Field: path, Msg: "must be a string, got " + f.kind.String()}
	case f.n == 0 || f.n > quota.MaxCategoryLen:
		return &Error{Field: path, Msg: "must be 1.." + strconv.Itoa(quota.MaxCategoryLen) + " bytes, got " + strconv.Itoa(f.n)}
	}
	return nil
}

// DecodeInbound decodes a record value of the attempts topic.
//
//   - A valid desk.active_message.failed event gives Inbound{Failed: true,
//     ID, BotID, ContactID, AttemptID} and a nil error.
//   - A valid desk.active_message.requested event gives Inbound{ID, BotID,
//     ContactID, AgentID, Category} and a nil error; Category is "" when
//     data.category is absent. When present it must be a string of
//     1..quota.MaxCategoryLen bytes (null, "" or a longer one is an invalid
//     attempt, error field data.category).
//   - Any other value whose top-level "id" is a string of 1..MaxIDBytes
//     bytes is an invalid attempt: the result has that ID and whichever of
//     data.bot_id, data.contact_id and data.agent_id are valid ids, and the
//     error is a non-nil *Error (the caller publishes a rejected verdict);
//     Category is then always "". If
//     its type is TypeFailed, the error says why it is not a valid failed
//     event; otherwise why it is not a valid attempt.
//   - A value whose id cannot be read (not JSON, not an object, id missing,
//     not a string, empty or too long) gives Inbound{} (ID == "") and an
//     *Error.
//
// Validation follows schemas/attempt-requested.schema.json and
// schemas/attempt-failed.schema.json; unknown members are ignored at any
// depth, and of duplicate members the last one counts. The returned strings
// do not alias b. DecodeInbound uses neither encoding/json nor reflection;
// it allocates once for the returned strings (an error costs more).
func DecodeInbound(b []byte) (Inbound, error) {
	s := scanner{b: b}
	var env envelope
	var bot, contact, agent, attempt, category field
	if s.peek() != '{' {
		return Inbound{}, s.notObject()
	}
	ok := s.event(&env, func() (kind, bool) {
		bot, contact, agent, attempt, category = field{}, field{}, field{}, field{}, field{}
		return s.object(inboundDataKeys, func(i int) bool {
			if i < 0 {
				return s.skip(2)
			}
			return s.value([...]*field{&bot, &contact, &agent, &attempt, &category}[i])
		})
	})
	if !ok {
		return Inbound{}, s.err
	}
	if err := idErr(&env.id, "id"); err != nil {
		return Inbound{}, err
	}

	failed := s.eq(&env.typ, TypeFailed)
	var err *Error
	if failed {
		err = s.senderErr(&env, TypeFailed, &bot, &contact)
		if err == nil {
			err = idErr(&attempt, "data.attempt_id")
		}
		if err == nil {
			// A valid failed event.
			str := s.join(&env.id, &bot, &contact, &attempt)
			n1 := env.id.n
			n2 := n1 + bot.n
			n3 := n2 + contact.n
			return Inbound{Failed: true, ID: str[:n1], BotID: str[n1:n2], ContactID: str[n2:n3], AttemptID: str[n3:]}, nil
		}
	} else {
		err = s.senderErr(&env, TypeRequested, &bot, &contact)
		if err == nil {
			err = idErr(&agent, "data.agent_id")
		}
		if err == nil {
			err = categoryErr(&category, "data.category")
		}
	}
	// An attempt, valid or not: the id and the readable ids.
	if env.data != kObject {
		bot, contact, agent = field{}, field{}, field{}
	}
	for _, f := range [...]*field{&bot, &contact, &agent} {
		if !validID(f) {
			*f = field{}
		}
	}
	if err != nil {
		category = field{}
	}
	str := s.join(&env.id, &bot, &contact, &agent, &category)
	n1 := env.id.n
	n2 := n1 + bot.n
	n3 := n2 + contact.n
	n4 := n3 + agent.n
	in := Inbound{ID: str[:n1], BotID: str[n1:n2], ContactID: str[n2:n3], AgentID: str[n3:n4], Category: str[n4:]}
	if err != nil {
		return in, err
	}
	return in, nil
}
