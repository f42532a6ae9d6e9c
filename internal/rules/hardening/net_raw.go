package hardening

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// netRawNotDropped: every Linux container (init, regular or ephemeral)
// should drop NET_RAW, by name or with ALL (kube-linter
// drop-net-raw-capability). Docker and containerd grant it by default,
// and the Pod Security baseline allows it; with it a process can craft
// raw packets: spoof ARP and DNS answers to neighbour pods, sniff what
// the node's bridge lets through. A container that adds NET_RAW is
// hardening/dangerous-capabilities' finding (an added capability is
// granted whatever is dropped), so it is not reported here; nor are
// Windows pods, which have no Linux capabilities. Names are compared as
// the runtimes read them: any case, optional CAP_ prefix.
func netRawNotDropped() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/net-raw-not-dropped",
		Title:           "NET_RAW capability not dropped",
		Severity:        finding.SeverityLow,
		Description:     "Container runtimes grant NET_RAW by default, and the Pod Security baseline allows it. It lets a compromised process craft raw packets: answer ARP and DNS queries in place of its neighbours, sniff traffic on the node's bridge, send ICMP floods. Almost no application needs it (ping is the usual exception).",
		Remediation:     "Drop ALL capabilities (or at least NET_RAW) in the container's securityContext, and add back only what the process needs.",
		RemediationYAML: "securityContext:\n  capabilities:\n    drop: [\"ALL\"]",
		References: []finding.Reference{
			{Title: "Kubernetes: Set capabilities for a Container", URL: "https://kubernetes.io/docs/tasks/configure-pod-container/security-context/#set-capabilities-for-a-container"},
			{Title: "capabilities(7): CAP_NET_RAW", URL: "https://man7.org/linux/man-pages/man7/capabilities.7.html"},
			cis("5.2.8"), nsaGuide("Pod security"),
		},
		Tags: tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			if w.Spec.OS != nil && w.Spec.OS.Name == corev1.Windows {
				return nil
			}
			var out []rule.Violation
			for _, c := range w.Containers() {
				field, ok := netRawKept(c.Container)
				if !ok {
					continue
				}
				out = append(out, rule.Violation{Container: c.Name, Field: w.Field(c.Path + field),
					Message: fmt.Sprintf("container %q does not drop NET_RAW (drop it, or ALL)", c.Name)})
			}
			return out
		},
	}
}

// netRawKept reports a container that neither drops NET_RAW (or ALL) nor
// adds it, with the field to point at, relative to the container.
func netRawKept(c *corev1.Container) (string, bool) {
	sc := c.SecurityContext
	if sc == nil {
		return "", true
	}
	if sc.Capabilities == nil {
		return ".securityContext", true
	}
	for _, name := range sc.Capabilities.Add {
		if capName(name) == "NET_RAW" || capName(name) == "ALL" {
			return "", false
		}
	}
	for _, name := range sc.Capabilities.Drop {
		if n := capName(name); n == "NET_RAW" || n == "ALL" {
			return "", false
		}
	}
	return ".securityContext.capabilities", true
}

// capName is a capability as the runtimes read it: upper case, no CAP_.
func capName(name corev1.Capability) string {
	return strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(string(name))), "CAP_")
}
