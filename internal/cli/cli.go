// Package cli holds what the main functions of the sendgate commands share:
// the signals that stop a command and how an error ends it.
package cli

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// SignalContext returns a context that the first SIGINT or SIGTERM cancels.
// Until stop is called those signals do nothing else; after it they have
// their default action again (they kill the process).
func SignalContext() (ctx context.Context, stop context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
}

// Main is the main function of a command: it calls run with a context from
// SignalContext, the arguments after the program name, os.Getenv and the
// standard output and error, and exits with the code run returns.
func Main(run func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int) {
	ctx, stop := SignalContext()
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
