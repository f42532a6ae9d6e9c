// Package cli is the command-line plumbing shared by Palisade's cobra
// commands, so that `palisade` and the lean `palisade-scan` build the same
// commands from one definition: the standard streams and what they are
// attached to, the output flags every command accepts (-o, --no-color,
// --quiet, the hidden --profile), exit codes, the report gate (--fail-on,
// --fail-on-priority, --output-file), progress on a terminal, and a
// command tree that refuses mistyped subcommands.
//
// It links cobra and the report writers only: whatever a binary links
// beyond them is its commands' choice (see cmd/palisade-scan).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/report"
)

// Exit codes, documented in docs/cli.md.
const (
	CodeClean    = 0
	CodeFindings = 1
	CodeError    = 2
)

// ExitError carries an exit code up to Run without printing twice. Err
// may be nil: the code alone (findings at or above --fail-on).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Streams are the command's standard streams and what they are attached to.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
	// OutTTY and ErrTTY report terminals (colour, progress).
	OutTTY, ErrTTY bool
}

// NewStreams returns in, out and err, with out and err checked for a
// terminal.
func NewStreams(in io.Reader, out, err io.Writer) *Streams {
	return &Streams{In: in, Out: out, Err: err, OutTTY: isTerminal(out), ErrTTY: isTerminal(err)}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// Global are the output flags every command of a tree accepts.
type Global struct {
	Output  string
	NoColor bool
	Quiet   bool
	// stopProfile ends a --profile; Run calls it once the command has
	// returned, whatever the outcome.
	stopProfile func() error
}

// Color reports whether table output should be coloured: only on a
// terminal, and never with --no-color or NO_COLOR set.
func (g *Global) Color(s *Streams) bool {
	_, noColorEnv := os.LookupEnv("NO_COLOR")
	return s.OutTTY && !g.NoColor && !noColorEnv
}

// NewRoot returns the root of a command tree: silent on errors (Run prints
// them once), flag errors as usage errors (exit 2), the output flags of g
// and the hidden --profile flags. Add the commands, then call Finish.
func NewRoot(s *Streams, g *Global, use, short, long string) *cobra.Command {
	root := &cobra.Command{
		Use:           use,
		Short:         short,
		Long:          long,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &ExitError{Code: CodeError, Err: err}
	})
	pf := root.PersistentFlags()
	pf.StringVarP(&g.Output, "output", "o", "table", "output format: "+strings.Join(report.Formats(), "|"))
	pf.BoolVar(&g.NoColor, "no-color", false, "disable coloured output (also NO_COLOR)")
	pf.BoolVarP(&g.Quiet, "quiet", "q", false, "print only the report: no progress, notes or warnings on stderr")
	prof := &profiler{}
	prof.addFlags(root)
	root.PersistentPreRunE = func(*cobra.Command, []string) error { return prof.start() }
	// A failing command skips PersistentPostRun; Run calls stop then.
	g.stopProfile = prof.stop
	return root
}

// Finish completes a tree whose commands are all added: the help and
// completion commands, and mistyped subcommands and help topics refused
// with exit 2.
func Finish(root *cobra.Command) {
	// Cobra adds these two at Execute time; adding them now lets
	// requireSubcommands reach the completion group too.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	requireSubcommands(root)
	strictHelpTopics(root)
}

// Main runs a binary's command line, run, with the process's arguments
// and streams and a context that ends on SIGINT or SIGTERM, and exits
// with its code.
func Main(run func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Run executes the command line and returns the exit code, printing an
// error once, after "Error:".
func Run(ctx context.Context, root *cobra.Command, g *Global, args []string, stderr io.Writer) int {
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if g.stopProfile != nil {
		if perr := g.stopProfile(); perr != nil && err == nil {
			err = perr
		}
	}
	if err == nil {
		return CodeClean
	}
	var ec *ExitError
	if errors.As(err, &ec) {
		if ec.Err != nil {
			fmt.Fprintln(stderr, "Error:", ec.Err)
		}
		return ec.Code
	}
	fmt.Fprintln(stderr, "Error:", err)
	return CodeError
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
				return &ExitError{Code: CodeError, Err: unknownSubcommand(target, rest[0])}
			}
			if err != nil {
				return &ExitError{Code: CodeError, Err: err}
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
		return &ExitError{Code: CodeError, Err: unknownSubcommand(c, args[0])}
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

// ByteSize renders n bytes for people: 512 B, 1.5 KiB, 20.0 MiB.
func ByteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
