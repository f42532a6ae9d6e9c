package hardening

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// capabilitiesRestrictedID is the restricted Pod Security control that
// reports kept capabilities where the restricted level applies.
const capabilitiesRestrictedID = "pss/capabilities-restricted"

// runtimeDefaultCapabilities are the capabilities Docker and containerd
// grant a container that drops nothing (moby's and containerd's default
// set, which Polaris' insecureCapabilities lists too).
func runtimeDefaultCapabilities() []string {
	return []string{"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
		"NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
}

// defaultCapabilitiesKept: every Linux container (init, regular or
// ephemeral) should drop ALL capabilities, or each capability the
// runtime grants by default (Polaris insecureCapabilities). Dropping only
// NET_RAW, or SYS_ADMIN, leaves CHOWN, DAC_OVERRIDE, FOWNER, SETUID,
// SETGID and the rest: a process that becomes root in the container can
// still read and change any file of its file system and of its volumes,
// whatever their owner. Where the restricted Pod Security level applies
// pss/capabilities-restricted (MEDIUM, drop ALL) reports this; this rule
// reports it at the baseline and privileged levels, at the same severity,
// and stays silent where that control reports (so the risk is reported
// once at every level). Capabilities added back are
// hardening/dangerous-capabilities'; Windows pods have no Linux
// capabilities.
func defaultCapabilitiesKept() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/default-capabilities-kept",
		Title:           "Runtime's default capabilities kept",
		Severity:        finding.SeverityMedium,
		Description:     "Container runtimes grant a container fourteen capabilities unless it drops them: CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, NET_RAW, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT and AUDIT_WRITE. Dropping some by name (NET_RAW alone is common) keeps the others: a process running as root in the container still bypasses file permissions, changes owners, switches users and crafts raw packets if NET_RAW is among them. The restricted Pod Security profile requires drop ALL; this rule reports the same risk, at the same severity, where that profile is not applied.",
		Remediation:     "Drop ALL capabilities in the container's securityContext and add back only what the process needs (usually nothing, at most NET_BIND_SERVICE).",
		RemediationYAML: "securityContext:\n  capabilities:\n    drop: [\"ALL\"]",
		References: []finding.Reference{
			{Title: "Kubernetes: Set capabilities for a Container", URL: "https://kubernetes.io/docs/tasks/configure-pod-container/security-context/#set-capabilities-for-a-container"},
			{Title: "Pod Security Standards, restricted: Capabilities", URL: "https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted"},
			cis("5.2.9"), nsaGuide("Pod security"),
		},
		Tags: tags,
		Workload: func(ctx *rule.Context, w *workload.Workload) []rule.Violation {
			if w.Spec.OS != nil && w.Spec.OS.Name == corev1.Windows {
				return nil
			}
			if ps := ctx.PodSecurityFor(w.Namespace()); ps.Applies(rule.LevelRestricted) && ctx.Selected(capabilitiesRestrictedID) {
				return nil // the restricted control reports it
			}
			var out []rule.Violation
			for _, c := range w.Containers() {
				kept, field := keptDefaults(c.Container)
				if len(kept) == 0 {
					continue
				}
				out = append(out, rule.Violation{Container: c.Name, Field: w.Field(c.Path + field),
					Message: fmt.Sprintf("container %q keeps the runtime's default capabilities %s (drop ALL)", c.Name, listOf(kept))})
			}
			return out
		},
	}
}

// keptDefaults returns the runtime default capabilities a container does
// not drop (none when it drops ALL), with the field to point at.
func keptDefaults(c *corev1.Container) ([]string, string) {
	field := ".securityContext"
	var drop []corev1.Capability
	if sc := c.SecurityContext; sc == nil {
		field = ""
	} else if sc.Capabilities != nil {
		field, drop = ".securityContext.capabilities", sc.Capabilities.Drop
	}
	dropped := make(map[string]bool, len(drop))
	for _, d := range drop {
		n := capName(d)
		if n == "ALL" {
			return nil, ""
		}
		dropped[n] = true
	}
	var kept []string
	for _, name := range runtimeDefaultCapabilities() {
		if !dropped[name] {
			kept = append(kept, name)
		}
	}
	return kept, field
}

// listOf writes at most four names, then how many more.
func listOf(names []string) string {
	if len(names) <= 4 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:4], ", "), len(names)-4)
}
