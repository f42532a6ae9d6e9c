package main

import (
	"io"
	"os"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/report"
)

// streams are the command's standard streams and what they are attached to.
type streams struct {
	in       io.Reader
	out, err io.Writer
	// outTTY and errTTY report terminals (colour, progress).
	outTTY, errTTY bool
}

func newStreams(in io.Reader, out, err io.Writer) *streams {
	return &streams{in: in, out: out, err: err, outTTY: isTerminal(out), errTTY: isTerminal(err)}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// globalOptions are the kubectl-style flags every command accepts.
type globalOptions struct {
	output        string
	kubeconfig    string
	context       string
	namespace     string
	allNamespaces bool
	noColor       bool
	quiet         bool
	// stopProfile ends a --profile (see profile.go); run calls it once the
	// command has returned, whatever the outcome.
	stopProfile func() error
}

// color reports whether table output should be coloured: only on a
// terminal, and never with --no-color or NO_COLOR set.
func (g *globalOptions) color(s *streams) bool {
	_, noColorEnv := os.LookupEnv("NO_COLOR")
	return s.outTTY && !g.noColor && !noColorEnv
}

// newRoot builds the command tree and returns its global options too.
func newRoot(s *streams) (*cobra.Command, *globalOptions) {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "palisade",
		Short: "Security for Kubernetes fleets, from cloud clusters to the edge",
		Long: `Palisade finds insecure workload configuration, vulnerable images and risky
cluster settings before they reach production, from CI pipelines to
thousands of small edge clusters.

Exit codes: 0 no findings at or above --fail-on, 1 findings at or above
--fail-on, 2 usage or input error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	// Flag errors are usage errors: exit code 2.
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitCodeError{code: exitError, err: err}
	})
	pf := root.PersistentFlags()
	pf.StringVarP(&g.output, "output", "o", "table", "output format: "+joinFormats())
	pf.StringVar(&g.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default $KUBECONFIG or ~/.kube/config)")
	pf.StringVar(&g.context, "context", "", "kubeconfig context to use")
	pf.StringVarP(&g.namespace, "namespace", "n", "", "namespace to scan, or for manifests without one")
	pf.BoolVarP(&g.allNamespaces, "all-namespaces", "A", false, "scan all namespaces")
	pf.BoolVar(&g.noColor, "no-color", false, "disable coloured output (also NO_COLOR)")
	pf.BoolVarP(&g.quiet, "quiet", "q", false, "print only the report: no progress, notes or warnings on stderr")
	prof := &profiler{}
	prof.addFlags(root)
	root.PersistentPreRunE = func(*cobra.Command, []string) error { return prof.start() }
	// A failing command skips PersistentPostRun; run() calls stop then.
	g.stopProfile = prof.stop

	root.AddCommand(
		newScanCommand(s, g),
		newRulesCommand(s, g),
		newVersionCommand(s, g),
		newDBCommand(s, g),
		newNetpolCommand(s, g),
		newAdmissionCommand(s, g),
		newNodeCommand(s, g),
		newClusterCommand(s, g),
		newAuditlogCommand(s, g),
		newHubCommand(s, g), newAgentCommand(s, g),
		newRBACCommand(s, g),
		newReleaseCommand(s, g),
		newSBOMCommand(s, g),
	)
	return root, g
}

func joinFormats() string {
	out := ""
	for i, f := range report.Formats() {
		if i > 0 {
			out += "|"
		}
		out += f
	}
	return out
}
