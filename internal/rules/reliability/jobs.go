package reliability

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// jobRestartPolicy: the pod template of a Job or CronJob must set
// restartPolicy OnFailure or Never (kube-score cronjob-restartpolicy).
// Unset, the pod default is Always, which a Job does not accept: the API
// server rejects the object, so the manifest fails to apply and the job
// never runs.
func jobRestartPolicy() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/job-restart-policy", Title: "Job pod template without OnFailure or Never restart policy", Severity: finding.SeverityMedium,
		Description:     "A Job's pods run to completion, so their restartPolicy must be OnFailure or Never. Left unset it defaults to Always, which the API server refuses for a Job or CronJob: the object is rejected at apply time and the job never runs.",
		Remediation:     "Set restartPolicy: OnFailure (the kubelet retries the container in place) or Never (the Job controller creates a new pod, up to backoffLimit).",
		RemediationYAML: "spec:\n  template:\n    spec:\n      restartPolicy: OnFailure",
		References:      []finding.Reference{ref("Kubernetes: Jobs, pod template", "https://kubernetes.io/docs/concepts/workloads/controllers/job/#pod-template")}, Tags: tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			if serving(w) {
				return nil
			}
			switch w.Spec.RestartPolicy {
			case corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever:
				return nil
			case "":
				return []rule.Violation{{Field: w.Field("restartPolicy"), Message: fmt.Sprintf("%s %s sets no restartPolicy; the default, Always, is not allowed for a Job", w.Ref.Kind, w.Ref.Name)}}
			}
			return []rule.Violation{{Field: w.Field("restartPolicy"), Message: fmt.Sprintf("%s %s sets restartPolicy %s; a Job allows only OnFailure or Never", w.Ref.Kind, w.Ref.Name, w.Spec.RestartPolicy)}}
		},
	}
}

// restartPolicy: a long-running workload's pods must restart their
// containers when they stop (kube-linter restart-policy). The
// controllers (Deployment, StatefulSet, DaemonSet, ReplicaSet,
// ReplicationController) accept only Always, so any other value is
// rejected at apply time (and some templating tools drop it silently,
// leaving the author believing it applies). A bare Pod accepts
// OnFailure and Never; Never leaves a crashed container down for good,
// so it is reported, and OnFailure (which restarts on a crash) passes.
// Unset means Always and passes. Jobs and CronJobs are
// reliability/job-restart-policy's.
func restartPolicy() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/restart-policy", Title: "Long-running workload does not restart its containers", Severity: finding.SeverityMedium,
		Description:     "A Deployment, StatefulSet, DaemonSet, ReplicaSet or ReplicationController accepts only restartPolicy Always: any other value makes the API server reject the manifest. A bare Pod with Never leaves its containers down after their first crash or exit, and nothing recreates it.",
		Remediation:     "Remove restartPolicy from the template (it defaults to Always) or set it to Always; for a one-shot task use a Job.",
		RemediationYAML: "spec:\n  template:\n    spec:\n      restartPolicy: Always",
		References:      []finding.Reference{ref("Kubernetes: Pod lifecycle, container restart policy", "https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#restart-policy")}, Tags: tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			p := w.Spec.RestartPolicy
			if !serving(w) || p == "" || p == corev1.RestartPolicyAlways {
				return nil
			}
			if w.Ref.Kind == "Pod" {
				if p == corev1.RestartPolicyOnFailure {
					return nil
				}
				return []rule.Violation{{Field: w.Field("restartPolicy"), Message: fmt.Sprintf("Pod %s sets restartPolicy %s: its containers stay down once they stop", w.Ref.Name, p)}}
			}
			return []rule.Violation{{Field: w.Field("restartPolicy"), Message: fmt.Sprintf("%s %s sets restartPolicy %s; a %s accepts only Always", w.Ref.Kind, w.Ref.Name, p, w.Ref.Kind)}}
		},
	}
}
