package cli

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"

	"github.com/spf13/cobra"
)

// profiler writes a Go profile of one command, as kubectl's --profile
// does: CPU or an execution trace from the start of the command to its
// end, or the heap at its end. Flags are hidden; docs/cli.md ("Profiling") documents them.
type profiler struct {
	kind, output string
	file         *os.File
}

func (p *profiler) addFlags(c *cobra.Command) {
	pf := c.PersistentFlags()
	pf.StringVar(&p.kind, "profile", "none", "write a Go profile of the command: none|cpu|heap|trace")
	pf.StringVar(&p.output, "profile-output", "profile.pprof", "file the --profile is written to")
	_ = pf.MarkHidden("profile")
	_ = pf.MarkHidden("profile-output")
}

// start begins a CPU profile, or checks the kind.
func (p *profiler) start() error {
	switch p.kind {
	case "none", "heap":
		return nil
	case "cpu", "trace":
		f, err := os.Create(p.output)
		if err != nil {
			return fmt.Errorf("--profile-output: %w", err)
		}
		start := pprof.StartCPUProfile
		if p.kind == "trace" {
			start = trace.Start
		}
		if err := start(f); err != nil {
			f.Close()
			return fmt.Errorf("--profile %s: %w", p.kind, err)
		}
		p.file = f
		return nil
	}
	return &ExitError{Code: CodeError, Err: fmt.Errorf("--profile %q: want none, cpu, heap or trace", p.kind)}
}

// stop ends the CPU profile or writes the heap profile.
func (p *profiler) stop() error {
	switch p.kind {
	case "cpu", "trace":
		if p.file == nil {
			return nil
		}
		if p.kind == "cpu" {
			pprof.StopCPUProfile()
		} else {
			trace.Stop()
		}
		err := p.file.Close()
		p.file = nil
		return err
	case "heap":
		f, err := os.Create(p.output)
		if err != nil {
			return fmt.Errorf("--profile-output: %w", err)
		}
		runtime.GC()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			f.Close()
			return fmt.Errorf("--profile heap: %w", err)
		}
		return f.Close()
	}
	return nil
}
