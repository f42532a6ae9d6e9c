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
