package hardening

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// resourcesAlias is the single rule the four resource rules replace: it
// keeps selecting and exempting all four.
const resourcesAlias = "hardening/resources"

// cpuRequests, cpuLimits, memoryRequests, memoryLimits: every regular and
// init container must set a CPU request, a CPU limit, a memory request and
// a memory limit; a limit alone counts as the request (the API server
// copies it). A quantity of 0 counts as unset: the scheduler reserves
// nothing for it and the kubelet enforces no zero limit. Ephemeral
// containers cannot have resources and are skipped.
// One rule per resource and kind, because teams fix and exempt them
// separately: many deliberately run without CPU limits. On a 1-CPU edge
// node one unbounded container starves everything else, Palisade
// included.
//
// Each finding points at the container's resources field, as the former
// hardening/resources rule did, so baselines written for it still match.
func cpuRequests() *rule.Rule {
	return resourceRule("hardening/cpu-requests", "requests", corev1.ResourceCPU, finding.SeverityLow,
		"CPU request missing",
		"Without a CPU request the scheduler places the pod as if it needed no CPU, so nodes are overcommitted and the pod is the first to be starved under load.",
		"resources:\n  requests:\n    cpu: 100m")
}

func cpuLimits() *rule.Rule {
	return resourceRule("hardening/cpu-limits", "limits", corev1.ResourceCPU, finding.SeverityLow,
		"CPU limit missing",
		"Without a CPU limit a compromised or runaway container can use every idle CPU of the node; on small edge nodes that starves the other workloads. Teams that deliberately run without CPU limits exempt this rule alone.",
		"resources:\n  limits:\n    cpu: 500m")
}

func memoryRequests() *rule.Rule {
	return resourceRule("hardening/memory-requests", "requests", corev1.ResourceMemory, finding.SeverityLow,
		"Memory request missing",
		"Without a memory request the scheduler cannot place the pod safely and the kubelet evicts it first under memory pressure.",
		"resources:\n  requests:\n    memory: 128Mi")
}

func memoryLimits() *rule.Rule {
	return resourceRule("hardening/memory-limits", "limits", corev1.ResourceMemory, finding.SeverityMedium,
		"Memory limit missing",
		"Without a memory limit one compromised or leaking container can exhaust the node's memory (denial of service); the kernel's OOM killer then picks victims among every workload of the node.",
		"resources:\n  limits:\n    memory: 256Mi")
}

func resourceRule(id, kind string, name corev1.ResourceName, sev finding.Severity, title, description, fix string) *rule.Rule {
	field := kind + "." + string(name)
	unset := " sets no resources." + field // the message's constant parts, built once
	zero := " sets resources." + field + " to 0, which counts as unset"
	return &rule.Rule{
		ID:              id,
		Aliases:         []string{resourcesAlias},
		Title:           title,
		Severity:        sev,
		Description:     description,
		Remediation:     fmt.Sprintf("Set resources.%s on every container.", field),
		RemediationYAML: fix,
		References:      []finding.Reference{nsaGuide("Resource policies"), cis("5.6.x (general policies)")},
		Tags:            tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			var out []rule.Violation
			for _, c := range w.Containers() {
				if c.Ephemeral { // ephemeral containers cannot have resources
					continue
				}
				q, ok := c.Resources.Limits[name]
				if kind == "requests" {
					// An explicit request is what the scheduler counts; a
					// limit sets the request only when none is written.
					if r, set := c.Resources.Requests[name]; set {
						q, ok = r, true
					}
				}
				var msg string
				switch {
				case !ok:
					msg = "container " + strconv.Quote(c.Name) + unset
				case q.IsZero():
					// "0" is written but means nothing: the scheduler
					// reserves nothing and the kubelet sets no bound
					// (kube-linter and kube-score judge it unset too).
					msg = "container " + strconv.Quote(c.Name) + zero
				default:
					continue
				}
				out = append(out, rule.Violation{
					Message:   msg,
					Field:     w.Field(c.Path + ".resources"),
					Container: c.Name,
				})
			}
			return out
		},
	}
}
