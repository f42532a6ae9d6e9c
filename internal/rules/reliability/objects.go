package reliability

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// nakedPod: a Pod should be created by a controller (Kubescape C-0073): a
// bare Pod is not replaced when its node fails or it is evicted. Pods with
// a controller owner reference, and static pods (owned by their Node), are
// not reported.
func nakedPod() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/naked-pod", Title: "Pod without a controller", Severity: finding.SeverityLow,
		Description:     "A Pod created on its own is never recreated: a node failure, drain or eviction removes it for good, and nothing rolls out a new version.",
		Remediation:     "Run the pod through a Deployment (or a StatefulSet, DaemonSet or Job, as fits).",
		RemediationYAML: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers: [...]",
		References:      []finding.Reference{ref("Kubernetes: Pods, working with pods", "https://kubernetes.io/docs/concepts/workloads/pods/#working-with-pods")}, Tags: tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			if w.Ref.Kind != "Pod" || metav1.GetControllerOfNoCopy(w.Meta) != nil {
				return nil
			}
			return []rule.Violation{{Field: "metadata.name", Message: fmt.Sprintf("Pod %s has no controller: it is not recreated if its node fails", w.Ref.Name)}}
		},
	}
}

// selectorMismatch: a controller's selector must select its own pod
// template's labels (kube-linter mismatching-selector, kube-score
// *-pod-selector-labels-match-template-metadata-labels). The API server
// rejects such an object, so a manifest with it fails to apply.
func selectorMismatch() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/selector-mismatch", Title: "Selector does not match the pod template", Severity: finding.SeverityMedium,
		Description:     "A Deployment, StatefulSet, DaemonSet or ReplicaSet whose selector does not select its template's labels cannot manage its pods: the API server rejects it, so the rollout fails at apply time.",
		Remediation:     "Make spec.selector.matchLabels a subset of spec.template.metadata.labels.",
		RemediationYAML: "spec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web, tier: frontend}",
		References:      []finding.Reference{ref("Kubernetes: Deployments, selector", "https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#selector")}, Tags: tags,
		Object: func(_ *rule.Context, o *workload.Object) []rule.Violation {
			var sel *metav1.LabelSelector
			var tmpl map[string]string
			switch t := o.Typed.(type) {
			case *appsv1.Deployment:
				sel, tmpl = t.Spec.Selector, t.Spec.Template.Labels
			case *appsv1.StatefulSet:
				sel, tmpl = t.Spec.Selector, t.Spec.Template.Labels
			case *appsv1.DaemonSet:
				sel, tmpl = t.Spec.Selector, t.Spec.Template.Labels
			case *appsv1.ReplicaSet:
				sel, tmpl = t.Spec.Selector, t.Spec.Template.Labels
			default:
				return nil
			}
			if sel == nil {
				return []rule.Violation{{Field: "spec", Message: fmt.Sprintf("%s %s has no spec.selector", o.Ref.Kind, o.Ref.Name)}}
			}
			if selects(sel, tmpl) {
				return nil
			}
			return []rule.Violation{{Field: "spec.selector", Message: fmt.Sprintf("%s %s selector does not select its pod template's labels", o.Ref.Kind, o.Ref.Name)}}
		},
	}
}

// hpaReplicas: a Deployment or StatefulSet that an autoscaler scales
// should not set spec.replicas (kube-score
// deployment-targeted-by-hpa-does-not-have-replicas-configured): every
// apply resets the count to the manifest's, undoing the autoscaler until
// it reacts again.
func hpaReplicas() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/hpa-replicas", Title: "Autoscaled workload sets replicas", Severity: finding.SeverityLow,
		Description:     "When a HorizontalPodAutoscaler scales a workload, spec.replicas in the manifest fights it: each apply (every GitOps sync) sets the count back, scaling a loaded service down until the autoscaler catches up.",
		Remediation:     "Remove spec.replicas from the manifest; set the bounds in the autoscaler's minReplicas and maxReplicas.",
		RemediationYAML: "# Deployment: no spec.replicas\n# HorizontalPodAutoscaler:\nspec:\n  minReplicas: 2\n  maxReplicas: 10",
		References:      []finding.Reference{ref("Kubernetes: Horizontal Pod Autoscaling, migrating Deployments", "https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#migrating-deployments-and-statefulsets-to-horizontal-autoscaling")}, Tags: tags,
		Workload: func(c *rule.Context, w *workload.Workload) []rule.Violation {
			if w.Replicas == nil || w.Own != nil || !targetedByHPA(c.Inventory, w) {
				return nil
			}
			return []rule.Violation{{Field: "spec.replicas", Message: fmt.Sprintf("%s %s sets replicas: %d although a HorizontalPodAutoscaler scales it", w.Ref.Kind, w.Ref.Name, *w.Replicas)}}
		},
	}
}

