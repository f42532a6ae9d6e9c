// Package cluster holds the rules that judge a whole cluster rather than
// one object: namespaces without an enforced Pod Security level, default
// service accounts that hand out tokens, and workloads in namespaces with
// no NetworkPolicy at all. They need a complete view of a namespace, so
// they run on live clusters ('palisade scan cluster'), not on manifests.
package cluster

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// Rules returns the cluster-level rules, tagged rule.TagCluster.
func Rules() []*rule.Rule {
	return []*rule.Rule{namespaceNoEnforce(), defaultSAAutomount(), namespaceNoNetworkPolicy(),
		namespaceWithout("LimitRange"), namespaceWithout("ResourceQuota"), danglingBinding()}
}

var tags = []string{rule.TagCluster, rule.TagHardening}

func sortedNamespaces(inv *workload.Inventory) []*workload.Namespace {
	out := make([]*workload.Namespace, 0, len(inv.Namespaces))
	for _, ns := range inv.Namespaces {
		out = append(out, ns)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func workloadsIn(inv *workload.Inventory) map[string]int {
	n := map[string]int{}
	for _, t := range inv.PodTemplates() {
		n[t.Ref.Namespace]++
	}
	return n
}

// namespaceNoEnforce: every namespace that runs workloads should carry a
// pod-security.kubernetes.io/enforce label, so the API server itself stops
// unsafe pods. Namespaces without workloads are skipped.
func namespaceNoEnforce() *rule.Rule {
	return &rule.Rule{
		ID:              "cluster/namespace-no-pss-enforce",
		Title:           "Namespace without an enforced Pod Security level",
		Severity:        finding.SeverityMedium,
		Description:     "Without an enforce label the Pod Security admission controller admits any pod in the namespace (unless the cluster sets a default), so one bad manifest can run a privileged container.",
		Remediation:     "Label the namespace with the strictest level its workloads pass (check with 'palisade scan cluster --pss-level restricted').",
		RemediationYAML: "kubectl label namespace my-app pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/enforce-version=latest",
		References: []finding.Reference{
			{Title: "Kubernetes: Enforce Pod Security Standards with namespace labels", URL: "https://kubernetes.io/docs/tasks/configure-pod-container/enforce-standards-namespace-labels/"},
			{Title: "CIS Kubernetes Benchmark 5.2.1"},
		},
		Tags: tags,
		Inventory: func(c *rule.Context) []rule.Violation {
			counts := workloadsIn(c.Inventory)
			var out []rule.Violation
			for _, ns := range sortedNamespaces(c.Inventory) {
				if counts[ns.Name] == 0 {
					continue
				}
				if _, ok := ns.Labels["pod-security.kubernetes.io/enforce"]; ok {
					continue
				}
				out = append(out, rule.Violation{Namespace: ns, Field: "metadata.labels",
					Message: fmt.Sprintf("namespace %q runs %d workload(s) and has no pod-security.kubernetes.io/enforce label", ns.Name, counts[ns.Name])})
			}
			return out
		},
	}
}

// defaultSAAutomount: each namespace's "default" service account should set
// automountServiceAccountToken: false, so pods that do not ask for an
// identity do not get one.
func defaultSAAutomount() *rule.Rule {
	return &rule.Rule{
		ID:              "cluster/default-sa-automount",
		Title:           "Default service account mounts its token",
		Severity:        finding.SeverityLow,
		Description:     "Every pod that names no service account runs as \"default\" and, unless it opts out, gets its token: any permission ever granted to default leaks to all of them.",
		Remediation:     "Set automountServiceAccountToken: false on the default service account of every namespace.",
		RemediationYAML: "kubectl patch serviceaccount default -n my-app -p '{\"automountServiceAccountToken\": false}'",
		References:      []finding.Reference{{Title: "CIS Kubernetes Benchmark 5.1.5"}},
		Tags:            tags,
		Object: func(_ *rule.Context, o *workload.Object) []rule.Violation {
			sa, ok := o.Typed.(*corev1.ServiceAccount)
			if !ok || sa.Name != "default" {
				return nil
			}
			if sa.AutomountServiceAccountToken != nil && !*sa.AutomountServiceAccountToken {
				return nil
			}
			return []rule.Violation{{Message: fmt.Sprintf("service account default in namespace %q does not set automountServiceAccountToken: false", o.Ref.Namespace),
				Field: "automountServiceAccountToken"}}
		},
	}
}

// namespaceNoNetworkPolicy: a workload in a namespace that has no
// NetworkPolicy at all accepts traffic from anywhere.
func namespaceNoNetworkPolicy() *rule.Rule {
	return &rule.Rule{
		ID:              "cluster/namespace-no-network-policy",
		Title:           "Workload in a namespace without NetworkPolicies",
		Severity:        finding.SeverityMedium,
		Description:     "With no NetworkPolicy in its namespace a pod accepts connections from every pod in the cluster and can reach anything; one compromised workload anywhere can reach it.",
		Remediation:     "Add a default-deny policy to the namespace and allow only needed traffic ('palisade netpol generate').",
		RemediationYAML: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny\n  namespace: my-app\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]",
		References:      []finding.Reference{{Title: "CIS Kubernetes Benchmark 5.3.2"}},
		Tags:            tags,
		Workload: func(c *rule.Context, w *workload.Workload) []rule.Violation {
			for _, np := range c.Inventory.NetworkPolicies {
				if np.Namespace == w.Namespace() {
					return nil
				}
			}
			return []rule.Violation{{Message: fmt.Sprintf("namespace %q has no NetworkPolicy, so this workload's traffic is unrestricted", w.Namespace()), Field: w.SpecPath}}
		},
	}
}

// namespaceWithout: every namespace that runs workloads should hold a
// LimitRange (default and maximum requests and limits for each container)
// and a ResourceQuota (a ceiling on the namespace's total), so that one
// namespace's workloads cannot exhaust the nodes the others share (Trivy
// KSV039, KSV040; CIS 5.6.x). Like the other cluster rules it needs the
// whole namespace, so it runs on live clusters.
func namespaceWithout(kind string) *rule.Rule {
	id, title := "cluster/namespace-no-limitrange", "Namespace without a LimitRange"
	why := "Without a LimitRange, containers that set no requests or limits get none: they are scheduled anywhere, may use a node's whole CPU and memory, and are the first evicted under pressure."
	fix := "Add a LimitRange with default requests and limits (and maxima) for containers."
	yaml := "apiVersion: v1\nkind: LimitRange\nmetadata:\n  name: defaults\n  namespace: my-app\nspec:\n  limits:\n  - type: Container\n    defaultRequest: {cpu: 100m, memory: 128Mi}\n    default: {cpu: 500m, memory: 512Mi}\n    max: {cpu: \"2\", memory: 2Gi}"
	ref := finding.Reference{Title: "Kubernetes: Limit Ranges", URL: "https://kubernetes.io/docs/concepts/policy/limit-range/"}
	if kind == "ResourceQuota" {
		id, title = "cluster/namespace-no-resourcequota", "Namespace without a ResourceQuota"
		why = "Without a ResourceQuota a namespace's workloads (or one runaway autoscaler or CronJob) can claim every node's capacity and the cluster's object counts, starving every other namespace."
		fix = "Add a ResourceQuota that caps the namespace's requests, limits and object counts."
		yaml = "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: quota\n  namespace: my-app\nspec:\n  hard:\n    requests.cpu: \"8\"\n    requests.memory: 16Gi\n    limits.memory: 32Gi\n    pods: \"100\""
		ref = finding.Reference{Title: "Kubernetes: Resource Quotas", URL: "https://kubernetes.io/docs/concepts/policy/resource-quotas/"}
	}
	return &rule.Rule{
		ID: id, Title: title, Severity: finding.SeverityLow, Description: why, Remediation: fix, RemediationYAML: yaml,
		References: []finding.Reference{ref, {Title: "NSA/CISA Kubernetes Hardening Guide: Resource policies"}},
		Tags:       tags,
		Inventory: func(c *rule.Context) []rule.Violation {
			has := map[string]bool{}
			for _, o := range c.Inventory.Objects {
				if o.Ref.Kind == kind && o.Ref.APIVersion == "v1" {
					has[o.Ref.Namespace] = true
				}
			}
			counts := workloadsIn(c.Inventory)
			var out []rule.Violation
			for _, ns := range sortedNamespaces(c.Inventory) {
				if counts[ns.Name] == 0 || has[ns.Name] {
					continue
				}
				out = append(out, rule.Violation{Namespace: ns, Field: "metadata.name",
					Message: fmt.Sprintf("namespace %q runs %d workload(s) and has no %s", ns.Name, counts[ns.Name], kind)})
			}
			return out
		},
	}
}
