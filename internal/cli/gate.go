package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/palisade-sec/palisade/internal/buildinfo"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/report"
)

// ReportOptions are the flags that decide where a report goes and which
// exit code it makes, shared by every scanning command.
type ReportOptions struct {
	FailOn         string
	ShowSuppressed bool
	OutputFile     string
	// IgnoreUnknownSeverity lets findings of unknown severity pass the
	// --fail-on gate (scan image's --ignore-unknown-severity).
	IgnoreUnknownSeverity bool
	// IgnoreInputErrors keeps input errors (problems of level error) out of
	// the exit code: they are still reported.
	IgnoreInputErrors bool
	// FailOnPriority is scan image's --fail-on-priority: "" or P1..P4.
	FailOnPriority string
}

// FailThreshold parses --fail-on; ok is false for "none".
func (o *ReportOptions) FailThreshold() (finding.Severity, bool, error) {
	if strings.EqualFold(o.FailOn, "none") {
		return 0, false, nil
	}
	s, err := finding.ParseSeverity(o.FailOn)
	if err != nil {
		return 0, false, fmt.Errorf("--fail-on: %w", err)
	}
	return s, true, nil
}

// WriteReport renders the report, prints problems to stderr for machine
// formats, and turns the result into the exit code.
func (o *ReportOptions) WriteReport(s *Streams, g *Global, format report.Format, r *finding.Report) error {
	var out io.Writer = s.Out
	var file *os.File
	if o.OutputFile != "" {
		var err error
		if file, err = os.Create(o.OutputFile); err != nil {
			return &ExitError{Code: CodeError, Err: fmt.Errorf("--output-file: %w", err)}
		}
		out = file
	}
	bi := buildinfo.Get()
	err := report.Write(out, format, r, report.Options{
		Color:          g.Color(s) && file == nil,
		ShowSuppressed: o.ShowSuppressed,
		ToolVersion:    bi.Version,
		InformationURI: "https://github.com/palisade-sec/palisade",
	})
	if file != nil {
		if cerr := file.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return &ExitError{Code: CodeError, Err: err}
	}
	if format != report.FormatTable || file != nil {
		for _, p := range r.Problems {
			if p.Level == finding.LevelError || !g.Quiet {
				fmt.Fprintf(s.Err, "%s: %s\n", p.Level, p)
			}
		}
	}
	if r.Summary.Errors > 0 && !o.IgnoreInputErrors {
		return &ExitError{Code: CodeError, Err: fmt.Errorf("%d input error(s); the report covers the rest of the input (--ignore-input-errors exits by the findings alone)", r.Summary.Errors)}
	}
	threshold, enabled, _ := o.FailThreshold()
	if enabled && (finding.Gate{Min: threshold, IgnoreUnknown: o.IgnoreUnknownSeverity}).FailsAny(r.Findings) {
		return &ExitError{Code: CodeFindings}
	}
	if o.FailOnPriority != "" {
		p, _ := finding.ParsePriority(o.FailOnPriority)
		if (finding.PriorityGate{Max: p}).FailsAny(r.Findings) {
			return &ExitError{Code: CodeFindings}
		}
	}
	return nil
}

// AddOutputFileFlag adds --output-file.
func (o *ReportOptions) AddOutputFileFlag(f *pflag.FlagSet) {
	f.StringVar(&o.OutputFile, "output-file", "", "write the report to this file instead of standard output")
}
