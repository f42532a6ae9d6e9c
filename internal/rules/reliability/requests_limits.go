package reliability

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// requestsEqualLimits: every init and regular container should request
// exactly what it is limited to for one resource (kube-score's optional
// container-cpu-requests-equal-limits, container-memory-requests-equal-limits
// and container-ephemeral-storage-request-equals-limit; its
// container-resource-requests-equal-limits is the CPU and memory rules
// together). A container whose request is below its limit is scheduled
// for the request and may use up to the limit: the node is overcommitted,
// and under pressure the kubelet throttles it (CPU) or evicts and
// OOM-kills it (memory, ephemeral storage) before the pods that stay
// within their requests. As in kube-score, a container that requests the
// resource without a limit is reported (its request cannot equal a limit
// it does not have), one that sets neither passes (nothing to compare:
// missing requests and limits have their own rules), and a request left
// unset while the limit is set passes, since the API server defaults the
// request to the limit. Ephemeral storage, as kube-score does, is judged
// only when both are set (bothSet). Ephemeral containers have no
// resources.
func requestsEqualLimits(id, title string, res corev1.ResourceName, bothSet bool, why, example string) *rule.Rule {
	return &rule.Rule{
		ID: id, Title: title, Severity: finding.SeverityLow,
		Description:     why,
		Remediation:     fmt.Sprintf("Set resources.requests.%s equal to resources.limits.%[1]s (or leave the request out: it then defaults to the limit).", res),
		RemediationYAML: example,
		References:      []finding.Reference{ref("Kubernetes: Pod Quality of Service classes", "https://kubernetes.io/docs/concepts/workloads/pods/pod-qos/")}, Tags: tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			var out []rule.Violation
			for _, c := range w.Containers() {
				if c.Ephemeral {
					continue
				}
				limit, hasLimit := c.Resources.Limits[res]
				req, hasRequest := c.Resources.Requests[res]
				if !hasLimit {
					if hasRequest && !bothSet {
						out = append(out, rule.Violation{Container: c.Name, Field: w.Field(c.Path + ".resources"),
							Message: fmt.Sprintf("container %q requests %s %s but sets no %[3]s limit", c.Name, req.String(), res)})
					}
					continue
				}
				if hasRequest && req.Cmp(limit) != 0 {
					out = append(out, rule.Violation{Container: c.Name, Field: w.Field(c.Path + ".resources.requests." + string(res)),
						Message: fmt.Sprintf("container %q requests %s %s but is limited to %s", c.Name, req.String(), res, limit.String())})
				}
			}
			return out
		},
	}
}

func cpuRequestsEqualLimits() *rule.Rule {
	return requestsEqualLimits("reliability/cpu-requests-equal-limits", "CPU request differs from the CPU limit", corev1.ResourceCPU, false,
		"A container that requests less CPU than its limit is scheduled for the request and may burst to the limit: when its neighbours burst too, the node has less CPU than its pods were promised and the kernel throttles them, which shows as latency no dashboard of the pod's own usage explains. Equal requests and limits (with memory, the Guaranteed QoS class) make the CPU it gets the CPU it was scheduled for.",
		"resources:\n  requests:\n    cpu: 500m\n  limits:\n    cpu: 500m")
}

func memoryRequestsEqualLimits() *rule.Rule {
	return requestsEqualLimits("reliability/memory-requests-equal-limits", "Memory request differs from the memory limit", corev1.ResourceMemory, false,
		"A container that requests less memory than its limit is scheduled for the request and may grow to the limit: the node is overcommitted, and under memory pressure the kubelet evicts, and the kernel OOM-kills, the pods above their requests first. Equal requests and limits make the memory it may use memory the node set aside for it.",
		"resources:\n  requests:\n    memory: 256Mi\n  limits:\n    memory: 256Mi")
}

func ephemeralStorageRequestEqualsLimit() *rule.Rule {
	return requestsEqualLimits("reliability/ephemeral-storage-request-equals-limit", "Ephemeral storage request differs from its limit", corev1.ResourceEphemeralStorage, true,
		"A container that requests less ephemeral storage than its limit is placed on a node for the request and may write up to the limit: the node's disk is overcommitted, and when it fills the kubelet evicts pods of every workload on it.",
		"resources:\n  requests:\n    ephemeral-storage: 1Gi\n  limits:\n    ephemeral-storage: 1Gi")
}
