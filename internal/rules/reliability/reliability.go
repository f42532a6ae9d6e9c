// Package reliability holds the rules about keeping workloads available
// and their objects consistent, which Polaris, kube-score and kube-linter
// check beside security: probes, replicas, disruption budgets and
// autoscalers, spreading, pull policy, priority, and references between
// objects (a Service or Ingress pointing at nothing, a selector that does
// not match its template). They carry the tag "reliability" only: they are
// selectable (--rules reliability) and never part of the default security
// gate (see rules.DefaultSelectors). Severity follows what the mistake
// costs: LOW for hygiene, MEDIUM where it breaks traffic or node
// maintenance. One rule (or a small family) per file, each opening with its
// contract. KubeLinterRules are kube-linter's opt-in conventions (owner
// metadata, node affinity, DNS options, Job clean-up), tagged
// "kube-linter" only: outside the default gate and --rules reliability
// alike (kubelinter.go).
package reliability

import (
	"k8s.io/apimachinery/pkg/labels"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// Tag selects these rules.
const Tag = "reliability"

var tags = []string{Tag}

// Rules returns the reliability rules.
func Rules() []*rule.Rule {
	return []*rule.Rule{
		livenessProbe(),
		readinessProbe(),
		probePort(),
		probesIdentical(),
		imagePullPolicy(),
		priorityClass(),
		singleReplica(),
		noPDB(),
		pdbBlocksEviction(),
		pdbMinAvailable(),
		noAntiAffinity(),
		noTopologySpread(),
		nakedPod(),
		selectorMismatch(),
		duplicateEnv(),
		hpaReplicas(),
		ingressMissingService(),
		cronJobDeadline(),
		recreateStrategy(),
		missingServiceAccount(),
		ephemeralStorage(),
		serviceNoPods(),
		networkPolicyNoPods(),
		hpaTargetMissing(),
		hpaReplicaRange(),
		serviceReadinessProbe(),
		invalidPortName(),
		statefulSetServiceName(),
		deprecatedServiceAccountField(),
		restartPolicy(),
		nameLabelMismatch("reliability/name-label-mismatch", "app.kubernetes.io/name"),
		nameLabelMismatch("reliability/instance-label-mismatch", "app.kubernetes.io/instance"),
		pdbUnhealthyPodEviction(),
		topologySpreadInvalid(),
		invalidLabelValue(),
		jobRestartPolicy(),
		deprecatedRegistry(),
		cpuRequestsEqualLimits(),
		memoryRequestsEqualLimits(),
		ephemeralStorageRequestEqualsLimit(),
	}
}

func ref(title, url string) finding.Reference { return finding.Reference{Title: title, URL: url} }

var (
	refProbes   = ref("Kubernetes: Configure Liveness, Readiness and Startup Probes", "https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/")
	refPDB      = ref("Kubernetes: Specifying a Disruption Budget for your Application", "https://kubernetes.io/docs/tasks/run-application/configure-pdb/")
	refSpread   = ref("Kubernetes: Pod Topology Spread Constraints", "https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/")
	refAffinity = ref("Kubernetes: Inter-pod affinity and anti-affinity", "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#inter-pod-affinity-and-anti-affinity")
)

// serving reports a workload that runs long-lived pods (not a Job or
// CronJob, whose pods run to completion and are not probed for traffic).
func serving(w *workload.Workload) bool {
	switch w.Ref.Kind {
	case "Job", "CronJob":
		return false
	}
	return true
}

// selects reports whether a label selector selects a pod's labels; an
// invalid selector selects nothing, and a nil one too (the API's meaning
// for PodDisruptionBudget and workload selectors that are required).
func selects(sel *metav1.LabelSelector, podLabels map[string]string) bool {
	if sel == nil {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	return s.Matches(labels.Set(podLabels))
}

// targetedByHPA reports whether an autoscaler in the workload's namespace
// scales it (by kind and name).
func targetedByHPA(inv *workload.Inventory, w *workload.Workload) bool {
	for _, h := range inv.HorizontalPodAutoscalers {
		t := h.Spec.ScaleTargetRef
		if h.Namespace == w.Namespace() && t.Kind == w.Ref.Kind && t.Name == w.Ref.Name {
			return true
		}
	}
	return false
}

// multiReplica reports a workload that runs, or may be scaled to, more
// than one replica.
func multiReplica(inv *workload.Inventory, w *workload.Workload) bool {
	return w.Scaled && (w.ReplicaCount() > 1 || targetedByHPA(inv, w))
}
