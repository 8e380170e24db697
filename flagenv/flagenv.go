package flagenv

import (
	"errors"
	"flag"
	"fmt"
	"sort"
	"strings"
)

// Prefix starts the variables of every sendgate command's flags.
const Prefix = "SENDGATE_"

// Name is the variable of flag name: Name("SENDGATE_", "http-addr") is
// "SENDGATE_HTTP_ADDR".
func Name(prefix, name string) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Getenv looks a variable up in environ ("NAME=value" entries, as
// os.Environ returns them); "" when it is not there.
func Getenv(environ []string) func(string) string {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return func(k string) string { return env[k] }
}

// Flags tells where each flag's value came from.
type Flags struct {
	fs      *flag.FlagSet
	fromEnv map[string]string // flag name → the variable that set it
}

// Parse parses args into fs, then sets every flag that args did not set
// from its non-empty variable (getenv(Name(prefix, flag))), in the order of
// the package doc. It returns flag.ErrHelp after -h or --help, the flag
// package's error for a bad command line (fs has printed it and the usage
// to its output), or a *VarError for a variable fs does not accept (not
// printed). Arguments after the
// flags are left in fs.Args() for the command to judge.
func Parse(fs *flag.FlagSet, prefix string, args []string, getenv func(string) string) (*Flags, error) {
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	p := &Flags{fs: fs, fromEnv: map[string]string{}}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := Name(prefix, f.Name)
		v := getenv(name)
		if given[f.Name] || v == "" || err != nil {
			return
		}
		if serr := f.Value.Set(v); serr != nil {
			err = &VarError{Var: name, Flag: f.Name, Value: v, Err: serr}
			return
		}
		p.fromEnv[f.Name] = name
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// VarError is a variable's value that its flag does not accept.
type VarError struct {
	Var, Flag, Value string
	Err              error // the flag.Value's
}

// Error is `SENDGATE_X (--x): invalid value "v": <reason>`.
func (e *VarError) Error() string {
	return fmt.Sprintf("%s (--%s): invalid value %q: %v", e.Var, e.Flag, e.Value, e.Err)
}

func (e *VarError) Unwrap() error { return e.Err }

// Where names the origin of flag name's value, for an error message:
// "SENDGATE_X (--x)" when its variable set it, "--x" otherwise.
func (p *Flags) Where(name string) string {
	if v, ok := p.fromEnv[name]; ok {
		return v + " (--" + name + ")"
	}
	return "--" + name
}

// ConfigError rewrites err, as a library's Validate returns it, in terms of
// the command's flags: each line "<pkg>: <field>: <reason>" (errors.Join
// puts one per line) whose field is a flag becomes
// "<Where(field)>: <reason>"; a field "a/b" names two flags. fields maps the
// library's field names to flag names where they differ. A line in another
// form, or about a field that is no flag, is kept as it is. nil stays nil.
func (p *Flags) ConfigError(err error, pkg string, fields map[string]string) error {
	if err == nil {
		return nil
	}
	lines := strings.Split(err.Error(), "\n")
	for i, line := range lines {
		field, reason, ok := strings.Cut(strings.TrimPrefix(line, pkg+": "), ": ")
		if !ok || !strings.HasPrefix(line, pkg+": ") {
			continue
		}
		var where []string
		for _, f := range strings.Split(field, "/") {
			if name, ok := fields[f]; ok {
				f = name
			}
			if p.fs.Lookup(f) == nil {
				where = nil
				break
			}
			where = append(where, p.Where(f))
		}
		if where != nil {
			lines[i] = strings.Join(where, "/") + ": " + reason
		}
	}
	return errors.New(strings.Join(lines, "\n"))
}

// Unknown returns a warning for each variable of environ that starts with
// prefix but is no flag of fs, sorted: "environment variable SENDGATE_X is
// not a <command> setting (no --x flag): ignored". Only a command that owns
// its prefix should log them: the processor does; loadgen, sgctl and
// healthcheck share its variables and would warn about its settings.
func Unknown(fs *flag.FlagSet, prefix, command string, environ []string) []string {
	known := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { known[Name(prefix, f.Name)] = true })
	var warnings []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, prefix) && !known[name] {
			known[name] = true // once
			warnings = append(warnings, fmt.Sprintf("environment variable %s is not a %s setting (no --%s flag): ignored",
				name, command, strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, prefix)), "_", "-")))
		}
	}
	sort.Strings(warnings)
	return warnings
}

// Only restricts getenv to the variables of the named flags. A command that
// shares the processor's prefix reads only the processor's variables that
// mean the same to it (SENDGATE_BROKERS, the topic names), not one such as
// SENDGATE_TIMEOUT that names another thing of the processor or none.
func Only(prefix string, getenv func(string) string, names ...string) func(string) string {
	vars := map[string]bool{}
	for _, n := range names {
		vars[Name(prefix, n)] = true
	}
	return func(k string) string {
		if !vars[k] {
			return ""
		}
		return getenv(k)
	}
}
