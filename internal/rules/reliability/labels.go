package reliability

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// invalidLabelValue: every label value must be a valid label value (kube-score
// label-values): empty, or at most 63 characters of letters, digits, '-',
// '_' and '.', starting and ending with a letter or digit. The object's
// own labels are checked, and a workload's pod template labels too. The API
// server rejects such an object, so the manifest fails to apply; objects
// of kinds Palisade does not decode are not checked. One finding per bad
// value, in key order.
func invalidLabelValue() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/invalid-label-value", Title: "Label value invalid", Severity: finding.SeverityLow,
		Description:     "A label value longer than 63 characters, or with characters other than letters, digits, '-', '_' and '.' (or not starting and ending with a letter or digit), is rejected by the API server: the object is never created, and selectors written against the value never match.",
		Remediation:     "Shorten or rewrite the value (put free text in an annotation instead).",
		RemediationYAML: "metadata:\n  labels:\n    app.kubernetes.io/version: 1.4.2\n  annotations:\n    example.com/description: free text belongs here",
		References:      []finding.Reference{ref("Kubernetes: Labels, syntax and character set", "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set")}, Tags: tags,
		Object: func(_ *rule.Context, o *workload.Object) []rule.Violation {
			if o.Typed == nil {
				return nil
			}
			m, err := meta.Accessor(o.Typed)
			if err != nil {
				return nil
			}
			out := labelViolations(m.GetLabels(), "metadata.labels")
			if w := o.Workload; w != nil && w.PodMeta != nil && w.SpecPath != "spec" {
				out = append(out, labelViolations(w.PodMeta.Labels, strings.TrimSuffix(w.SpecPath, "spec")+"metadata.labels")...)
			}
			return out
		},
	}
}

func labelViolations(labels map[string]string, field string) []rule.Violation {
	var keys []string
	for k, v := range labels {
		if len(validation.IsValidLabelValue(v)) > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]rule.Violation, 0, len(keys))
	for _, k := range keys {
		out = append(out, rule.Violation{Field: field + "." + k,
			Message: fmt.Sprintf("label %s value %q is not a valid label value: %s", k, labels[k], strings.Join(validation.IsValidLabelValue(labels[k]), "; "))})
	}
	return out
}
