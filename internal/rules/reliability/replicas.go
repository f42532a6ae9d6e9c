package reliability

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// singleReplica: a Deployment or StatefulSet should run more than one
// replica (Polaris deploymentMissingReplicas, kube-score
// deployment-replicas), unless an autoscaler decides the count. One
// replica is an outage at every rollout, node drain and crash.
func singleReplica() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/single-replica", Title: "Runs a single replica", Severity: finding.SeverityLow,
		Description:     "A single replica is unavailable whenever its pod is rescheduled: at every rollout (for a StatefulSet, or a Deployment with maxSurge 0), node drain, eviction or crash.",
		Remediation:     "Run at least two replicas (three where a quorum matters), or let a HorizontalPodAutoscaler with minReplicas of 2 or more decide.",
		RemediationYAML: "spec:\n  replicas: 2",
		References:      []finding.Reference{ref("Kubernetes: Deployments, scaling", "https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#scaling-a-deployment")}, Tags: tags,
		Workload: func(c *rule.Context, w *workload.Workload) []rule.Violation {
			if (w.Ref.Kind != "Deployment" && w.Ref.Kind != "StatefulSet") || w.ReplicaCount() != 1 || targetedByHPA(c.Inventory, w) {
				return nil
			}
			field := "spec.replicas"
			if w.Replicas == nil {
				field = "spec"
			}
			return []rule.Violation{{Field: field, Message: fmt.Sprintf("%s %s runs one replica", w.Ref.Kind, w.Ref.Name)}}
		},
	}
}

// pdbsFor returns the PodDisruptionBudgets in the workload's namespace
// whose selector selects its pods.
func pdbsFor(inv *workload.Inventory, w *workload.Workload) []*policyv1.PodDisruptionBudget {
	var out []*policyv1.PodDisruptionBudget
	for _, p := range inv.PodDisruptionBudgets {
		if p.Namespace == w.Namespace() && selects(p.Spec.Selector, w.PodMeta.Labels) {
			out = append(out, p)
		}
	}
	return out
}

// noPDB: a workload with more than one replica (or an autoscaler) should
// be covered by a PodDisruptionBudget (Polaris missingPodDisruptionBudget,
// kube-score deployment-/statefulset-has-poddisruptionbudget); a single
// replica is single-replica's finding, and a budget cannot help it.
func noPDB() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/no-pdb", Title: "No PodDisruptionBudget", Severity: finding.SeverityLow,
		Description:     "Without a PodDisruptionBudget a node drain or cluster upgrade may evict every replica at once: the replicas protect against crashes, not against voluntary disruption.",
		Remediation:     "Add a PodDisruptionBudget selecting the pods, with maxUnavailable: 1 (or a minAvailable below the replica count).",
		RemediationYAML: "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: web\nspec:\n  maxUnavailable: 1\n  selector:\n    matchLabels:\n      app: web",
		References:      []finding.Reference{refPDB}, Tags: tags,
		Workload: func(c *rule.Context, w *workload.Workload) []rule.Violation {
			if !multiReplica(c.Inventory, w) || len(pdbsFor(c.Inventory, w)) > 0 {
				return nil
			}
			return []rule.Violation{{Field: "metadata.name", Message: fmt.Sprintf("no PodDisruptionBudget in namespace %q selects the pods of %s %s", w.Namespace(), w.Ref.Kind, w.Ref.Name)}}
		},
	}
}

