package hardening

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// serviceExposed: Services of type NodePort or LoadBalancer open the
// application on every node or to an external load balancer.
func serviceExposed() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/service-exposed",
		Title:           "Service exposed outside the cluster",
		Severity:        finding.SeverityMedium,
		Description:     "A NodePort opens the port on every node's address, bypassing ingress controls; a LoadBalancer publishes the service, often to the internet. Each is a door into the cluster.",
		Remediation:     "Use type ClusterIP behind an Ingress or Gateway with TLS and authentication; if external exposure is required, restrict loadBalancerSourceRanges.",
		RemediationYAML: "spec:\n  type: ClusterIP",
		References:      []finding.Reference{nsaGuide("Network separation and hardening")},
		Tags:            tags,
		Object: func(_ *rule.Context, o *workload.Object) []rule.Violation {
			svc, ok := o.Typed.(*corev1.Service)
			if !ok {
				return nil
			}
			switch svc.Spec.Type {
			case corev1.ServiceTypeNodePort:
				return []rule.Violation{{Message: "service type NodePort opens its ports on every node", Field: "spec.type"}}
			case corev1.ServiceTypeLoadBalancer:
				msg := "service type LoadBalancer exposes it outside the cluster"
				if len(svc.Spec.LoadBalancerSourceRanges) == 0 {
					msg += " to any source address (no loadBalancerSourceRanges)"
				}
				return []rule.Violation{{Message: msg, Field: "spec.type"}}
			}
			return nil
		},
	}
}

// noNetworkPolicy: when the input holds NetworkPolicies for a namespace,
// every workload in it must be selected by at least one of them; a pod no
// policy selects accepts and sends any traffic.
func noNetworkPolicy() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/no-network-policy",
		Title:           "Workload not selected by any NetworkPolicy",
		Severity:        finding.SeverityMedium,
		Description:     "Pods that no NetworkPolicy selects accept connections from, and open connections to, anything in the cluster and beyond; one compromised pod can then reach them.",
		Remediation:     "Add a default-deny policy for the namespace and policies that allow only the traffic the workload needs ('palisade netpol generate' writes them).",
		RemediationYAML: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]",
		References:      []finding.Reference{nsaGuide("Network policies"), cis("5.3.2")},
		Tags:            tags,
		Workload: func(c *rule.Context, w *workload.Workload) []rule.Violation {
			var inNamespace int
			podLabels := labels.Set(w.PodMeta.Labels)
			for _, np := range c.Inventory.NetworkPolicies {
				if np.Namespace != w.Namespace() {
					continue
				}
				inNamespace++
				sel, err := np.PodSelector()
				if err != nil {
					continue // an invalid selector selects nothing; the netpol rules report it
				}
				if sel.Matches(podLabels) {
					return nil
				}
			}
			if inNamespace == 0 {
				return nil
			}
			return []rule.Violation{{
				Message: fmt.Sprintf("none of the %d NetworkPolicies in namespace %q selects this workload's pods", inNamespace, w.Namespace()),
				Field:   w.SpecPath,
			}}
		},
	}
}
