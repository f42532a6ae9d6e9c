package hardening

import (
	"fmt"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// tokenAutomount: a pod gets its service-account token mounted unless the
// pod spec, or else its ServiceAccount, sets automountServiceAccountToken:
// false. The pod's setting wins over the service account's.
func tokenAutomount() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/sa-token-automount",
		Title:           "Service-account token mounted",
		Severity:        finding.SeverityMedium,
		Description:     "A mounted token lets anyone who gets code execution in the container call the Kubernetes API as the pod's service account. Most applications never need it.",
		Remediation:     "Set automountServiceAccountToken: false on the pod (or its ServiceAccount) unless the application talks to the API server.",
		RemediationYAML: "spec:\n  automountServiceAccountToken: false",
		References:      []finding.Reference{cis("5.1.6"), nsaGuide("Authentication and authorization")},
		Tags:            tags,
		Workload: func(c *rule.Context, w *workload.Workload) []rule.Violation {
			if w.Spec.AutomountServiceAccountToken != nil {
				if !*w.Spec.AutomountServiceAccountToken {
					return nil
				}
				return []rule.Violation{{Message: "automountServiceAccountToken is true", Field: w.Field("automountServiceAccountToken")}}
			}
			if sa := c.Inventory.ServiceAccountFor(w); sa != nil && sa.AutomountServiceAccountToken != nil && !*sa.AutomountServiceAccountToken {
				return nil
			}
			return []rule.Violation{{
				Message: fmt.Sprintf("the token of service account %q is mounted (neither the pod nor the service account sets automountServiceAccountToken: false)", w.Spec.ServiceAccountName),
				Field:   w.SpecPath,
			}}
		},
	}
}

// defaultServiceAccount: workloads should run as a dedicated service
// account, not the namespace's "default" one, so RBAC can be granted per
// application.
func defaultServiceAccount() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/default-service-account",
		Title:           "Runs as the default service account",
		Severity:        finding.SeverityLow,
		Description:     "Every pod without its own service account shares \"default\": a permission granted for one application is granted to all of them.",
		Remediation:     "Create a ServiceAccount per application and set serviceAccountName.",
		RemediationYAML: "spec:\n  serviceAccountName: my-app",
		References:      []finding.Reference{cis("5.1.5"), nsaGuide("Authentication and authorization")},
		Tags:            tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			if w.Spec.ServiceAccountName != "default" {
				return nil
			}
			return []rule.Violation{{Message: "runs as the \"default\" service account", Field: w.Field("serviceAccountName")}}
		},
	}
}

// defaultNamespace: objects should not live in the "default" namespace,
// where policies and quotas are rarely set. An object without a namespace
// lands in the one kubectl uses, "default" unless told otherwise.
func defaultNamespace() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/default-namespace",
		Title:           "Workload in the default namespace",
		Severity:        finding.SeverityLow,
		Description:     "The default namespace usually has no Pod Security label, NetworkPolicy or quota, and mixes unrelated applications under one set of permissions.",
		Remediation:     "Deploy each application into its own namespace.",
		RemediationYAML: "metadata:\n  namespace: my-app",
		References:      []finding.Reference{cis("5.6.4")},
		Tags:            tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			if w.Namespace() != "default" {
				return nil
			}
			msg := "is in the \"default\" namespace"
			if w.Source != nil && w.Source.Namespace == "" {
				msg = "sets no namespace, so it lands in \"default\" unless applied with -n"
			}
			return []rule.Violation{{Message: msg, Field: "metadata.namespace"}}
		},
	}
}
