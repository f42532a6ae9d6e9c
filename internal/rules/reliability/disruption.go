package reliability

import (
	"fmt"

	policyv1 "k8s.io/api/policy/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// pdbUnhealthyPodEviction: a PodDisruptionBudget should set
// spec.unhealthyPodEvictionPolicy (kube-linter
// pdb-unhealthy-pod-eviction-policy). Unset, the API uses IfHealthyBudget:
// a pod that is running but not ready (crash-looping, misconfigured) may
// be evicted only while the budget still has room, so a broken rollout
// that used up the budget also blocks the node drains that could move it.
// AlwaysAllow lets not-ready pods go; IfHealthyBudget written out says the
// owner chose it, and passes.
func pdbUnhealthyPodEviction() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/pdb-unhealthy-pod-eviction", Title: "PodDisruptionBudget without an unhealthy pod eviction policy", Severity: finding.SeverityLow,
		Description:     "Without unhealthyPodEvictionPolicy a budget protects pods that are running but not ready as if they were serving: when a bad rollout or a crash loop has used up the budget, node drains and upgrades block on pods that serve nothing.",
		Remediation:     "Set unhealthyPodEvictionPolicy: AlwaysAllow, unless the application needs its not-ready pods kept (then write IfHealthyBudget explicitly).",
		RemediationYAML: "spec:\n  maxUnavailable: 1\n  unhealthyPodEvictionPolicy: AlwaysAllow",
		References:      []finding.Reference{ref("Kubernetes: Unhealthy Pod Eviction Policy", "https://kubernetes.io/docs/tasks/run-application/configure-pdb/#unhealthy-pod-eviction-policy")}, Tags: tags,
		Object: func(_ *rule.Context, o *workload.Object) []rule.Violation {
			p, ok := o.Typed.(*policyv1.PodDisruptionBudget)
			if !ok || p.Spec.UnhealthyPodEvictionPolicy != nil {
				return nil
			}
			return []rule.Violation{{Field: "spec", Message: fmt.Sprintf("PodDisruptionBudget %s sets no unhealthyPodEvictionPolicy (IfHealthyBudget applies)", o.Ref.Name)}}
		},
	}
}
