package hardening

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// DangerousCapabilitiesID is the rule that reports dangerous added
// capabilities, HIGH at every Pod Security level, beside the Pod Security
// capability controls (which keep their upstream verdicts).
const DangerousCapabilitiesID = "hardening/dangerous-capabilities"

// dangerousCapabilities are the capabilities whose addition hands a
// container power over the node or its neighbours, whatever the Pod
// Security level. The list is the Kubescape "insecure capabilities" set
// (ALL, SYS_ADMIN, NET_ADMIN, NET_RAW, SYS_MODULE, SYS_RAWIO, SYS_PTRACE,
// SYS_BOOT, MAC_ADMIN, MAC_OVERRIDE, PERFMON, BPF) without SETPCAP, which
// Docker grants by default and the Pod Security baseline allows, plus
// DAC_READ_SEARCH (read any host file through open_by_handle_at, the
// "shocker" escape) and SYS_TIME (the clock is the node's, not the
// container's). NET_RAW is in Docker's default set but not in the Pod
// Security baseline's: it allows ARP and DNS spoofing of neighbour pods.
// SETUID, SETGID and the other capabilities the baseline allows are left
// to the restricted profile's "drop ALL" control.
var dangerousCapabilities = map[string]bool{
	"ALL": true, "SYS_ADMIN": true, "NET_ADMIN": true, "NET_RAW": true,
	"SYS_PTRACE": true, "SYS_MODULE": true, "SYS_RAWIO": true, "SYS_BOOT": true,
	"SYS_TIME": true, "DAC_READ_SEARCH": true, "BPF": true, "PERFMON": true,
	"MAC_ADMIN": true, "MAC_OVERRIDE": true,
}

// dangerousCapability reports whether a capability name, as written in a
// manifest, is dangerous. The container runtimes accept any case and an
// optional CAP_ prefix, so "cap_sys_admin" and "SYS_ADMIN" are the same.
func dangerousCapability(name corev1.Capability) bool {
	return dangerousCapabilities[capName(name)]
}

// dangerousAdds returns the indexes in capabilities.add of a container's
// dangerous capabilities.
func dangerousAdds(c *corev1.Container) []int {
	if c.SecurityContext == nil || c.SecurityContext.Capabilities == nil {
		return nil
	}
	var out []int
	for i, name := range c.SecurityContext.Capabilities.Add {
		if dangerousCapability(name) {
			out = append(out, i)
		}
	}
	return out
}

// dangerousCaps: no container (init, regular or ephemeral) may add a
// dangerous capability to its securityContext.capabilities.add, whatever
// it drops (an added capability is granted even with drop: [ALL]). One
// finding per container, at its first dangerous capability, naming them
// as the manifest writes them. It applies at every Pod Security level,
// the privileged one included (severity follows the risk, not the
// profile), and is suppressed like the capability controls in a
// namespace labelled privileged.
func dangerousCaps() *rule.Rule {
	return &rule.Rule{
		ID:              DangerousCapabilitiesID,
		Title:           "Dangerous capabilities added",
		Severity:        finding.SeverityHigh,
		Description:     "Capabilities such as SYS_ADMIN, NET_ADMIN, NET_RAW, SYS_PTRACE, SYS_MODULE, DAC_READ_SEARCH or BPF (or ALL) give the container powers over the kernel, the node's network or other processes: mounting file systems, loading kernel modules, sniffing and spoofing neighbour traffic, reading any host file. Most container escapes start from one of them. This rule reports them, HIGH, at every Pod Security level (the privileged one included), as its own finding that can be fixed or exempted apart; the Pod Security capability controls report them too, with their upstream verdicts.",
		Remediation:     "Remove the capability from capabilities.add; drop ALL and add back only what the process needs (usually NET_BIND_SERVICE at most).",
		RemediationYAML: "securityContext:\n  capabilities:\n    drop: [\"ALL\"]\n    add: [\"NET_BIND_SERVICE\"]   # only if binding a port below 1024",
		References: []finding.Reference{
			{Title: "Pod Security Standards, baseline: Capabilities", URL: "https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline"},
			{Title: "capabilities(7)", URL: "https://man7.org/linux/man-pages/man7/capabilities.7.html"},
			cis("5.2.8, 5.2.9"), nsaGuide("Pod security"),
		},
		Tags: tags,
		Workload: func(ctx *rule.Context, w *workload.Workload) []rule.Violation {
			ps := ctx.PodSecurityFor(w.Namespace())
			var out []rule.Violation
			for _, c := range w.Containers() {
				idx := dangerousAdds(c.Container)
				if len(idx) == 0 {
					continue
				}
				add := c.SecurityContext.Capabilities.Add
				names := make([]string, len(idx))
				for i, j := range idx {
					names[i] = string(add[j])
				}
				out = append(out, rule.Violation{
					Message:     fmt.Sprintf("container %q adds dangerous capabilities: %s", c.Name, strings.Join(names, ", ")),
					Field:       w.Field(fmt.Sprintf("%s.securityContext.capabilities.add[%d]", c.Path, idx[0])),
					Container:   c.Name,
					Suppression: ps.Suppression,
				})
			}
			return out
		},
	}
}
