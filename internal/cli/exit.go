package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// Fail prints err on stderr as "<command>: <err>" and returns 1, the exit
// code of a command that failed.
func Fail(stderr io.Writer, command string, err error) int {
	fmt.Fprintf(stderr, "%s: %v\n", command, err)
	return 1
}

// ParseExit tells whether a command ends after parsing its command line
// (and its environment) returned err, and with what code: it does not for
// nil; it ends with 0 after -h or --help (flag.ErrHelp: the flag package has
// printed the usage), with 2 for any other error, which it prints as
// "<command>: <err>".
func ParseExit(stderr io.Writer, command string, err error) (code int, exit bool) {
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		return 0, true
	}
	fmt.Fprintf(stderr, "%s: %v\n", command, err)
	return 2, true
}
