// Package report renders a finding.Report in the output formats the CLI
// offers: a human table, JSON, YAML, SARIF 2.1.0 and JUnit XML.
//
// Every renderer is deterministic: the same report gives the same bytes, so
// outputs can be diffed and kept as golden files. Renderers never modify the
// report they are given.
package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
)

// Format names an output format.
type Format string

// The output formats.
const (
	FormatTable Format = "table"
	FormatJSON  Format = "json"
	FormatYAML  Format = "yaml"
	FormatSARIF Format = "sarif"
	FormatJUnit Format = "junit"
)

// Formats lists the valid format names, in the order help text shows them.
func Formats() []string {
	return []string{string(FormatTable), string(FormatJSON), string(FormatYAML), string(FormatSARIF), string(FormatJUnit),
		string(FormatGitLabSAST), string(FormatGitLabContainerScanning)}
}

// ParseFormat reads a format name, case-insensitively.
func ParseFormat(s string) (Format, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	for _, f := range Formats() {
		if f == name {
			return Format(f), nil
		}
	}
	return "", fmt.Errorf("unknown output format %q (valid: %s)", s, strings.Join(Formats(), ", "))
}

// DefaultToolName is the SARIF driver name used when Options.ToolName is empty.
const DefaultToolName = "palisade"

// Options tune the renderers. The zero value is usable.
type Options struct {
	// Color adds ANSI colour to the table. The CLI decides (TTY, --no-color,
	// NO_COLOR); the renderer never looks at the terminal itself.
	Color bool
	// ShowSuppressed lists suppressed findings in the table. Machine formats
	// always carry them, marked as suppressed.
	ShowSuppressed bool
	// Width is the terminal width the table should fit, when known; the
	// message column wraps to what the other columns leave. 0 means unknown
	// (a pipe or CI log): messages wrap at 80 characters.
	Width int
	// ToolName, ToolVersion and InformationURI describe the tool in SARIF.
	ToolName       string
	ToolVersion    string
	InformationURI string
}

// Write renders r to w in format f. The output is built in memory first so
// that a failing renderer never leaves half a document behind, except JSON,
// which is streamed: it is the format of large reports, and encoding a
// finding cannot fail.
func Write(w io.Writer, f Format, r *finding.Report, opts Options) error {
	if r == nil {
		return fmt.Errorf("render %s: nil report", f)
	}
	if f == FormatJSON {
		if err := writeJSON(w, r); err != nil {
			return fmt.Errorf("write %s output: %w", f, err)
		}
		return nil
	}
	var buf bytes.Buffer
	var err error
	switch f {
	case FormatTable:
		err = writeTable(&buf, r, opts)
	case FormatYAML:
		err = writeYAML(&buf, r)
	case FormatSARIF:
		err = writeSARIF(&buf, r, opts)
	case FormatJUnit:
		err = writeJUnit(&buf, r)
	case FormatGitLabSAST:
		err = writeGitLab(&buf, r, opts, "sast", time.Now())
	case FormatGitLabContainerScanning:
		err = writeGitLab(&buf, r, opts, "container_scanning", time.Now())
	default:
		return fmt.Errorf("unknown output format %q (valid: %s)", f, strings.Join(Formats(), ", "))
	}
	if err != nil {
		return fmt.Errorf("render %s: %w", f, err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write %s output: %w", f, err)
	}
	return nil
}

// stripControl removes control characters (C0, DEL and C1), which could
// move a terminal's cursor, recolour it, or make XML invalid, and the
// bidirectional overrides that can make text display other than it reads.
// Tab, and with keepNewlines also LF, survive (otherwise LF becomes a
// space); CR is dropped so CRLF text reads as LF. Invalid UTF-8 becomes U+FFFD.
func stripControl(s string, keepNewlines bool) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t', r == '\n' && keepNewlines:
			return r
		case r == '\n':
			return ' '
		case r < 0x20, r >= 0x7f && r < 0xa0, r == 0xfffe, r == 0xffff,
			r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			return -1
		}
		return r
	}, s)
}

// firstLine returns the first non-empty line of s, for places that have room
// for one line only (a table cell, an XML attribute).
func firstLine(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return line
		}
	}
	return ""
}

// plural renders "1 finding" or "3 findings".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
