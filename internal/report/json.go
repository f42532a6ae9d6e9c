package report

import (
	"bytes"
	"encoding/json"
	"fmt"

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

func writeJSON(buf *bytes.Buffer, r *finding.Report) error {
	b, err := marshalJSON(normalized(r))
	if err != nil {
		return err
	}
	buf.Write(b)
	return nil
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
