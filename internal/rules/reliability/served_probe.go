package reliability

import (
	"fmt"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// serviceReadinessProbe: a long-running pod that a Service of its
// namespace selects must have a readiness probe on at least one of its
// long-running containers (kube-score pod-probes): the Service's endpoints
// follow readiness, so without a probe traffic reaches the pod before it
// can answer and while it shuts down. Pods no Service selects, Jobs and
// CronJobs pass: for them readiness routes nothing. This is narrower and
// more severe than readiness-probe, which asks every container for one.
func serviceReadinessProbe() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/service-readiness-probe", Title: "Pod behind a Service has no readiness probe", Severity: finding.SeverityMedium,
		Description:     "A Service sends traffic to every selected pod that is ready, and a pod without a readiness probe is ready as soon as its containers start: requests reach it before it can answer, and keep reaching it while it is overloaded or shutting down. Every rollout and restart shows errors to clients.",
		Remediation:     "Add a readinessProbe to the container that serves the Service's port.",
		RemediationYAML: "readinessProbe:\n  httpGet:\n    path: /ready\n    port: http\n  periodSeconds: 5",
		References:      []finding.Reference{refProbes}, Tags: tags,
		Workload: func(c *rule.Context, w *workload.Workload) []rule.Violation {
			if !serving(w) || w.PodMeta == nil {
				return nil
			}
			svc := selectingService(c.Inventory, w)
			if svc == "" {
				return nil
			}
			// The finding points at the first regular container, or at a
			// sidecar when the pod has no regular container.
			first, firstInit := "", false
			for _, ct := range w.Containers() {
				if ct.Ephemeral || (ct.Init && !restartable(ct.Container)) {
					continue
				}
				if ct.ReadinessProbe != nil {
					return nil
				}
				if first == "" || (firstInit && !ct.Init) {
					first, firstInit = ct.Path, ct.Init
				}
			}
			if first == "" {
				return nil
			}
			return []rule.Violation{{Field: w.Field(first), Message: fmt.Sprintf("Service %s selects the pods of %s %s, but none of its containers has a readinessProbe", svc, w.Ref.Kind, w.Ref.Name)}}
		},
	}
}

// selectingService returns the name of a Service of the workload's
// namespace whose selector selects its pod template, or "".
func selectingService(inv *workload.Inventory, w *workload.Workload) string {
	for _, s := range inv.Services {
		if s.Namespace != w.Namespace() || len(s.Spec.Selector) == 0 {
			continue
		}
		if labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(w.PodMeta.Labels)) {
			return s.Name
		}
	}
	return ""
}
