package hardening

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// privilegedPort: no container should declare a containerPort below 1024.
// Binding one needs root or NET_BIND_SERVICE inside the container, so the
// port says the process holds privileges an unprivileged server would not
// (Trivy KSV117, kube-linter privileged-ports). Port 0 (unset) is not a
// port.
func privilegedPort() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/privileged-port",
		Title:           "Container port below 1024",
		Severity:        finding.SeverityLow,
		Description:     "Ports below 1024 are privileged: the process must run as root or hold NET_BIND_SERVICE to bind them. A server that listens on an unprivileged port can drop every capability; the Service can still publish port 80 or 443.",
		Remediation:     "Listen on a port at or above 1024 and map it in the Service (port: 443, targetPort: 8443).",
		RemediationYAML: "ports:\n- name: https\n  containerPort: 8443\n# Service:\n#   ports:\n#   - port: 443\n#     targetPort: https",
		References: []finding.Reference{
			{Title: "Kubernetes: Service ports and targetPort", URL: "https://kubernetes.io/docs/concepts/services-networking/service/#defining-a-service"},
			{Title: "capabilities(7): CAP_NET_BIND_SERVICE", URL: "https://man7.org/linux/man-pages/man7/capabilities.7.html"},
		},
		Tags: tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			var out []rule.Violation
			for _, c := range w.Containers() {
				for i, p := range c.Ports {
					if p.ContainerPort > 0 && p.ContainerPort < 1024 {
						out = append(out, rule.Violation{Container: c.Name, Field: w.Field(fmt.Sprintf("%s.ports[%d].containerPort", c.Path, i)),
							Message: fmt.Sprintf("container %q listens on the privileged port %d", c.Name, p.ContainerPort)})
					}
				}
			}
			return out
		},
	}
}

// sshPort: no container should expose TCP port 22. An SSH server in a
// container is a way in that bypasses RBAC, exec auditing and the image's
// immutability (kube-linter ssh-port, Kubescape C-0042).
func sshPort() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/ssh-port",
		Title:           "SSH port exposed",
		Severity:        finding.SeverityMedium,
		Description:     "A container that exposes port 22 usually runs an SSH server: a remote shell with its own credentials, outside Kubernetes RBAC and audit logging, and a reason to keep keys and a writable system in the image.",
		Remediation:     "Remove the SSH server; use 'kubectl exec' or 'kubectl debug', which RBAC controls and the audit log records. If the workload is an SSH service by design (a Git server), exempt it with a reason.",
		RemediationYAML: "# remove:\n# ports:\n# - containerPort: 22",
		References: []finding.Reference{
			{Title: "Kubernetes: Debug running pods", URL: "https://kubernetes.io/docs/tasks/debug/debug-application/debug-running-pod/"},
		},
		Tags: tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			var out []rule.Violation
			for _, c := range w.Containers() {
				for i, p := range c.Ports {
					if p.ContainerPort == 22 && p.Protocol == corev1.ProtocolTCP {
						out = append(out, rule.Violation{Container: c.Name, Field: w.Field(fmt.Sprintf("%s.ports[%d].containerPort", c.Path, i)),
							Message: fmt.Sprintf("container %q exposes the SSH port 22", c.Name)})
					}
				}
			}
			return out
		},
	}
}
