package report

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/palisade-sec/palisade/internal/finding"
)

// Table messages wrap, never truncate, so CI logs (where nobody can widen
// the window) keep the whole text. Without a known terminal width they wrap
// at defaultMessageWidth; in a narrow terminal never below minMessageWidth.
const (
	defaultMessageWidth = 80
	minMessageWidth     = 40
)

// ANSI SGR sequences. Only the severity (and problem level) is coloured, so
// the table reads the same without colour.
const (
	ansiReset   = "\x1b[0m"
	ansiBoldRed = "\x1b[1;31m"
	ansiRed     = "\x1b[31m"
	ansiYellow  = "\x1b[33m"
	ansiCyan    = "\x1b[36m"
	ansiDim     = "\x1b[2m"
)

// tableColumns is SEVERITY, RULE, OBJECT, LOCATION, MESSAGE.
const tableColumns = 5

func severityColor(s finding.Severity) string {
	switch s {
	case finding.SeverityCritical:
		return ansiBoldRed
	case finding.SeverityHigh:
		return ansiRed
	case finding.SeverityMedium:
		return ansiYellow
	case finding.SeverityLow:
		return ansiCyan
	}
	return ""
}

// tableRow is one printed line; color applies to the first cell only.
type tableRow struct {
	cells [tableColumns]string
	color string
}

func writeTable(buf *bytes.Buffer, r *finding.Report, opts Options) error {
	header := tableRow{cells: [tableColumns]string{"SEVERITY", "RULE", "OBJECT", "LOCATION", "MESSAGE"}}
	var shown []finding.Finding
	hidden := 0
	for _, f := range r.Findings {
		if f.Suppressed && !opts.ShowSuppressed {
			hidden++
			continue
		}
		shown = append(shown, f)
	}

	// The message column gets what the other columns leave of the width.
	msgWidth := defaultMessageWidth
	if opts.Width > 0 {
		var widths [tableColumns]int
		for _, cells := range append([][tableColumns]string{header.cells}, cellsOf(shown)...) {
			for i, c := range cells[:tableColumns-1] {
				widths[i] = max(widths[i], utf8.RuneCountInString(c))
			}
		}
		used := 0
		for _, w := range widths[:tableColumns-1] {
			used += w + 2 // two spaces between columns
		}
		msgWidth = max(minMessageWidth, opts.Width-used)
	}

	rows := []tableRow{header}
	for _, f := range shown {
		rows = append(rows, findingRows(f, msgWidth)...)
	}

	if len(rows) == 1 {
		buf.WriteString("No findings.\n")
	} else {
		writeRows(buf, rows, opts.Color)
	}

	writeComplianceTable(buf, r.Compliance)

	if len(r.Problems) > 0 {
		buf.WriteString("\nProblems:\n")
		for _, p := range r.Problems {
			level := strings.ToUpper(stripControl(p.Level, false))
			text := fmt.Sprintf("%-5s", level)
			if opts.Color && p.Level == finding.LevelError {
				text = ansiRed + text + ansiReset
			}
			fmt.Fprintf(buf, "  %s  %s\n", text, stripControl(p.String(), false))
		}
	}

	buf.WriteString("\n")
	if line := CoverageLine(r.Summary); line != "" {
		buf.WriteString(line + "\n")
	}
	buf.WriteString(summaryLine(r, hidden) + "\n")
	return nil
}

// CoverageLine says how much of the input a scan of objects understood,
// e.g. "12 objects scanned, 1 not understood"; "" for reports that do not
// count objects that way (Summary.NotUnderstood is nil).
func CoverageLine(s finding.Summary) string {
	if s.NotUnderstood == nil {
		return ""
	}
	line := fmt.Sprintf("%s scanned, %d not understood", plural(s.Objects, "object"), *s.NotUnderstood)
	if s.Partial {
		line += "; partial: part of the target could not be read"
	}
	return line
}

// findingRows renders one finding: its main row, then continuation rows
// for the wrapped message and, when suppressed, for the reason.
func findingRows(f finding.Finding, width int) []tableRow {
	var msg []string
	for _, line := range strings.Split(stripControl(f.Message, true), "\n") {
		msg = append(msg, wrap(strings.TrimSpace(line), width)...)
	}
	if len(msg) == 0 {
		msg = []string{stripControl(f.Title, false)}
	}
	color := severityColor(f.Severity)
	if f.Suppressed {
		msg[0] = "(suppressed) " + msg[0]
		msg = append(msg, wrap(suppressionText(f.Suppression), width)...)
		color = ansiDim
	}
	cells := findingCells(f)
	cells[tableColumns-1] = msg[0]
	rows := []tableRow{{cells: cells, color: color}}
	for _, m := range msg[1:] {
		rows = append(rows, tableRow{cells: [tableColumns]string{4: m}})
	}
	return rows
}

