// Command palisade secures Kubernetes fleets from cloud to edge: it scans
// workload configuration, clusters and images, and reports findings in
// table, JSON, YAML, SARIF or JUnit form. This package only wires flags to
// the library packages under internal/.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes, documented in docs/cli.md.
const (
	exitClean    = 0
	exitFindings = 1
	exitError    = 2
)

// exitError carries an exit code up to main without printing twice.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitCodeError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd, g := newRoot(newStreams(stdin, stdout, stderr))
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if perr := g.stopProfile(); perr != nil && err == nil {
		err = perr
	}
	if err == nil {
		return exitClean
	}
	var ec *exitCodeError
	if errors.As(err, &ec) {
		if ec.err != nil {
			fmt.Fprintln(stderr, "Error:", ec.err)
		}
		return ec.code
	}
	fmt.Fprintln(stderr, "Error:", err)
	return exitError
}
