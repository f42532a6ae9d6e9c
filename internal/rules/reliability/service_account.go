package reliability

import (
	"fmt"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// deprecatedServiceAccountField: a pod spec should name its service
// account in serviceAccountName, not in the deprecated serviceAccount
// (kube-linter deprecated-service-account-field). Any non-empty
// serviceAccount is reported; when the two differ the message says so,
// since serviceAccountName wins and the manifest then says two things.
func deprecatedServiceAccountField() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/deprecated-service-account-field", Title: "Deprecated serviceAccount field used", Severity: finding.SeverityLow,
		Description:     "spec.serviceAccount is a deprecated alias of serviceAccountName, kept for old clients. Tools and reviewers that read only serviceAccountName miss it, and when both are set and differ, serviceAccountName silently wins.",
		Remediation:     "Write the service account in serviceAccountName and remove serviceAccount.",
		RemediationYAML: "spec:\n  serviceAccountName: web",
		References:      []finding.Reference{ref("Kubernetes API: PodSpec serviceAccount (deprecated)", "https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#security-context")}, Tags: tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			old := w.Spec.DeprecatedServiceAccount
			if old == "" {
				return nil
			}
			msg := fmt.Sprintf("pod spec names its service account %q in the deprecated serviceAccount field", old)
			if w.Spec.ServiceAccountName != old {
				msg = fmt.Sprintf("pod spec sets the deprecated serviceAccount %q, which serviceAccountName %q overrides", old, w.Spec.ServiceAccountName)
			}
			return []rule.Violation{{Field: w.Field("serviceAccount"), Message: msg}}
		},
	}
}