// pdbBlocksEviction: a PodDisruptionBudget must allow some disruption:
// maxUnavailable 0 (or 0%) or minAvailable 100% blocks every eviction, so
// node drains and upgrades hang (kube-linter pdb-max-unavailable; kube-score
// poddisruptionbudget-has-policy for a budget with neither field).
func pdbBlocksEviction() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/pdb-blocks-eviction", Title: "PodDisruptionBudget allows no eviction", Severity: finding.SeverityMedium,
		Description:     "A budget that allows no pod to be unavailable blocks every voluntary eviction: 'kubectl drain', cluster upgrades and the autoscaler wait on it for ever, and operators end up deleting the budget under pressure.",
		Remediation:     "Allow at least one pod to be evicted: maxUnavailable: 1, or a minAvailable below the replica count.",
		RemediationYAML: "spec:\n  maxUnavailable: 1",
		References:      []finding.Reference{refPDB}, Tags: tags,
		Object: func(_ *rule.Context, o *workload.Object) []rule.Violation {
			p, ok := o.Typed.(*policyv1.PodDisruptionBudget)
			if !ok {
				return nil
			}
			switch {
			case p.Spec.MaxUnavailable != nil && isZero(*p.Spec.MaxUnavailable):
				return []rule.Violation{{Field: "spec.maxUnavailable", Message: fmt.Sprintf("PodDisruptionBudget %s sets maxUnavailable %s: no pod may ever be evicted", p.Name, p.Spec.MaxUnavailable.String())}}
			case p.Spec.MinAvailable != nil && p.Spec.MinAvailable.Type == intstr.String && strings.TrimSpace(p.Spec.MinAvailable.StrVal) == "100%":
				return []rule.Violation{{Field: "spec.minAvailable", Message: fmt.Sprintf("PodDisruptionBudget %s sets minAvailable 100%%: no pod may ever be evicted", p.Name)}}
			case p.Spec.MaxUnavailable == nil && p.Spec.MinAvailable == nil:
				return []rule.Violation{{Field: "spec", Message: fmt.Sprintf("PodDisruptionBudget %s sets neither minAvailable nor maxUnavailable", p.Name)}}
			}
			return nil
		},
	}
}

func isZero(v intstr.IntOrString) bool {
	if v.Type == intstr.Int {
		return v.IntVal == 0
	}
	s := strings.TrimSpace(v.StrVal)
	return s == "0" || s == "0%"
}

// pdbMinAvailable: a PodDisruptionBudget's integer minAvailable must stay
// below the replica count of each workload it covers (kube-linter
// pdb-min-available); at or above it, no pod can be evicted. Workloads an
// autoscaler scales are judged by the autoscaler's minReplicas.
func pdbMinAvailable() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/pdb-min-available", Title: "PodDisruptionBudget minAvailable not below the replicas", Severity: finding.SeverityMedium,
		Description:     "When a budget's minAvailable is at least the number of replicas, evicting any pod would break it: node drains and upgrades block until someone scales up or deletes the budget.",
		Remediation:     "Set minAvailable below the replica count (or use maxUnavailable: 1, which follows scaling).",
		RemediationYAML: "spec:\n  maxUnavailable: 1",
		References:      []finding.Reference{refPDB}, Tags: tags,
		Workload: func(c *rule.Context, w *workload.Workload) []rule.Violation {
			if !w.Scaled {
				return nil
			}
			replicas := w.ReplicaCount()
			for _, h := range c.Inventory.HorizontalPodAutoscalers {
				t := h.Spec.ScaleTargetRef
				if h.Namespace == w.Namespace() && t.Kind == w.Ref.Kind && t.Name == w.Ref.Name {
					replicas = 1
					if h.Spec.MinReplicas != nil {
						replicas = *h.Spec.MinReplicas
					}
				}
			}
			var out []rule.Violation
			for _, p := range pdbsFor(c.Inventory, w) {
				if m := p.Spec.MinAvailable; m != nil && m.Type == intstr.Int && m.IntVal >= replicas {
					field := "spec.replicas"
					if w.Replicas == nil {
						field = "spec"
					}
					out = append(out, rule.Violation{Field: field,
						Message: fmt.Sprintf("PodDisruptionBudget %s requires %d available pods, but %s %s runs at most %d at its minimum", p.Name, m.IntVal, w.Ref.Kind, w.Ref.Name, replicas)})
				}
			}
			return out
		},
	}
}

// hostnameKey is the node label that spreads pods across nodes.
const hostnameKey = "kubernetes.io/hostname"

