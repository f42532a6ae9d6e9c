package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/hubclient"
	"github.com/palisade-sec/palisade/internal/netpol"
	"github.com/palisade-sec/palisade/internal/report"
	"github.com/palisade-sec/palisade/internal/runtime/profile"
)

// observedSource is where learned runtime profiles come from: a file (the
// hub's export saved, '-' for standard input) or the hub's API.
type observedSource struct {
	file    string
	hub     hubclient.Options
	cluster string
}

// addHubFlags adds the flags that read the profiles from a hub.
func (o *observedSource) addHubFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.hub.URL, "hub", "", "read the learned runtime profiles from this hub's API (https://host:port; GET /api/v1/runtime/profiles) instead of a file")
	f.StringVar(&o.cluster, "hub-cluster", "", "with --hub: the cluster (name or ID) whose profiles to read")
	f.StringVar(&o.hub.TokenFile, "hub-token-file", "", "with --hub: file holding a viewer API token (palisade hub token api; default $"+hubclient.TokenEnv+")")
	f.StringVar(&o.hub.CAFile, "hub-ca-file", "", "with --hub: PEM certificates to trust for the hub (its CA: GET /ca.crt; default the system's roots)")
}

func (o *observedSource) set() bool { return o.file != "" || o.hub.URL != "" }

// read reads the profiles; an error names the file, or the hub and cluster.
func (o *observedSource) read(ctx context.Context, s *streams) (*profile.Export, string, error) {
	if o.hub.URL == "" {
		if o.cluster != "" {
			return nil, "", fmt.Errorf("--hub-cluster needs --hub")
		}
		x, err := readProfiles(s, o.file)
		return x, o.file, err
	}
	if o.file != "" {
		return nil, "", fmt.Errorf("give a profiles file or --hub, not both")
	}
	if o.cluster == "" {
		return nil, "", fmt.Errorf("--hub %s: --hub-cluster is required (profiles are kept per cluster)", o.hub.URL)
	}
	c, err := hubclient.New(o.hub)
	if err != nil {
		return nil, "", err
	}
	x, err := c.RuntimeProfiles(ctx, o.cluster)
	return x, fmt.Sprintf("hub %s, cluster %q", o.hub.URL, o.cluster), err
}

// readProfiles reads a profile export from a file or standard input.
func readProfiles(s *streams, path string) (*profile.Export, error) {
	var r io.Reader = s.In
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
func runObservedDiff(ctx context.Context, s *streams, g *globalOptions, in *netpolInput, src *observedSource, args []string) error {
	format, err := report.ParseFormat(g.Output)
	if err != nil {
		return &exitCodeError{Code: exitError, Err: err}
	}
	x, observed, err := src.read(ctx, s)
	if err != nil {
		return &exitCodeError{Code: exitError, Err: err}
	}
	inv, probs, err := in.inventory(ctx, s, g, args)
	if err != nil {
		return &exitCodeError{Code: exitError, Err: err}
	}
	if err := nothingToAnalyse(inv, args); err != nil {
		reportProblems(s, g, probs)
		return err
	}
	if len(x.Profiles) == 0 {
		return &exitCodeError{Code: exitError, Err: fmt.Errorf("%s: no profile: nothing was observed to compare", observed)}
	}
	fs, oprobs, err := netpol.ObservedDiff(ctx, x, inv)
	if err != nil {
		return &exitCodeError{Code: exitError, Err: err}
	}
	probs = append(probs, oprobs...)
	r := finding.NewReport(fs, probs, len(inv.Objects), netpol.Rules())
	if err := report.Write(s.Out, format, r, report.Options{Color: g.Color(s)}); err != nil {
		return &exitCodeError{Code: exitError, Err: err}
	}
	if reportProblems(s, g, probs) {
		return &exitCodeError{Code: exitError, Err: fmt.Errorf("%d input error(s): the comparison is incomplete", r.Summary.Errors)}
	}
	for _, f := range fs {
		if f.RuleID == netpol.RuleObservedDenied {
			return &exitCodeError{Code: exitFindings}
		}
	}
	return nil
}
