package hardening

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// resources: every regular and init container must set CPU and memory
// requests and a memory limit, and a CPU limit. On a 1-CPU edge node one
// unbounded container starves everything else, Palisade included.
func resources() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/resources",
		Title:           "CPU or memory requests/limits missing",
		Severity:        finding.SeverityMedium,
		Description:     "Without requests the scheduler cannot place the pod safely; without limits one compromised or buggy container can exhaust a node's CPU or memory (denial of service), which on small edge nodes takes down every workload.",
		Remediation:     "Set requests and limits for cpu and memory on every container.",
		RemediationYAML: "resources:\n  requests:\n    cpu: 100m\n    memory: 128Mi\n  limits:\n    cpu: 500m\n    memory: 256Mi",
		References:      []finding.Reference{nsaGuide("Resource policies"), cis("5.7.x (general policies)")},
		Tags:            tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			var out []rule.Violation
			for _, c := range workload.Containers(w.Spec) {
				if c.Path[0] == 'e' { // ephemeral containers cannot have resources
					continue
				}
				var missing []string
				for _, need := range []struct {
					list corev1.ResourceList
					kind string
					name corev1.ResourceName
				}{
					{c.Resources.Requests, "requests", corev1.ResourceCPU},
					{c.Resources.Requests, "requests", corev1.ResourceMemory},
					{c.Resources.Limits, "limits", corev1.ResourceCPU},
					{c.Resources.Limits, "limits", corev1.ResourceMemory},
				} {
					if _, ok := need.list[need.name]; !ok {
						// A limit alone also sets the request.
						if need.kind == "requests" {
							if _, ok := c.Resources.Limits[need.name]; ok {
								continue
							}
						}
						missing = append(missing, need.kind+"."+string(need.name))
					}
				}
				if len(missing) > 0 {
					out = append(out, rule.Violation{
						Message:   fmt.Sprintf("container %q sets no %s", c.Name, strings.Join(missing, ", ")),
						Field:     w.Field(c.Path + ".resources"),
						Container: c.Name,
					})
				}
			}
			return out
		},
	}
}