// noAntiAffinity: replicas of one workload should not share a node
// (kube-score *-has-host-podantiaffinity, kube-linter no-anti-affinity):
// a pod anti-affinity on kubernetes.io/hostname, or a topology spread
// constraint over it, keeps one node failure from taking them all.
func noAntiAffinity() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/no-anti-affinity", Title: "Replicas may share a node", Severity: finding.SeverityLow,
		Description:     "Without pod anti-affinity (or a topology spread constraint) on kubernetes.io/hostname, the scheduler may place every replica on the same node: that node's failure or drain takes the whole workload down.",
		Remediation:     "Add a preferred pod anti-affinity on kubernetes.io/hostname selecting the workload's own pods, or a topology spread constraint on that key.",
		RemediationYAML: "affinity:\n  podAntiAffinity:\n    preferredDuringSchedulingIgnoredDuringExecution:\n    - weight: 100\n      podAffinityTerm:\n        topologyKey: kubernetes.io/hostname\n        labelSelector:\n          matchLabels:\n            app: web",
		References:      []finding.Reference{refAffinity, refSpread}, Tags: tags,
		Workload: func(c *rule.Context, w *workload.Workload) []rule.Violation {
			if !multiReplica(c.Inventory, w) || spreadsOverNodes(w.Spec, w.PodMeta.Labels) {
				return nil
			}
			return []rule.Violation{{Field: w.SpecPath, Message: fmt.Sprintf("%s %s runs several replicas with no anti-affinity or spread over %s", w.Ref.Kind, w.Ref.Name, hostnameKey)}}
		},
	}
}

// spreadsOverNodes reports a pod anti-affinity term (required or
// preferred) on the hostname key that selects the pod's own labels, or a
// topology spread constraint on that key.
func spreadsOverNodes(spec *corev1.PodSpec, own map[string]string) bool {
	for _, t := range spec.TopologySpreadConstraints {
		if t.TopologyKey == hostnameKey {
			return true
		}
	}
	if spec.Affinity == nil || spec.Affinity.PodAntiAffinity == nil {
		return false
	}
	a := spec.Affinity.PodAntiAffinity
	terms := append([]corev1.PodAffinityTerm{}, a.RequiredDuringSchedulingIgnoredDuringExecution...)
	for _, p := range a.PreferredDuringSchedulingIgnoredDuringExecution {
		terms = append(terms, p.PodAffinityTerm)
	}
	for _, t := range terms {
		if t.TopologyKey == hostnameKey && selects(t.LabelSelector, own) {
			return true
		}
	}
	return false
}

// noTopologySpread: a workload with several replicas should declare how
// they spread over failure domains (Polaris topologySpreadConstraint).
// Anti-affinity keeps replicas off one node; a spread constraint on the
// zone also keeps a zone outage from taking them all.
func noTopologySpread() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/no-topology-spread", Title: "No topology spread constraint", Severity: finding.SeverityLow,
		Description:     "The scheduler packs pods where resources are free, not where failure domains differ: without a topology spread constraint the replicas may all land in one zone, and a zone outage takes the workload down.",
		Remediation:     "Add a topologySpreadConstraint on topology.kubernetes.io/zone (ScheduleAnyway keeps pods schedulable in a single-zone cluster).",
		RemediationYAML: "topologySpreadConstraints:\n- maxSkew: 1\n  topologyKey: topology.kubernetes.io/zone\n  whenUnsatisfiable: ScheduleAnyway\n  labelSelector:\n    matchLabels:\n      app: web",
		References:      []finding.Reference{refSpread}, Tags: tags,
		Workload: func(c *rule.Context, w *workload.Workload) []rule.Violation {
			if !multiReplica(c.Inventory, w) || len(w.Spec.TopologySpreadConstraints) > 0 {
				return nil
			}
			return []rule.Violation{{Field: w.SpecPath, Message: fmt.Sprintf("%s %s runs several replicas with no topologySpreadConstraints", w.Ref.Kind, w.Ref.Name)}}
		},
	}
}
