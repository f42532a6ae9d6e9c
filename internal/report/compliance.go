package report

import (
	"bytes"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/palisade-sec/palisade/internal/finding"
)

// writeComplianceTable renders each framework's per-control table and
// score after the findings.
func writeComplianceTable(buf *bytes.Buffer, comps []finding.Compliance) {
	for _, c := range comps {
		fmt.Fprintf(buf, "\nCompliance: %s", stripControl(c.Title, false))
		if c.Version != "" {
			fmt.Fprintf(buf, " %s", stripControl(c.Version, false))
		}
		fmt.Fprintf(buf, " (%s)\n", c.Framework)
		tw := tabwriter.NewWriter(buf, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  CONTROL\tSTATUS\tTITLE\tDETAIL")
		for _, ctl := range c.Controls {
			detail := ctl.Reason
			if len(ctl.FailedChecks) > 0 {
				detail = fmt.Sprintf("%d finding(s): %s", ctl.Findings, strings.Join(ctl.FailedChecks, ", "))
			} else if ctl.Status == finding.ControlPassed {
				detail = strings.Join(ctl.Checks, ", ")
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", stripControl(ctl.ID, false), ctl.Status, stripControl(ctl.Title, false), stripControl(detail, false))
		}
		tw.Flush()
		fmt.Fprintf(buf, "  Score: %s (passed %d, failed %d, not applicable %d, manual %d; score = passed / (passed + failed))\n",
			scoreText(c.Score), c.Passed, c.Failed, c.NotApplicable, c.Manual)
	}
}

// scoreText prints a score as a percentage, or says there is none.
func scoreText(s *float64) string {
	if s == nil {
		return "none (no control assessed)"
	}
	return fmt.Sprintf("%.1f%%", *s)
}
