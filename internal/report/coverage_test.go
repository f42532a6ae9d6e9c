package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
)

// Reports of object scans say how much of the input was understood, in
// the table and in SARIF; reports of other analysers do not pretend to.
func TestCoverage(t *testing.T) {
	n := func(i int) *int { return &i }
	tests := []struct {
		name    string
		summary finding.Summary
		want    string // "" for no coverage line
	}{
		{"object scan", finding.Summary{Objects: 12, NotUnderstood: n(0)}, "12 objects scanned, 0 not understood"},
		{"one object, some not understood", finding.Summary{Objects: 1, NotUnderstood: n(3)}, "1 object scanned, 3 not understood"},
		{"nothing", finding.Summary{NotUnderstood: n(0)}, "0 objects scanned, 0 not understood"},
		{"partial cluster scan", finding.Summary{Objects: 40, NotUnderstood: n(0), Partial: true}, "40 objects scanned, 0 not understood; partial: part of the target could not be read"},
		{"other analysers", finding.Summary{Objects: 7}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CoverageLine(tt.summary); got != tt.want {
				t.Fatalf("CoverageLine = %q, want %q", got, tt.want)
			}
			r := finding.NewReport(nil, nil, tt.summary.Objects, nil)
			r.Summary.NotUnderstood, r.Summary.Partial = tt.summary.NotUnderstood, tt.summary.Partial
			for _, format := range []Format{FormatTable, FormatSARIF} {
				var buf bytes.Buffer
				if err := Write(&buf, format, r, Options{}); err != nil {
					t.Fatal(err)
				}
				if tt.want != "" && !strings.Contains(buf.String(), tt.want) {
					t.Errorf("%s output does not say %q:\n%s", format, tt.want, buf.String())
				}
				if tt.want == "" && strings.Contains(buf.String(), "scanned") {
					t.Errorf("%s output counts objects it was not asked to:\n%s", format, buf.String())
				}
			}
		})
	}
}
