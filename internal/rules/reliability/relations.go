package reliability

import (
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// The rules below relate objects to the pods the input (or cluster)
// holds, so they see every workload at once: 'scan config' runs them after
// all its batches, from each workload's pod template. A scan of part of an
// application (the Services without their Deployments) reports what the
// part does not hold, to be completed or exempted.

// templatesIn groups the pod templates by namespace.
func templatesIn(inv *workload.Inventory) map[string][]workload.PodTemplate {
	out := map[string][]workload.PodTemplate{}
	for _, t := range inv.PodTemplates() {
		out[t.Ref.Namespace] = append(out[t.Ref.Namespace], t)
	}
	return out
}

func anySelected(templates []workload.PodTemplate, sel labels.Selector) bool {
	for _, t := range templates {
		if sel.Matches(labels.Set(t.Labels)) {
			return true
		}
	}
	return false
}

// serviceNoPods: a Service with a selector must select the pods of some
// workload in its namespace (kube-score service-targets-pod, kube-linter
// dangling-service); otherwise it has no endpoints and every connection to
// it fails. Services without a selector (ExternalName, or endpoints
// managed by hand) are not judged.
func serviceNoPods() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/service-no-pods", Title: "Service selects no pod", Severity: finding.SeverityMedium,
		Description:     "A Service whose selector matches no pod has no endpoints: every client connection to it is refused or times out. It is usually a label typo, or a selector left behind by a rename.",
		Remediation:     "Make the Service's selector match the labels of its workload's pod template.",
		RemediationYAML: "spec:\n  selector:\n    app: web   # the pod template's labels",
		References:      []finding.Reference{ref("Kubernetes: Service, defining a Service", "https://kubernetes.io/docs/concepts/services-networking/service/#defining-a-service")}, Tags: tags,
		Inventory: func(c *rule.Context) []rule.Violation {
			byNS := templatesIn(c.Inventory)
			var out []rule.Violation
			for _, o := range c.Inventory.Objects {
				svc, ok := o.Typed.(*corev1.Service)
				if !ok || len(svc.Spec.Selector) == 0 || svc.Spec.Type == corev1.ServiceTypeExternalName {
					continue
				}
				if !anySelected(byNS[o.Ref.Namespace], labels.SelectorFromSet(svc.Spec.Selector)) {
					out = append(out, rule.Violation{Object: o, Field: "spec.selector",
						Message: fmt.Sprintf("Service %s selects no pod of namespace %q", o.Ref.Name, o.Ref.Namespace)})
				}
			}
			return out
		},
	}
}

// networkPolicyNoPods: a NetworkPolicy's podSelector should select some
// pod of its namespace (kube-score networkpolicy-targets-pod, kube-linter
// dangling-networkpolicy); a policy that selects nothing isolates
// nothing, while its authors believe it does.
func networkPolicyNoPods() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/network-policy-no-pods", Title: "NetworkPolicy selects no pod", Severity: finding.SeverityMedium,
		Description:     "A NetworkPolicy applies only to the pods its podSelector selects. One that selects none restricts nothing: the workload it was written for stays open, while reviewers believe it isolated.",
		Remediation:     "Make spec.podSelector match the labels of the pods to isolate (an empty podSelector selects every pod of the namespace).",
		RemediationYAML: "spec:\n  podSelector:\n    matchLabels:\n      app: web",
		References:      []finding.Reference{ref("Kubernetes: Network Policies", "https://kubernetes.io/docs/concepts/services-networking/network-policies/")}, Tags: tags,
		Inventory: func(c *rule.Context) []rule.Violation {
			byNS := templatesIn(c.Inventory)
			var out []rule.Violation
			for _, o := range c.Inventory.Objects {
				np, ok := o.Typed.(*networkingv1.NetworkPolicy)
				if !ok {
					continue
				}
				sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
				if err != nil || !anySelected(byNS[o.Ref.Namespace], sel) {
					out = append(out, rule.Violation{Object: o, Field: "spec.podSelector",
						Message: fmt.Sprintf("NetworkPolicy %s selects no pod of namespace %q", o.Ref.Name, o.Ref.Namespace)})
				}
			}
			return out
		},
	}
}

// scalableKinds are the built-in kinds an autoscaler can target; a target
// of another kind (a custom resource with a scale subresource) is not
// judged.
var scalableKinds = map[string]bool{"Deployment": true, "StatefulSet": true, "ReplicaSet": true, "ReplicationController": true}

// hpaTargetMissing: a HorizontalPodAutoscaler must target a workload of
// its namespace (kube-score horizontalpodautoscaler-has-target, kube-linter
// dangling-horizontalpodautoscaler); otherwise it scales nothing, and the
// workload it was meant for runs unscaled.
func hpaTargetMissing() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/hpa-target-missing", Title: "Autoscaler targets a missing workload", Severity: finding.SeverityMedium,
		Description:     "A HorizontalPodAutoscaler whose scaleTargetRef names no existing workload scales nothing: the workload it was written for keeps its fixed replica count under load.",
		Remediation:     "Point scaleTargetRef at the workload's kind and name (and apiVersion).",
		RemediationYAML: "spec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: web",
		References:      []finding.Reference{ref("Kubernetes: Horizontal Pod Autoscaling", "https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/")}, Tags: tags,
		Inventory: func(c *rule.Context) []rule.Violation {
			exists := map[finding.ObjectRef]bool{}
			for _, t := range c.Inventory.PodTemplates() {
				exists[finding.ObjectRef{Kind: t.Ref.Kind, Namespace: t.Ref.Namespace, Name: t.Ref.Name}] = true
			}
			var out []rule.Violation
			for _, o := range c.Inventory.Objects {
				h, ok := o.Typed.(*autoscalingv2.HorizontalPodAutoscaler)
				if !ok {
					continue
				}
				t := h.Spec.ScaleTargetRef
				if t.Kind == "" || !scalableKinds[t.Kind] || exists[finding.ObjectRef{Kind: t.Kind, Namespace: o.Ref.Namespace, Name: t.Name}] {
					continue
				}
				out = append(out, rule.Violation{Object: o, Field: "spec.scaleTargetRef",
					Message: fmt.Sprintf("HorizontalPodAutoscaler %s targets %s %s, which is not in namespace %q", o.Ref.Name, t.Kind, t.Name, o.Ref.Namespace)})
			}
			return out
		},
	}
}