// findingCells gives the cells before MESSAGE, cleaned for a terminal.
func findingCells(f finding.Finding) [tableColumns]string {
	loc := f.Location()
	if loc == "" {
		loc = "-" // a live-cluster object has no file
	}
	sev := f.Severity.String()
	if f.Vulnerability != nil && f.Vulnerability.Priority != finding.PriorityNone {
		// A vulnerability's fix-first priority rides in the severity
		// column ("HIGH P2"), so the table keeps its columns.
		sev += " " + f.Vulnerability.Priority.String()
	}
	return [tableColumns]string{
		sev,
		stripControl(f.RuleID, false),
		stripControl(f.Object.String(), false),
		stripControl(loc, false),
	}
}

func cellsOf(findings []finding.Finding) [][tableColumns]string {
	out := make([][tableColumns]string, len(findings))
	for i, f := range findings {
		out[i] = findingCells(f)
	}
	return out
}

// suppressionText says who suppressed a finding, until when, and why.
func suppressionText(s *finding.Suppression) string {
	if s == nil {
		return "suppressed"
	}
	text := "suppressed by " + stripControl(s.Kind, false)
	if s.Expires != nil {
		text += " until " + s.Expires.UTC().Format("2006-01-02")
	}
	if s.Reason != "" {
		text += ": " + stripControl(s.Reason, false)
	}
	return text
}

// writeRows pads every column but the last to its widest cell. Widths are
// computed on the plain text, and colour is added afterwards, so escape
// sequences never disturb the alignment.
func writeRows(buf *bytes.Buffer, rows []tableRow, color bool) {
	var width [tableColumns]int
	for _, row := range rows {
		for i, c := range row.cells {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, row := range rows {
		var line strings.Builder
		for i, c := range row.cells {
			if i == tableColumns-1 {
				line.WriteString(c)
				break
			}
			padded := c + strings.Repeat(" ", width[i]-utf8.RuneCountInString(c)+2)
			if i == 0 && color && row.color != "" && c != "" {
				padded = row.color + c + ansiReset + padded[len(c):]
			}
			line.WriteString(padded)
		}
		buf.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}

// summaryLine counts what the table is about, e.g.
// "12 findings: 2 CRITICAL, 3 HIGH, 5 MEDIUM, 2 LOW (4 suppressed); 1 error".
// It counts from the findings themselves so it always matches the rows.
func summaryLine(r *finding.Report, hidden int) string {
	s := finding.Summarize(r.Findings)
	var parts []string
	for _, sev := range finding.AllSeverities() {
		parts = append(parts, fmt.Sprintf("%d %s", s.BySeverity[sev.String()], sev))
	}
	if n := s.BySeverity[finding.SeverityUnknown.String()]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", n, finding.SeverityUnknown))
	}
	line := plural(s.Total, "finding") + ": " + strings.Join(parts, ", ")
	switch {
	case hidden > 0:
		line += fmt.Sprintf(" (%d suppressed, not shown)", s.Suppressed)
	case s.Suppressed > 0:
		line += fmt.Sprintf(" (%d suppressed)", s.Suppressed)
	}
	var errs, notes int
	for _, p := range r.Problems {
		if p.Level == finding.LevelError {
			errs++
		} else {
			notes++
		}
	}
	var probs []string
	if errs > 0 {
		probs = append(probs, plural(errs, "error"))
	}
	if notes > 0 {
		probs = append(probs, plural(notes, "note"))
	}
	if len(probs) > 0 {
		line += "; " + strings.Join(probs, ", ")
	}
	return line
}

// wrap breaks s into lines of at most width runes, at spaces where it can;
// a word longer than width is cut.
func wrap(s string, width int) []string {
	var lines []string
	var cur []rune
	for _, word := range strings.Fields(s) {
		w := []rune(word)
		for len(w) > width {
			if len(cur) > 0 {
				lines = append(lines, string(cur))
				cur = nil
			}
			lines = append(lines, string(w[:width]))
			w = w[width:]
		}
		switch {
		case len(cur) == 0:
			cur = w
		case len(cur)+1+len(w) <= width:
			cur = append(append(cur, ' '), w...)
		default:
			lines = append(lines, string(cur))
			cur = w
		}
	}
	if len(cur) > 0 {
		lines = append(lines, string(cur))
	}
	return lines
}
