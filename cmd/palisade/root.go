package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

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
--fail-on, 2 usage or input error (a mistyped command included), or
nothing could be checked.`,
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
		newVerifyCommand(s, g),
		newRuntimeCommand(s, g),
	)
	// Cobra adds these two at Execute time; adding them now lets
	// requireSubcommands reach the completion group too.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	requireSubcommands(root)
	strictHelpTopics(root)
	return root, g
}

// strictHelpTopics makes `palisade help confg` an error (exit 2) like
// `palisade confg`, instead of cobra's "Unknown help topic" and exit 0.
func strictHelpTopics(root *cobra.Command) {
	for _, h := range root.Commands() {
		if h.Name() != "help" || h.Run == nil {
			continue
		}
		show := h.Run
		h.Run = nil
		h.RunE = func(c *cobra.Command, args []string) error {
			target, rest, err := root.Find(args)
			if err == nil && len(rest) > 0 && target.HasSubCommands() {
				return &exitCodeError{code: exitError, err: unknownSubcommand(target, rest[0])}
			}
			if err != nil {
				return &exitCodeError{code: exitError, err: err}
			}
			show(c, args)
			return nil
		}
	}
}

// requireSubcommands makes every command group of the tree (a command with
// subcommands and no action of its own) reject an argument that names none
// of its subcommands. Cobra checks this only for the root: below it, a
// mistyped `palisade scan confg` printed help and exited 0, which a script
// or CI job reads as success. A group given no argument still prints its
// help and exits 0, as `palisade` alone does: nothing was asked that could
// fail (exit 1 would mean findings here).
func requireSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		requireSubcommands(sub)
	}
	if !c.HasSubCommands() || c.Runnable() {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return c.Help()
		}
		return &exitCodeError{code: exitError, err: unknownSubcommand(c, args[0])}
	}
}

// unknownSubcommand is cobra's own message for a mistyped command of the
// root, with its "Did you mean this?" suggestions, for any group.
func unknownSubcommand(c *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, c.CommandPath())
	if !c.DisableSuggestions {
		if c.SuggestionsMinimumDistance <= 0 {
			c.SuggestionsMinimumDistance = 2
		}
		if s := c.SuggestionsFor(name); len(s) > 0 {
			msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
		}
	}
	msg += fmt.Sprintf("\n\nRun '%s --help' for usage.", c.CommandPath())
	return errors.New(msg)
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
