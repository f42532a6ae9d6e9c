package hardening

import (
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// deprecatedAPIVersion: a built-in kind written under a group/version that
// current Kubernetes does not serve, because it was removed (apps/v1beta2
// DaemonSet, removed in 1.16) or never existed (v1 Deployment). Palisade
// still evaluates the object as its kind in the current group/version
// (workload.LookupAPIVersion); this rule reports the apiVersion itself,
// at its line, because the API server would reject the object. Objects
// read from a live cluster are always in a served version. Versions of a
// built-in group that never existed at all (apps/v9) are not findings but
// input errors: the object is not understood.
func deprecatedAPIVersion() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/deprecated-api-version",
		Title:           "Removed or invalid API version",
		Severity:        finding.SeverityMedium,
		Description:     "The object uses an apiVersion that current Kubernetes does not serve. It will not apply, and tools that only understand served versions may skip it; the configuration that is actually deployed is probably different from this file.",
		Remediation:     "Change apiVersion to the served group/version named in the finding and adjust fields that changed (for apps/v1 Deployments, DaemonSets and ReplicaSets, spec.selector is required).",
		RemediationYAML: "apiVersion: apps/v1\nkind: Deployment\nspec:\n  selector:\n    matchLabels:\n      app: web",
		References: []finding.Reference{{
			Title: "Kubernetes Deprecated API Migration Guide",
			URL:   "https://kubernetes.io/docs/reference/using-api/deprecation-guide/",
		}},
		Tags: tags,
		Object: func(_ *rule.Context, o *workload.Object) []rule.Violation {
			apiVersion, kind := o.Ref.APIVersion, o.Ref.Kind
			if o.Source != nil {
				// The reference may name the object's controller owner.
				apiVersion, kind = o.Source.APIVersion, o.Source.Kind
			}
			info := workload.LookupAPIVersion(apiVersion, kind)
			if info.Status != workload.APIReplaced {
				return nil
			}
			return []rule.Violation{{Message: info.Message(), Field: "apiVersion"}}
		},
	}
}