// ingressMissingService: each backend of an Ingress must name a Service of
// its namespace, and a port that Service has (kube-score
// ingress-targets-service, kube-linter dangling-ingress). The input must
// hold the Services: a scan of one chart whose Service is elsewhere will
// report it, to be fixed or exempted.
func ingressMissingService() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/ingress-missing-service", Title: "Ingress routes to a missing Service or port", Severity: finding.SeverityMedium,
		Description:     "An Ingress backend that names a Service or port that does not exist answers every request for that path with an error (usually 503).",
		Remediation:     "Point the backend at an existing Service and one of its ports (by number or name).",
		RemediationYAML: "backend:\n  service:\n    name: web\n    port:\n      name: http",
		References:      []finding.Reference{ref("Kubernetes: Ingress, backends", "https://kubernetes.io/docs/concepts/services-networking/ingress/#ingress-rules")}, Tags: tags,
		Object: func(c *rule.Context, o *workload.Object) []rule.Violation {
			ing, ok := o.Typed.(*networkingv1.Ingress)
			if !ok {
				return nil
			}
			var out []rule.Violation
			check := func(b *networkingv1.IngressBackend, field string) {
				if b == nil || b.Service == nil {
					return
				}
				svc := findService(c.Inventory, o.Ref.Namespace, b.Service.Name)
				switch {
				case svc == nil:
					out = append(out, rule.Violation{Field: field + ".service.name", Message: fmt.Sprintf("backend Service %s is not in namespace %q", b.Service.Name, o.Ref.Namespace)})
				case !servicePort(svc, b.Service.Port):
					out = append(out, rule.Violation{Field: field + ".service.port", Message: fmt.Sprintf("Service %s has no port %s", b.Service.Name, portLabel(b.Service.Port))})
				}
			}
			check(ing.Spec.DefaultBackend, "spec.defaultBackend")
			for i, r := range ing.Spec.Rules {
				if r.HTTP == nil {
					continue
				}
				for j := range r.HTTP.Paths {
					check(&r.HTTP.Paths[j].Backend, fmt.Sprintf("spec.rules[%d].http.paths[%d].backend", i, j))
				}
			}
			return out
		},
	}
}

func findService(inv *workload.Inventory, namespace, name string) *corev1.Service {
	for _, s := range inv.Services {
		if s.Namespace == namespace && s.Name == name {
			return s.Service
		}
	}
	return nil
}

func servicePort(svc *corev1.Service, p networkingv1.ServiceBackendPort) bool {
	for _, sp := range svc.Spec.Ports {
		if (p.Name != "" && sp.Name == p.Name) || (p.Name == "" && sp.Port == p.Number) {
			return true
		}
	}
	return false
}

func portLabel(p networkingv1.ServiceBackendPort) string {
	if p.Name != "" {
		return fmt.Sprintf("%q", p.Name)
	}
	return fmt.Sprint(p.Number)
}

// cronJobDeadline: a CronJob should set startingDeadlineSeconds (kube-score
// cronjob-has-deadline): without it, a controller that was down or slow
// counts every missed schedule since the last run, and after 100 misses
// stops scheduling the job.
func cronJobDeadline() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/cronjob-deadline", Title: "CronJob without a starting deadline", Severity: finding.SeverityLow,
		Description:     "Without startingDeadlineSeconds the CronJob controller looks back at every schedule missed since the last run: after a control-plane outage it may start a late run at the wrong time, and with more than 100 misses it stops scheduling the job altogether.",
		Remediation:     "Set startingDeadlineSeconds to how late a run may still start.",
		RemediationYAML: "spec:\n  startingDeadlineSeconds: 300",
		References:      []finding.Reference{ref("Kubernetes: CronJob limitations", "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#cron-job-limitations")}, Tags: tags,
		Object: func(_ *rule.Context, o *workload.Object) []rule.Violation {
			cj, ok := o.Typed.(*batchv1.CronJob)
			if !ok || cj.Spec.StartingDeadlineSeconds != nil {
				return nil
			}
			return []rule.Violation{{Field: "spec.schedule", Message: fmt.Sprintf("CronJob %s sets no startingDeadlineSeconds", o.Ref.Name)}}
		},
	}
}

// recreateStrategy: a Deployment should roll out with RollingUpdate
// (kube-score deployment-strategy, kube-linter no-rolling-update-strategy):
// Recreate stops every old pod before starting new ones.
func recreateStrategy() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/recreate-strategy", Title: "Deployment replaced all at once", Severity: finding.SeverityLow,
		Description:     "The Recreate strategy terminates every replica before the new version starts: each rollout is an outage, and a new version that fails to start leaves nothing running.",
		Remediation:     "Use the RollingUpdate strategy; keep Recreate only where two versions must never run together, and exempt it with that reason.",
		RemediationYAML: "spec:\n  strategy:\n    type: RollingUpdate\n    rollingUpdate:\n      maxUnavailable: 0\n      maxSurge: 1",
		References:      []finding.Reference{ref("Kubernetes: Deployment strategy", "https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#strategy")}, Tags: tags,
		Object: func(_ *rule.Context, o *workload.Object) []rule.Violation {
			d, ok := o.Typed.(*appsv1.Deployment)
			if !ok || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
				return nil
			}
			return []rule.Violation{{Field: "spec.strategy.type", Message: fmt.Sprintf("Deployment %s uses the Recreate strategy", o.Ref.Name)}}
		},
	}
}

// missingServiceAccount: a pod's service account must exist in the input
// or cluster scanned (kube-linter non-existent-service-account); without
// it the API server refuses to create the pods. "default" always exists.
func missingServiceAccount() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/missing-service-account", Title: "Service account not found", Severity: finding.SeverityMedium,
		Description:     "Pods that name a service account the namespace does not have are rejected by the API server: the workload's pods are never created.",
		Remediation:     "Create the ServiceAccount with the workload (in the same manifests or chart), or name one that exists.",
		RemediationYAML: "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n  namespace: shop\nautomountServiceAccountToken: false",
		References:      []finding.Reference{ref("Kubernetes: Configure Service Accounts for Pods", "https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/")}, Tags: tags,
		Workload: func(c *rule.Context, w *workload.Workload) []rule.Violation {
			name := w.Spec.ServiceAccountName
			if name == "default" || c.Inventory.ServiceAccountFor(w) != nil {
				return nil
			}
			return []rule.Violation{{Field: w.Field("serviceAccountName"), Message: fmt.Sprintf("service account %q is not in namespace %q", name, w.Namespace())}}
		},
	}
}
