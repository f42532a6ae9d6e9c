package hardening

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// hostAliases: a pod should not write its own /etc/hosts entries
// (spec.hostAliases): they override DNS for the names they list, silently
// and per pod (Trivy KSV007).
func hostAliases() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/host-aliases",
		Title:           "Pod overrides /etc/hosts",
		Severity:        finding.SeverityLow,
		Description:     "hostAliases write entries into the pod's /etc/hosts, ahead of cluster DNS: a name can be pointed at any address without DNS records, NetworkPolicy reviewers or service owners seeing it, and the entry outlives the address it was written for.",
		Remediation:     "Resolve names through DNS (a Service, an ExternalName Service or a record in your DNS zone) instead of hostAliases.",
		RemediationYAML: "apiVersion: v1\nkind: Service\nmetadata:\n  name: legacy-db\nspec:\n  type: ExternalName\n  externalName: db.example.internal",
		References: []finding.Reference{
			{Title: "Kubernetes: Adding entries to Pod /etc/hosts with HostAliases", URL: "https://kubernetes.io/docs/tasks/network/customize-hosts-file-for-pods/"},
		},
		Tags: tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			if len(w.Spec.HostAliases) == 0 {
				return nil
			}
			var names []string
			for _, a := range w.Spec.HostAliases {
				names = append(names, a.Hostnames...)
			}
			return []rule.Violation{{Field: w.Field("hostAliases"),
				Message: fmt.Sprintf("the pod writes /etc/hosts entries for %s", strings.Join(names, ", "))}}
		},
	}
}

// noSecurityContext: a pod with no securityContext at the pod level and
// none on any of its containers has taken no decision about users,
// privileges or profiles at all; every setting is the runtime's default
// (Trivy KSV118). One finding per pod, at the pod spec. HIGH, as Trivy
// rates it: each default is reported by its own rule at MEDIUM, but all
// of them at once (the image's user, often root, privilege escalation,
// the runtime's capabilities, and no seccomp filter unless the kubelet
// sets one) leave a compromised process every step of a container escape
// at the same time; and at --pss-level privileged this is the finding
// that still says so.
func noSecurityContext() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/no-security-context",
		Title:           "No security context at all",
		Severity:        finding.SeverityHigh,
		Description:     "Neither the pod nor any of its containers sets a securityContext: the container runs as the image's user (often root), keeps the runtime's default capabilities, allows privilege escalation, runs without a seccomp filter unless the kubelet sets a default, and has a writable root file system. The other rules report each of these; together they leave an attacker in the container every step of an escape at once, so this finding is HIGH (as Trivy's KSV118).",
		Remediation:     "Add a securityContext to the pod and its containers with at least runAsNonRoot, a seccomp profile, allowPrivilegeEscalation: false and dropped capabilities.",
		RemediationYAML: "securityContext:\n  runAsNonRoot: true\n  seccompProfile:\n    type: RuntimeDefault\ncontainers:\n- name: app\n  securityContext:\n    allowPrivilegeEscalation: false\n    readOnlyRootFilesystem: true\n    capabilities:\n      drop: [\"ALL\"]",
		References: []finding.Reference{
			{Title: "Kubernetes: Configure a Security Context for a Pod or Container", URL: "https://kubernetes.io/docs/tasks/configure-pod-container/security-context/"},
			nsaGuide("Pod security"),
		},
		Tags: tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			if sc := w.Spec.SecurityContext; sc != nil && !reflect.ValueOf(*sc).IsZero() {
				return nil
			}
			for _, c := range w.Containers() {
				if c.SecurityContext != nil && !reflect.ValueOf(*c.SecurityContext).IsZero() {
					return nil
				}
			}
			return []rule.Violation{{Field: w.SpecPath, Message: "neither the pod nor any container sets a securityContext"}}
		},
	}
}
