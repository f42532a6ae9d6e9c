package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/finding"
)

// normalized returns a shallow copy of r whose findings and severity counts
// are never nil, so consumers always see an array and an object, not null.
func normalized(r *finding.Report) finding.Report {
	out := *r
	if out.Findings == nil {
		out.Findings = []finding.Finding{}
	}
	if out.Summary.BySeverity == nil {
		out.Summary.BySeverity = map[string]int{}
	}
	// Rules come in whatever order the scanner found them; sort a copy.
	out.Rules = slices.Clone(out.Rules)
	slices.SortStableFunc(out.Rules, func(a, b finding.RuleInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// marshalJSON encodes v with two-space indent. HTML escaping is off: the
// output is a file, not a web page, and "<" reads better than "\u003c".
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode JSON: %w", err)
	}
	return buf.Bytes(), nil
}

// writeJSON streams the report one finding at a time, so a report with
// tens of thousands of findings never needs a second copy in memory. The
// bytes are exactly those of marshalJSON(normalized(r)).
func writeJSON(w io.Writer, r *finding.Report) error {
	n := normalized(r)
	bw := bufio.NewWriterSize(w, 64<<10)
	var item bytes.Buffer
	if len(n.Findings) == 0 {
		bw.WriteString("{\n  \"findings\": [],\n")
	} else {
		bw.WriteString("{\n  \"findings\": [\n")
		for i := range n.Findings {
			item.Reset()
			if err := appendFinding(&item, &n.Findings[i]); err != nil {
				return fmt.Errorf("encode JSON: finding %d: %w", i, err)
			}
			bw.WriteString("    ")
			bw.Write(item.Bytes())
			if i < len(n.Findings)-1 {
				bw.WriteString(",\n")
			} else {
				bw.WriteString("\n  ],\n")
			}
		}
	}
	// The rest is small: encode it whole and splice it in after "findings".
	rest := n
	rest.Findings = nil
	b, err := marshalJSON(struct {
		Summary    finding.Summary      `json:"summary"`
		Problems   []finding.Problem    `json:"problems,omitempty"`
		Rules      []finding.RuleInfo   `json:"rules,omitempty"`
		Compliance []finding.Compliance `json:"compliance,omitempty"`
	}{rest.Summary, rest.Problems, rest.Rules, rest.Compliance})
	if err != nil {
		return err
	}
	bw.Write(b[2:]) // drop the opening "{\n"
	return bw.Flush()
}

// writeYAML goes through JSON (sigs.k8s.io/yaml does), so the field names
// are the JSON ones; keys come out sorted, which keeps the output stable.
func writeYAML(buf *bytes.Buffer, r *finding.Report) error {
	b, err := yaml.Marshal(normalized(r))
	if err != nil {
		return fmt.Errorf("encode YAML: %w", err)
	}
	buf.Write(b)
	return nil
}
