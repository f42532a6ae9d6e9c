package reliability

import (
	"fmt"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// nameLabelMismatch: a workload that carries the recommended label key
// (app.kubernetes.io/name or app.kubernetes.io/instance) on its own
// metadata should give it the workload's metadata.name (Polaris
// metadataAndNameMismatched and metadataAndInstanceMismatched). Dashboards,
// cost reports and "kubectl get -l" group by these labels; a value that
// differs from the name (often a stale copy from another chart) files the
// workload under another application. A workload without the label passes:
// there is nothing to mismatch, and requiring the label is each
// organisation's convention. Only the label key is parameterised.
func nameLabelMismatch(id, key string) *rule.Rule {
	return &rule.Rule{
		ID: id, Title: "Label " + key + " differs from the name", Severity: finding.SeverityLow,
		Description:     "The recommended label " + key + " is what dashboards, cost reports and label queries group workloads by. When its value differs from the workload's name, the workload is counted under another application, and selectors written against the name miss it.",
		Remediation:     "Set the label to the workload's metadata.name, or remove it.",
		RemediationYAML: "metadata:\n  name: web\n  labels:\n    " + key + ": web",
		References:      []finding.Reference{ref("Kubernetes: Recommended labels", "https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/")}, Tags: tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			if w.Meta == nil {
				return nil
			}
			v, ok := w.Meta.Labels[key]
			if !ok || v == w.Meta.Name {
				return nil
			}
			return []rule.Violation{{Field: "metadata.labels." + key,
				Message: fmt.Sprintf("%s %s has label %s=%q, not its name", w.Ref.Kind, w.Ref.Name, key, v)}}
		},
	}
}
