package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/netpol"
	"github.com/palisade-sec/palisade/internal/report"
	"github.com/palisade-sec/palisade/internal/runtime/profile"
)

// readProfiles reads a profile export from a file or standard input.
func readProfiles(s *streams, path string) (*profile.Export, error) {
	var r io.Reader = s.in
	name := "standard input"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r, name = f, path
	}
	return profile.ReadExport(r, name)
}

// runObservedDiff is `netpol diff --observed`: the observed traffic
// against the input's policies, as findings.
func runObservedDiff(ctx context.Context, s *streams, g *globalOptions, in *netpolInput, observed string, args []string) error {
	format, err := report.ParseFormat(g.output)
	if err != nil {
		return &exitCodeError{code: exitError, err: err}
	}
	x, err := readProfiles(s, observed)
	if err != nil {
		return &exitCodeError{code: exitError, err: err}
	}
	inv, probs, err := in.inventory(ctx, s, g, args)
	if err != nil {
		return &exitCodeError{code: exitError, err: err}
	}
	if err := nothingToAnalyse(inv, args); err != nil {
		reportProblems(s, g, probs)
		return err
	}
	if len(x.Profiles) == 0 {
		return &exitCodeError{code: exitError, err: fmt.Errorf("%s: no profile: nothing was observed to compare", observed)}
	}
	fs, oprobs, err := netpol.ObservedDiff(ctx, x, inv)
	if err != nil {
		return &exitCodeError{code: exitError, err: err}
	}
	probs = append(probs, oprobs...)
	r := finding.NewReport(fs, probs, len(inv.Objects), netpol.Rules())
	if err := report.Write(s.out, format, r, report.Options{Color: g.color(s)}); err != nil {
		return &exitCodeError{code: exitError, err: err}
	}
	if reportProblems(s, g, probs) {
		return &exitCodeError{code: exitError, err: fmt.Errorf("%d input error(s): the comparison is incomplete", r.Summary.Errors)}
	}
	for _, f := range fs {
		if f.RuleID == netpol.RuleObservedDenied {
			return &exitCodeError{code: exitFindings}
		}
	}
	return nil
}
