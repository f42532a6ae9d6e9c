package hardening

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// highIDThreshold is the UID and GID at or below which an ID may collide
// with a user or group of the node (system accounts, the first human
// users, distribution groups): Trivy (KSV020, KSV021) and kube-score ask
// for IDs above 10000.
const highIDThreshold = 10000

// effectiveID returns the container's runAsUser (user) or runAsGroup
// (!user) as the kubelet applies them, the container's overriding the
// pod's, and the field path that sets it ("" when neither does).
func effectiveID(w *workload.Workload, c workload.Container, user bool) (*int64, string) {
	pick := func(u, g *int64) *int64 {
		if user {
			return u
		}
		return g
	}
	name := "runAsGroup"
	if user {
		name = "runAsUser"
	}
	if sc := c.SecurityContext; sc != nil {
		if v := pick(sc.RunAsUser, sc.RunAsGroup); v != nil {
			return v, w.Field(c.Path + ".securityContext." + name)
		}
	}
	if sc := w.Spec.SecurityContext; sc != nil {
		if v := pick(sc.RunAsUser, sc.RunAsGroup); v != nil {
			return v, w.Field("securityContext." + name)
		}
	}
	return nil, ""
}

// linuxIDsApply reports whether Linux UIDs and GIDs mean anything for the
// pod: not on Windows, and not in a user namespace (hostUsers: false),
// where IDs are mapped away from the node's.
func linuxIDsApply(spec *corev1.PodSpec) bool {
	return (spec.OS == nil || spec.OS.Name != corev1.Windows) && (spec.HostUsers == nil || *spec.HostUsers)
}

// lowID: every init and regular container should run with a UID (user)
// or GID (!user) above 10000, set in the manifest. An ID left to the image
// is reported too: nothing in the manifest bounds it. UID or GID 0 is
// reported here as well as by the root rules, as Trivy does. Ephemeral
// containers (kubectl debug) are left out; they are added by hand for a
// session.
func lowID(user bool) *rule.Rule {
	id, title, field, ksv := "hardening/run-as-low-gid", "Runs with a low or unset GID", "runAsGroup", "KSV021"
	if user {
		id, title, field, ksv = "hardening/run-as-low-uid", "Runs with a low or unset UID", "runAsUser", "KSV020"
	}
	// The messages' constant parts, built once: the rules find a low ID
	// in most workloads, and fmt.Sprintf cost an allocation per argument.
	unsetSuffix := " sets no " + field + ": the image decides it"
	lowSuffix := ", not above " + strconv.Itoa(highIDThreshold)
	return &rule.Rule{
		ID:       id,
		Title:    title,
		Severity: finding.SeverityLow,
		Description: fmt.Sprintf("A container whose %s is at or below %d (or left to the image) shares its numeric identity with users and groups of the node: "+
			"after a container escape, or through a shared hostPath or volume, it acts with their file permissions. An ID above %d belongs to no one on the node.", field, highIDThreshold, highIDThreshold),
		Remediation:     fmt.Sprintf("Set %s above %d in the pod's or the container's securityContext, and build the image so the application runs under that ID.", field, highIDThreshold),
		RemediationYAML: "securityContext:\n  runAsUser: 10001\n  runAsGroup: 10001\n  runAsNonRoot: true",
		References: []finding.Reference{
			{Title: "Kubernetes: Configure a Security Context for a Pod or Container", URL: "https://kubernetes.io/docs/tasks/configure-pod-container/security-context/"},
			{Title: "Trivy " + ksv, URL: "https://avd.aquasec.com/misconfig/kubernetes/"},
		},
		Tags: tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			if !linuxIDsApply(w.Spec) {
				return nil
			}
			var out []rule.Violation
			for _, c := range w.Containers() {
				if c.Ephemeral {
					continue
				}
				v, at := effectiveID(w, c, user)
				switch {
				case v == nil:
					out = append(out, rule.Violation{Container: c.Name, Field: w.Field(c.Path),
						Message: "container " + strconv.Quote(c.Name) + unsetSuffix})
				case *v <= highIDThreshold:
					out = append(out, rule.Violation{Container: c.Name, Field: at,
						Message: "container " + strconv.Quote(c.Name) + " runs with " + field + " " + strconv.FormatInt(*v, 10) + lowSuffix})
				}
			}
			return out
		},
	}
}

// rootGroup: no container may run with GID 0 as its primary group
// (runAsGroup), and the pod may not add GID 0 through fsGroup or
// supplementalGroups. Group root owns much of a node's and an image's
// files (Trivy KSV029, KSV116).
func rootGroup() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/root-group",
		Title:           "Runs with the root group",
		Severity:        finding.SeverityMedium,
		Description:     "GID 0 is the root group: files of the image and of hostPath or shared volumes that are group-root writable become writable by the container, and after an escape it keeps root's group on the node. runAsGroup: 0, fsGroup: 0 or a 0 in supplementalGroups each grant it.",
		Remediation:     "Use a dedicated non-zero group for runAsGroup, fsGroup and supplementalGroups.",
		RemediationYAML: "securityContext:\n  runAsGroup: 10001\n  fsGroup: 10001\n  supplementalGroups: [10001]",
		References: []finding.Reference{
			{Title: "Kubernetes: Configure a Security Context for a Pod or Container", URL: "https://kubernetes.io/docs/tasks/configure-pod-container/security-context/"},
			nsaGuide("Pod security"),
		},
		Tags: tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			if !linuxIDsApply(w.Spec) {
				return nil
			}
			var out []rule.Violation
			if sc := w.Spec.SecurityContext; sc != nil {
				if sc.FSGroup != nil && *sc.FSGroup == 0 {
					out = append(out, rule.Violation{Field: w.Field("securityContext.fsGroup"), Message: "the pod sets fsGroup: 0, so its volumes are owned by the root group"})
				}
				for i, g := range sc.SupplementalGroups {
					if g == 0 {
						out = append(out, rule.Violation{Field: w.Field(fmt.Sprintf("securityContext.supplementalGroups[%d]", i)), Message: "the pod adds the root group (0) to supplementalGroups"})
						break
					}
				}
			}
			for _, c := range w.Containers() {
				if v, at := effectiveID(w, c, false); v != nil && *v == 0 {
					out = append(out, rule.Violation{Container: c.Name, Field: at,
						Message: fmt.Sprintf("container %q runs with runAsGroup 0, the root group", c.Name)})
				}
			}
			return out
		},
	}
}
