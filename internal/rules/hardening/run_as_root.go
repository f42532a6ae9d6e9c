package hardening

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// RunAsRootID is the rule that reports containers explicitly set to run as
// root; the Pod Security runAsUser and runAsNonRoot controls leave those
// settings to it.
const RunAsRootID = "hardening/run-as-root"

// rootSetting is the setting that makes a container run as root.
type rootSetting struct {
	// pod is true when the container inherits it from the pod's
	// securityContext.
	pod bool
	// field is "runAsUser" (set to 0) or "runAsNonRoot" (set to false,
	// with no runAsUser anywhere).
	field string
}

// explicitRoot returns the setting that explicitly runs a container as
// root, if any. The container's securityContext overrides the pod's, field
// by field, as the kubelet applies them. runAsNonRoot: false with a
// non-zero runAsUser does not run as root. Not reported: Windows pods
// (runAsUser does not apply) and pods in a user namespace (hostUsers:
// false), where UID 0 is not root on the node.
func explicitRoot(spec *corev1.PodSpec, c *corev1.Container) (rootSetting, bool) {
	if (spec.OS != nil && spec.OS.Name == corev1.Windows) || (spec.HostUsers != nil && !*spec.HostUsers) {
		return rootSetting{}, false
	}
	var csc corev1.SecurityContext
	if c.SecurityContext != nil {
		csc = *c.SecurityContext
	}
	var psc corev1.PodSecurityContext
	if spec.SecurityContext != nil {
		psc = *spec.SecurityContext
	}
	switch {
	case csc.RunAsUser != nil:
		if *csc.RunAsUser == 0 {
			return rootSetting{field: "runAsUser"}, true
		}
		return rootSetting{}, false
	case psc.RunAsUser != nil:
		if *psc.RunAsUser == 0 {
			return rootSetting{pod: true, field: "runAsUser"}, true
		}
		return rootSetting{}, false
	case csc.RunAsNonRoot != nil:
		return rootSetting{field: "runAsNonRoot"}, !*csc.RunAsNonRoot
	case psc.RunAsNonRoot != nil:
		return rootSetting{pod: true, field: "runAsNonRoot"}, !*psc.RunAsNonRoot
	}
	return rootSetting{}, false
}

// runAsRoot: no container (init, regular or ephemeral) may be explicitly
// set to run as root: an effective runAsUser: 0, or an effective
// runAsNonRoot: false with no runAsUser. A container that merely does not
// say (the image decides) is the Pod Security runAsNonRoot control's
// finding, a lesser one: here the manifest asks for root. Severity follows
// the risk, not the profile: it applies at every level, the privileged
// one included, and is suppressed like the Pod Security controls in a
// namespace labelled privileged.
func runAsRoot() *rule.Rule {
	return &rule.Rule{
		ID:              RunAsRootID,
		Title:           "Runs as root",
		Severity:        finding.SeverityHigh,
		Description:     "The manifest explicitly runs the container as root (runAsUser: 0, or runAsNonRoot: false with no other user). Root in a container is root on the node's kernel: one runtime or kernel bug, a writable hostPath or an added capability away from owning the node. Reported at every Pod Security level (the privileged one included), as its own finding; pss/run-as-user and pss/run-as-non-root report the restricted profile's verdict beside it.",
		Remediation:     "Set a non-zero runAsUser and runAsNonRoot: true (in the pod's or the container's securityContext), and build the image with a numeric non-root USER.",
		RemediationYAML: "securityContext:\n  runAsNonRoot: true\n  runAsUser: 10001",
		References: []finding.Reference{
			{Title: "Pod Security Standards, restricted: Running as Non-root", URL: "https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted"},
			cis("5.2.7"), nsaGuide("Use containers built to run applications as non-root users"),
		},
		Tags: tags,
		Workload: func(ctx *rule.Context, w *workload.Workload) []rule.Violation {
			ps := ctx.PodSecurityFor(w.Namespace())
			var out []rule.Violation
			for _, c := range w.Containers() {
				s, ok := explicitRoot(w.Spec, c.Container)
				if !ok {
					continue
				}
				field, where := w.Field(c.Path+".securityContext."+s.field), "its securityContext"
				if s.pod {
					field, where = w.Field("securityContext."+s.field), "the pod's securityContext"
				}
				setting := "runAsUser: 0"
				if s.field == "runAsNonRoot" {
					setting = "runAsNonRoot: false and no runAsUser"
				}
				out = append(out, rule.Violation{
					Message:     fmt.Sprintf("container %q runs as root (%s in %s)", c.Name, setting, where),
					Field:       field,
					Container:   c.Name,
					Suppression: ps.Suppression,
				})
			}
			return out
		},
	}
}
