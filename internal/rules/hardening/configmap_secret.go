package hardening

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/secret"
	"github.com/palisade-sec/palisade/internal/workload"
)

// maxConfigMapFindings bounds the findings of one ConfigMap: a generated
// ConfigMap of credentials should read as one problem, not thousands.
const maxConfigMapFindings = 20

// configMapSecret: a ConfigMap must not hold credentials (Trivy KSV109,
// KSV01010; Polaris sensitiveConfigmapContent). Each data key is judged as
// a NAME=value pair (a key named like a secret with a literal value, or a
// value that is a recognised credential), and each multi-line value as a
// file (a password in an embedded application.properties). Values are
// never shown, only masked. binaryData is not read: it is opaque.
func configMapSecret() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/configmap-secret",
		Title:           "Credential in a ConfigMap",
		Severity:        finding.SeverityHigh,
		Description:     "ConfigMaps are meant for non-confidential data: they are readable by roles that cannot read Secrets (view, most monitoring and CI identities), are never encrypted at rest, and end up in logs, dashboards and Git. A credential in one is exposed to all of them.",
		Remediation:     "Move the credential into a Secret (ideally synchronised from an external secret store) and mount it or reference it with secretKeyRef; keep only non-confidential settings in the ConfigMap.",
		RemediationYAML: "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-credentials\ntype: Opaque\nstringData:\n  DB_PASSWORD: <from your secret store>",
		References: []finding.Reference{
			{Title: "Kubernetes: ConfigMaps", URL: "https://kubernetes.io/docs/concepts/configuration/configmap/"},
			{Title: "Kubernetes: Good practices for Kubernetes Secrets", URL: "https://kubernetes.io/docs/concepts/security/secrets-good-practices/"},
			cis("5.4.1"),
		},
		Tags: tags,
		Object: func(_ *rule.Context, o *workload.Object) []rule.Violation {
			cm, ok := o.Typed.(*corev1.ConfigMap)
			if !ok {
				return nil
			}
			keys := make([]string, 0, len(cm.Data))
			for k := range cm.Data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var out []rule.Violation
			for _, k := range keys {
				if len(out) >= maxConfigMapFindings {
					break
				}
				field := "data." + k
				if m, found := secret.ScanKeyValue(k, cm.Data[k]); found {
					out = append(out, rule.Violation{Field: field,
						Message: fmt.Sprintf("ConfigMap key %s holds %s (%s)", k, m.Description, m.Masked)})
				}
			}
			return out
		},
	}
}
