package hardening

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// noLinuxHardening: every Linux container (init, regular or ephemeral)
// should use at least one of the kernel's confinement mechanisms (Polaris
// linuxHardening): a seccomp profile, an AppArmor profile, SELinux options
// or dropped capabilities. Each is judged at the container level with the
// pod level as fallback, the way the kubelet applies them; a seccomp or
// AppArmor profile of type Unconfined (or the annotation value
// "unconfined") does not count. This is deliberately weaker than the
// restricted Pod Security controls (pss/seccomp-profile-restricted,
// pss/capabilities-restricted), which require specific settings: this
// rule reports only the container that has no confinement at all, which
// those controls cannot tell from one that has chosen another mechanism.
// Windows pods have none of these mechanisms and are not judged.
func noLinuxHardening() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/no-linux-hardening",
		Title:           "No seccomp, AppArmor, SELinux or dropped capability",
		Severity:        finding.SeverityMedium,
		Description:     "A container with no seccomp profile, no AppArmor profile, no SELinux options and no dropped capability runs with every system call and every default capability the runtime grants: nothing but the namespaces stands between a compromised process and the node's kernel.",
		Remediation:     "Set a seccomp profile (RuntimeDefault), and drop the capabilities the process does not need; an AppArmor profile or SELinux options also confine it.",
		RemediationYAML: "securityContext:\n  seccompProfile:\n    type: RuntimeDefault\n  capabilities:\n    drop: [\"ALL\"]",
		References: []finding.Reference{
			{Title: "Kubernetes: Security context, Linux kernel security constraints", URL: "https://kubernetes.io/docs/concepts/security/linux-kernel-security-constraints/"},
			{Title: "Kubernetes: Restrict a Container's Syscalls with seccomp", URL: "https://kubernetes.io/docs/tutorials/security/seccomp/"},
			nsaGuide("Pod security"),
		},
		Tags: tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			if w.Spec.OS != nil && w.Spec.OS.Name == corev1.Windows {
				return nil
			}
			var out []rule.Violation
			for _, c := range w.Containers() {
				if hardened(w.Spec.SecurityContext, w.PodMeta.Annotations, c.Container) {
					continue
				}
				field := c.Path
				if c.SecurityContext != nil {
					field += ".securityContext"
				}
				out = append(out, rule.Violation{Container: c.Name, Field: w.Field(field),
					Message: fmt.Sprintf("container %q uses no seccomp profile, AppArmor profile, SELinux options or dropped capability", c.Name)})
			}
			return out
		},
	}
}

// hardened reports whether a container, with its pod's security context
// and annotations, uses any of seccomp, AppArmor, SELinux or dropped
// capabilities.
func hardened(pod *corev1.PodSecurityContext, annotations map[string]string, c *corev1.Container) bool {
	sc := c.SecurityContext
	if sc != nil && sc.Capabilities != nil && len(sc.Capabilities.Drop) > 0 {
		return true
	}
	if sc != nil && sc.SELinuxOptions != nil && *sc.SELinuxOptions != (corev1.SELinuxOptions{}) {
		return true
	}
	if pod != nil && pod.SELinuxOptions != nil && *pod.SELinuxOptions != (corev1.SELinuxOptions{}) {
		return true
	}
	// The container's own profile overrides the pod's, so an Unconfined
	// container profile is unconfined whatever the pod sets.
	switch {
	case sc != nil && sc.SeccompProfile != nil:
		if sc.SeccompProfile.Type != corev1.SeccompProfileTypeUnconfined {
			return true
		}
	case pod != nil && pod.SeccompProfile != nil:
		if pod.SeccompProfile.Type != corev1.SeccompProfileTypeUnconfined {
			return true
		}
	}
	if v, ok := annotations["container.apparmor.security.beta.kubernetes.io/"+c.Name]; ok {
		return !strings.EqualFold(strings.TrimSpace(v), "unconfined")
	}
	switch {
	case sc != nil && sc.AppArmorProfile != nil:
		return sc.AppArmorProfile.Type != corev1.AppArmorProfileTypeUnconfined
	case pod != nil && pod.AppArmorProfile != nil:
		return pod.AppArmorProfile.Type != corev1.AppArmorProfileTypeUnconfined
	}
	return false
}
