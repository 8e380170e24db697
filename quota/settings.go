package quota

import (
	"errors"
	"fmt"
)

// Scope says which counted sends share one limit.
type Scope uint8

const (
	// ScopeContact counts every agent's sends to the contact together ("total
	// per customer"). It is the default.
	ScopeContact Scope = iota
	// ScopeAgentContact gives each agent its own limit for the same contact.
	ScopeAgentContact
)

// scopeNames are the wire names of the scopes.
var scopeNames = [...]string{ScopeContact: "contact", ScopeAgentContact: "agent_contact"}

// String returns the wire name of the scope: "contact" or "agent_contact".
func (s Scope) String() string { return wireName(scopeNames[:], s, "scope") }

// ParseScope parses a wire scope name ("contact" or "agent_contact"); ok is
// false for anything else.
func ParseScope(s string) (Scope, bool) { return parseWire[Scope](scopeNames[:], s) }

// wireName returns the wire name of enum value v, or kind(v) for an unknown
// one.
func wireName[T ~uint8](names []string, v T, kind string) string {
	if int(v) < len(names) && names[v] != "" {
		return names[v]
	}
	return fmt.Sprintf("%s(%d)", kind, uint8(v))
}

// parseWire parses a wire name into its enum value; ok is false for an
// unknown or empty name.
func parseWire[T ~uint8](names []string, s string) (T, bool) {
	for v, name := range names {
		if name == s && s != "" {
			return T(v), true
		}
	}
	return 0, false
}

// Bounds of the settings, as fixed by the contract.
const (
	// MinMax and MaxMax bound Settings.Max (max_per_contact).
	MinMax = 1
	MaxMax = 1000
	// MinWindowSeconds and MaxWindowSeconds bound the window (window_seconds):
	// one minute to 30 days.
	MinWindowSeconds = 60
	MaxWindowSeconds = 2_592_000
	// DefaultWindowSeconds is the window of a bot that sets none: 24 hours.
	DefaultWindowSeconds = 86_400
)

// Settings are the limit settings in force for one bot.
type Settings struct {
	// Version is the settings version; 0 for a bot without settings.
	Version int64
	// Enabled says whether the limit is enforced. Sends are counted either way.
	Enabled bool
	// Max is X, the most counted sends per scope key within the window
	// (MinMax..MaxMax when Enabled).
	Max int
	// WindowMs is the window length in milliseconds.
	WindowMs int64
	// Scope selects which sends share one limit.
	Scope Scope
	// Rules are the bot's rules besides the default one (Max, WindowMs and
	// Scope), in settings order: at most MaxRules-1, with unique names.
	Rules []Rule
	// Exempt are the categories whose attempts are allowed without being
	// counted while the limit is enabled.
	Exempt []string
}

// HasRules reports whether the bot has rules or exempt categories besides the
// default rule: its decisions then name their binding rule and list the
// rules (DecideRules). A bot without either decides as the default rule
// alone, with the verdicts of a single limit.
func (s *Settings) HasRules() bool { return len(s.Rules) > 0 || len(s.Exempt) > 0 }

// IsExempt reports whether attempts of category are exempt ("" never is).
func (s *Settings) IsExempt(category string) bool {
	for _, c := range s.Exempt {
		if c == category {
			return true
		}
	}
	return false
}

// NeedsAgent reports whether decisions on attempts of category ("" for none)
// depend on the agent: the default rule's scope, or that of a rule that
// applies to category, is ScopeAgentContact.
func (s *Settings) NeedsAgent(category string) bool {
	if s.Scope == ScopeAgentContact {
		return true
	}
	for i := range s.Rules {
		if r := &s.Rules[i]; r.Scope == ScopeAgentContact && r.Applies(category) {
			return true
		}
	}
	return false
}

// HorizonMs is how long after its decision time a send may still count for
// some rule: the longest window or calendar period among the rules (see
// Rule). Sends older than that can be expired (Expire) and a history whose
// newest send is older can be deleted (ExpiresAt).
func (s *Settings) HorizonMs() int64 {
	h := s.WindowMs
	for i := range s.Rules {
		h = max(h, s.Rules[i].horizonMs())
	}
	return h
}

// Disabled returns the settings of a bot without settings: limit disabled,
// version 0, 24 h window, scope contact.
func Disabled() Settings {
	return Settings{WindowMs: DefaultWindowSeconds * 1000, Scope: ScopeContact}
}

// WindowSeconds returns the window length in whole seconds.
func (s Settings) WindowSeconds() int64 { return s.WindowMs / 1000 }

// Validate reports whether the settings are within the contract's bounds:
// Max in MinMax..MaxMax when Enabled (or when set at all), WindowMs a whole
// number of seconds in MinWindowSeconds..MaxWindowSeconds, a known Scope, a
// Version not below 0, at most MaxRules-1 valid Rules with unique names, and
// valid Exempt categories.
// Disabled() is valid. Errors are prefixed "quota: ".
//
// Decide and Usage never panic on invalid settings, but their answers are only
// specified for valid ones (an enabled Max outside the bounds is clamped into
// them).
func (s Settings) Validate() error {
	if s.Version < 0 {
		return fmt.Errorf("quota: version %d is negative", s.Version)
	}
	if s.Enabled || s.Max != 0 {
		if s.Max < MinMax || s.Max > MaxMax {
			return fmt.Errorf("quota: max %d out of range %d..%d", s.Max, MinMax, MaxMax)
		}
	}
	if s.WindowMs%1000 != 0 {
		return fmt.Errorf("quota: window %d ms is not a whole number of seconds", s.WindowMs)
	}
	if w := s.WindowSeconds(); w < MinWindowSeconds || w > MaxWindowSeconds {
		return fmt.Errorf("quota: window %d s out of range %d..%d", w, MinWindowSeconds, MaxWindowSeconds)
	}
	if s.Scope != ScopeContact && s.Scope != ScopeAgentContact {
		return errors.New("quota: unknown scope " + s.Scope.String())
	}
	if len(s.Rules) > MaxRules-1 {
		return fmt.Errorf("quota: %d rules, at most %d besides the default one", len(s.Rules), MaxRules-1)
	}
	for i := range s.Rules {
		r := &s.Rules[i]
		if err := r.validate(); err != nil {
			return fmt.Errorf("quota: rules[%d]: %w", i, err)
		}
		for j := range s.Rules[:i] {
			if s.Rules[j].Name == r.Name {
				return fmt.Errorf("quota: rules[%d]: name %q is used twice", i, r.Name)
			}
		}
	}
	if err := validCategories(s.Exempt); err != nil {
		return fmt.Errorf("quota: exempt_categories: %w", err)
	}
	return nil
}

// limit returns Max clamped into MinMax..MaxMax, the limit Decide and Usage
// enforce when the settings are enabled.
func (s Settings) limit() int {
	return min(max(s.Max, MinMax), MaxMax)
}
