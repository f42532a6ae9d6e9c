// Command palisade secures Kubernetes fleets from cloud to edge: it scans
// workload configuration, clusters and images, and reports findings in
// table, JSON, YAML, SARIF or JUnit form. This package only wires flags to
// the library packages under internal/.
package main

import (
	"context"
	"io"

	"github.com/palisade-sec/palisade/internal/cli"
)

// Exit codes and the error that carries one: internal/cli's, shared with
// palisade-scan.
const (
	exitClean    = cli.CodeClean
	exitFindings = cli.CodeFindings
	exitError    = cli.CodeError
)

type exitCodeError = cli.ExitError

func main() { cli.Main(run) }

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd, g := newRoot(cli.NewStreams(stdin, stdout, stderr))
	return cli.Run(ctx, cmd, &g.Global, args, stderr)
}
