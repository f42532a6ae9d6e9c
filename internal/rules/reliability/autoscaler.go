package reliability

import (
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// hpaReplicaRange: a HorizontalPodAutoscaler should keep at least two
// replicas and leave room to scale (Polaris hpaMinAvailability and
// hpaMaxAvailability). Contract, on autoscaling/v2 HorizontalPodAutoscalers:
//   - spec.minReplicas absent (Kubernetes defaults it to 1) or at most 1:
//     at low load the workload runs one pod, which any node drain or crash
//     takes down;
//   - spec.maxReplicas not above the effective minReplicas: the autoscaler
//     can never add a pod, so it scales nothing.
func hpaReplicaRange() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/hpa-replica-range", Title: "Autoscaler keeps one replica or cannot scale", Severity: finding.SeverityLow,
		Description:     "A HorizontalPodAutoscaler whose minReplicas is 1 (or unset, which means 1) lets the workload shrink to a single pod, so one node drain or crash interrupts it; one whose maxReplicas is not above minReplicas never adds a pod under load.",
		Remediation:     "Set minReplicas to 2 or more, and maxReplicas above minReplicas.",
		RemediationYAML: "spec:\n  minReplicas: 2\n  maxReplicas: 10",
		References:      []finding.Reference{ref("Kubernetes: Horizontal Pod Autoscaling", "https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/")}, Tags: tags,
		Object: func(_ *rule.Context, o *workload.Object) []rule.Violation {
			h, ok := o.Typed.(*autoscalingv2.HorizontalPodAutoscaler)
			if !ok {
				return nil
			}
			var out []rule.Violation
			minReplicas := int32(1)
			switch {
			case h.Spec.MinReplicas == nil:
				out = append(out, rule.Violation{Field: "spec", Message: fmt.Sprintf("HorizontalPodAutoscaler %s sets no minReplicas, which defaults to 1: the workload can shrink to a single pod", o.Ref.Name)})
			case *h.Spec.MinReplicas <= 1:
				minReplicas = *h.Spec.MinReplicas
				out = append(out, rule.Violation{Field: "spec.minReplicas", Message: fmt.Sprintf("HorizontalPodAutoscaler %s has minReplicas %d: the workload can shrink to a single pod", o.Ref.Name, minReplicas)})
			default:
				minReplicas = *h.Spec.MinReplicas
			}
			if h.Spec.MaxReplicas <= minReplicas {
				out = append(out, rule.Violation{Field: "spec.maxReplicas", Message: fmt.Sprintf("HorizontalPodAutoscaler %s has maxReplicas %d, not above minReplicas %d: it never adds a pod", o.Ref.Name, h.Spec.MaxReplicas, minReplicas)})
			}
			return out
		},
	}
}
