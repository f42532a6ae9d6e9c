package configcmd

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/cli"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/report"
)

// CI log modes: how table output is grouped in a CI job's log.
const (
	ciOff    = "off"
	ciPlain  = "plain"  // headed sections, for any CI
	ciGitHub = "github" // ::group:: / ::endgroup:: workflow commands
	ciGitLab = "gitlab" // collapsible section_start / section_end markers
)

// ciFlags is --ci.
type ciFlags struct {
	value string
	// getenv is os.Getenv; tests replace it.
	getenv func(string) string
}

func (c *ciFlags) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.value, "ci", "auto", "CI log output for the table format: auto (detect GitHub Actions, GitLab CI, or CI=true), github, gitlab, plain, off")
}

// mode resolves --ci; auto looks at the variables the CI systems set.
func (c *ciFlags) mode() (string, error) {
	getenv := c.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	switch v := strings.ToLower(c.value); v {
	case "", "auto":
		switch {
		case getenv("GITHUB_ACTIONS") == "true":
			return ciGitHub, nil
		case getenv("GITLAB_CI") == "true":
			return ciGitLab, nil
		case getenv("CI") == "true" || getenv("CI") == "1":
			return ciPlain, nil
		}
		return ciOff, nil
	case "true":
		return ciPlain, nil
	case ciOff, ciPlain, ciGitHub, ciGitLab:
		return v, nil
	default:
		return "", fmt.Errorf("--ci must be auto, github, gitlab, plain or off, not %q", c.value)
	}
}

// writeCIReport writes the report; in a CI mode with the table format on
// standard output it writes one collapsible group per file (findings of
// that file, most severe first in the group's title), then the problems,
// then a one-line summary outside any group, all without colour. The
// exit code is decided exactly as writeReport decides it.
func writeCIReport(s *cli.Streams, g *cli.Global, o *cli.ReportOptions, mode string, format report.Format, r *finding.Report) error {
	if mode == ciOff || format != report.FormatTable || o.OutputFile != "" {
		return o.WriteReport(s, g, format, r)
	}
	writeGrouped(s.Out, mode, r, o.ShowSuppressed, time.Now())
	quiet := &cli.Streams{In: s.In, Out: io.Discard, Err: io.Discard}
	return o.WriteReport(quiet, g, format, r)
}

// writeGrouped renders the grouped CI log. now stamps GitLab's sections.
func writeGrouped(w io.Writer, mode string, r *finding.Report, showSuppressed bool, now time.Time) {
	byFile := map[string][]finding.Finding{}
	for _, f := range r.Findings {
		if f.Suppressed && !showSuppressed {
			continue
		}
		byFile[f.File] = append(byFile[f.File], f)
	}
	files := make([]string, 0, len(byFile))
	for f := range byFile {
		files = append(files, f)
	}
	sort.Strings(files)
	n := 0
	for _, file := range files {
		fs := byFile[file]
		title := file
		if title == "" {
			title = "(no file)"
		}
		title = fmt.Sprintf("%s: %s", title, countBySeverity(fs))
		n++
		startGroup(w, mode, fmt.Sprintf("palisade_file_%d", n), title, now)
		sub := finding.NewReport(fs, nil, 0, nil)
		_ = report.Write(w, report.FormatTable, sub, report.Options{ShowSuppressed: showSuppressed})
		endGroup(w, mode, fmt.Sprintf("palisade_file_%d", n), now)
	}
	if len(r.Problems) > 0 {
		startGroup(w, mode, "palisade_problems", fmt.Sprintf("Input problems: %d", len(r.Problems)), now)
		for _, p := range r.Problems {
			fmt.Fprintf(w, "%s: %s\n", p.Level, p)
		}
		endGroup(w, mode, "palisade_problems", now)
	}
	coverage := fmt.Sprintf("%d object(s) scanned", r.Summary.Objects)
	if line := report.CoverageLine(r.Summary); line != "" {
		coverage = line
	}
	fmt.Fprintf(w, "palisade: %d finding(s) in %d file(s): %s; %d suppressed; %s; %d input error(s)\n",
		r.Summary.Total, len(files), severityLine(r.Summary), r.Summary.Suppressed, coverage, r.Summary.Errors)
}

func countBySeverity(fs []finding.Finding) string {
	counts := map[finding.Severity]int{}
	for _, f := range fs {
		if !f.Suppressed {
			counts[f.Severity]++
		}
	}
	var parts []string
	for _, sev := range finding.AllSeverities() {
		if counts[sev] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[sev], sev))
		}
	}
	if len(parts) == 0 {
		return "only suppressed findings"
	}
	return strings.Join(parts, ", ")
}

func severityLine(s finding.Summary) string {
	var parts []string
	for _, sev := range finding.AllSeverities() {
		parts = append(parts, fmt.Sprintf("%d %s", s.BySeverity[sev.String()], sev))
	}
	return strings.Join(parts, ", ")
}

func startGroup(w io.Writer, mode, id, title string, now time.Time) {
	switch mode {
	case ciGitHub:
		fmt.Fprintf(w, "::group::%s\n", title)
	case ciGitLab:
		fmt.Fprintf(w, "\x1b[0Ksection_start:%d:%s[collapsed=true]\r\x1b[0K%s\n", now.Unix(), id, title)
	default:
		fmt.Fprintf(w, "==> %s\n", title)
	}
}

func endGroup(w io.Writer, mode, id string, now time.Time) {
	switch mode {
	case ciGitHub:
		fmt.Fprintln(w, "::endgroup::")
	case ciGitLab:
		fmt.Fprintf(w, "\x1b[0Ksection_end:%d:%s\r\x1b[0K\n", now.Unix(), id)
	default:
		fmt.Fprintln(w)
	}
}
