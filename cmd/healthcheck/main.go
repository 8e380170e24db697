// Command healthcheck GETs one URL and exits 0 when the answer is 2xx, 1
// otherwise (no answer within the timeout, a non-2xx status, a bad argument).
// It is the container health check of sendgate's image, which has no shell
// and no curl:
//
//	healthcheck http://127.0.0.1:8080/readyz
//	healthcheck /healthz        # a path: on the processor's SENDGATE_HTTP_ADDR
//
// A URL that is only a path is resolved against --http-addr, or else the
// processor's SENDGATE_HTTP_ADDR (default 127.0.0.1:8080, the processor's;
// package flagenv), an unspecified host (0.0.0.0, ::, empty)
// becoming 127.0.0.1, so the check follows the processor's port when it is
// set in the environment. Redirects are not followed (a 3xx is a failure) and
// no proxy is used.
//
// It prints one line: the status on success (stdout), the reason on failure
// (stderr), so that `docker inspect` shows why a container is unhealthy.
// Docker reserves exit code 2, so every failure, usage errors included,
// exits 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/sendgate/sendgate/flagenv"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// defaultHTTPAddr is the processor's default --http-addr.
const defaultHTTPAddr = "127.0.0.1:8080"

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 2*time.Second, "give up after this long (connect, request and response together)")
	httpAddr := fs.String("http-addr", defaultHTTPAddr, "the processor's --http-addr, where a bare /path is requested")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: healthcheck [--timeout 2s] URL|/path\n\n"+
			"GETs URL and exits 0 on a 2xx answer, 1 otherwise. A bare /path is requested on\n"+
			"--http-addr, or the processor's SENDGATE_HTTP_ADDR (default %s).\n\n", defaultHTTPAddr)
		fs.PrintDefaults()
	}
	src, err := flagenv.Parse(fs, flagenv.Prefix, args, flagenv.Only(flagenv.Prefix, getenv, "http-addr"))
	var verr *flagenv.VarError
	if errors.As(err, &verr) {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
	}
	if err != nil {
		return 1 // the flag package has printed any other reason
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "healthcheck: want exactly one URL or /path (flags go first), got %d arguments\n", fs.NArg())
		return 1
	}
	if *timeout <= 0 {
		fmt.Fprintf(stderr, "healthcheck: --timeout must be positive, got %s\n", *timeout)
		return 1
	}
	target, err := resolve(fs.Arg(0), *httpAddr, src.Where("http-addr"))
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 1
	}
	status, body, err := get(target, *timeout)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: GET %s: %v\n", target, err)
		return 1
	}
	if status/100 != 2 {
		fmt.Fprintf(stderr, "healthcheck: GET %s: %d %s%s\n", target, status, http.StatusText(status), bodySuffix(body))
		return 1
	}
	fmt.Fprintf(stdout, "healthcheck: GET %s: %d %s\n", target, status, http.StatusText(status))
	return 0
}

// resolve turns arg into an absolute http(s) URL: an absolute URL is used as
// is, a path is requested on httpAddr (the processor's listen address, set
// by where).
func resolve(arg, httpAddr, where string) (string, error) {
	if strings.HasPrefix(arg, "/") {
		host, port, err := net.SplitHostPort(httpAddr)
		if err != nil {
			return "", fmt.Errorf("%s: %q: %v", where, httpAddr, err)
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		arg = "http://" + net.JoinHostPort(host, port) + arg
	}
	u, err := url.Parse(arg)
	if err != nil {
		return "", fmt.Errorf("bad URL %q: %v", arg, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("bad URL %q: want http://host:port/path or a /path", arg)
	}
	return u.String(), nil
}

// get requests target and returns the status and the start of the body.
func get(target string, timeout time.Duration) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("User-Agent", "sendgate-healthcheck")
	client := &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, nil, fmt.Errorf("no answer within %s", timeout)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // "Get URL: ..." repeats what the caller prints
		}
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	return resp.StatusCode, body, nil
}

func bodySuffix(body []byte) string {
	s := strings.TrimSpace(string(body))
	if s == "" {
		return ""
	}
	return ": " + strings.Join(strings.Fields(s), " ")
}
