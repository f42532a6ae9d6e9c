package hardening

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// The rules of this file report, at every Pod Security level, the
// settings the Pod Security baseline controls forbid and the privileged
// level allows: privileged containers, the node's PID, IPC and network
// namespaces, host ports, hostPath volumes, and (a restricted control)
// privilege escalation. Severity follows the risk, never the level
// chosen: --pss-level privileged (or a policy's default level) must not
// let a privileged pod through the gate with exit 0.
//
// No double reporting: a rule stays silent for a workload when the Pod
// Security control that reports the same field is selected and in force
// for the workload's namespace (pssCovers); the control's finding then
// stands alone, at the same severity. So the rules report at the
// privileged level (where the controls' findings are only shown,
// suppressed), and whenever the Pod Security rules are not selected
// (--rules hardening). In a namespace labelled privileged the controls
// report, suppressed with the label as reason, and these rules report
// too, unsuppressed: the label is a Pod Security level like the
// --pss-level flag, and in 'scan config' the change being gated can add
// it, so it must not hide the risk (the controls' suppressed findings
// show what the label switched off).

// pssControl is a Pod Security rule and the level at which it is enforced.
type pssControl struct {
	id    string
	level string
}

// pssCovers reports whether one of the Pod Security controls reports the
// risk for the workload: selected, and its level in force in the
// workload's namespace, unsuppressed. In a namespace labelled privileged
// the controls report only suppressed findings, which do not gate, so
// they cover nothing there and the hardening rules report.
func pssCovers(ctx *rule.Context, w *workload.Workload, controls ...pssControl) bool {
	ps := ctx.PodSecurityFor(w.Namespace())
	if ps.Suppression != nil {
		return false
	}
	for _, c := range controls {
		inForce := ps.Applies(c.level)
		if inForce && ctx.Selected(c.id) {
			return true
		}
	}
	return false
}

// Rule IDs of this file, for the documentation and the tests.
const (
	PrivilegedContainerID = "hardening/privileged-container"
	HostPIDID             = "hardening/host-pid"
	HostIPCID             = "hardening/host-ipc"
	HostNetworkID         = "hardening/host-network"
	HostPortID            = "hardening/host-port"
	HostPathVolumeID      = "hardening/host-path-volume"
	PrivilegeEscalationID = "hardening/privilege-escalation"
)

func pssRef(anchor, title string) finding.Reference {
	return finding.Reference{Title: "Pod Security Standards: " + title,
		URL: "https://kubernetes.io/docs/concepts/security/pod-security-standards/#" + anchor}
}

// privilegedContainer: no container (init, regular or ephemeral) may set
// securityContext.privileged: true. One finding per container, at the
// field. Stays silent where pss/privileged reports (see pssCovers).
func privilegedContainer() *rule.Rule {
	return &rule.Rule{
		ID:              PrivilegedContainerID,
		Title:           "Privileged container (any Pod Security level)",
		Severity:        finding.SeverityCritical,
		Description:     "A privileged container runs with every capability, every host device and no seccomp, AppArmor or SELinux confinement: it is root on the node in all but name, and escaping takes one mount. A Windows HostProcess container (windowsOptions.hostProcess: true) is the same on a Windows node and is reported too. This rule reports both at every Pod Security level, the privileged one included, where pss/privileged and pss/windows-host-process do not.",
		Remediation:     "Remove privileged: true; grant only the capabilities or the device (through a device plugin) the process needs.",
		RemediationYAML: "securityContext:\n  privileged: false\n  allowPrivilegeEscalation: false\n  capabilities:\n    drop: [\"ALL\"]",
		References:      []finding.Reference{pssRef("baseline", "baseline, Privileged Containers"), cis("5.2.2"), nsaGuide("Pod security")},
		Tags:            tags,
		Workload: func(ctx *rule.Context, w *workload.Workload) []rule.Violation {
			privCovered := pssCovers(ctx, w, pssControl{"pss/privileged", rule.LevelBaseline})
			hostProcCovered := pssCovers(ctx, w, pssControl{"pss/windows-host-process", rule.LevelBaseline})
			if privCovered && hostProcCovered {
				return nil
			}
			// A Windows HostProcess container runs on the node as SYSTEM:
			// the Windows form of privileged. Set on the pod, it applies to
			// every container that does not set it false.
			var podHostProcess *bool
			if psc := w.Spec.SecurityContext; psc != nil && psc.WindowsOptions != nil {
				podHostProcess = psc.WindowsOptions.HostProcess
			}
			var out []rule.Violation
			for _, c := range w.Containers() {
				sc := c.SecurityContext
				if !privCovered && sc != nil && sc.Privileged != nil && *sc.Privileged {
					out = append(out, rule.Violation{Container: c.Name,
						Field:   w.Field(c.Path + ".securityContext.privileged"),
						Message: "container " + strconv.Quote(c.Name) + " is privileged (securityContext.privileged: true)"})
				}
				if hostProcCovered {
					continue
				}
				hp, field := podHostProcess, w.Field("securityContext.windowsOptions.hostProcess")
				if sc != nil && sc.WindowsOptions != nil && sc.WindowsOptions.HostProcess != nil {
					hp, field = sc.WindowsOptions.HostProcess, w.Field(c.Path+".securityContext.windowsOptions.hostProcess")
				}
				if hp != nil && *hp {
					out = append(out, rule.Violation{Container: c.Name, Field: field,
						Message: "container " + strconv.Quote(c.Name) + " is a Windows HostProcess container (windowsOptions.hostProcess: true): it runs on the node with the node's privileges"})
				}
			}
			return out
		},
	}
}

// hostNamespace: the pod may not share the node's PID, IPC or network
// namespace (spec.hostPID, hostIPC, hostNetwork: true). One rule per
// namespace, as Kubescape, Trivy, Polaris and kube-linter keep them
// apart, so each can be fixed or exempted on its own (a CNI agent needs
// hostNetwork, not hostPID). Stays silent where pss/host-namespaces
// reports.
func hostNamespace(id, field, title, desc, cisSection string) *rule.Rule {
	return &rule.Rule{
		ID:              id,
		Title:           title,
		Severity:        finding.SeverityHigh,
		Description:     desc + " This rule reports it at every Pod Security level, the privileged one included, where pss/host-namespaces does not.",
		Remediation:     "Remove " + field + ": true from the pod spec; give the pod what it needs through the Kubernetes API, a Service or a volume instead.",
		RemediationYAML: "spec:\n  " + field + ": false",
		References:      []finding.Reference{pssRef("baseline", "baseline, Host Namespaces"), cis(cisSection), nsaGuide("Pod security")},
		Tags:            tags,
		Workload: func(ctx *rule.Context, w *workload.Workload) []rule.Violation {
			var on bool
			switch field {
			case "hostPID":
				on = w.Spec.HostPID
			case "hostIPC":
				on = w.Spec.HostIPC
			case "hostNetwork":
				on = w.Spec.HostNetwork
			}
			if !on || pssCovers(ctx, w, pssControl{"pss/host-namespaces", rule.LevelBaseline}) {
				return nil
			}
			return []rule.Violation{{Field: w.Field(field),
				Message: "the pod shares the node's " + map[string]string{"hostPID": "PID", "hostIPC": "IPC", "hostNetwork": "network"}[field] + " namespace (" + field + ": true)"}}
		},
	}
}

func hostPID() *rule.Rule {
	return hostNamespace(HostPIDID, "hostPID", "Host PID namespace shared (any Pod Security level)",
		"A pod in the node's PID namespace sees every process of the node and of other pods, reads their environment and command lines (credentials), signals them, and with SYS_PTRACE or as root enters them: a container escape.", "5.2.3")
}

func hostIPC() *rule.Rule {
	return hostNamespace(HostIPCID, "hostIPC", "Host IPC namespace shared (any Pod Security level)",
		"A pod in the node's IPC namespace reads and writes the shared memory and message queues of every process of the node, other pods' included.", "5.2.4")
}

func hostNetwork() *rule.Rule {
	return hostNamespace(HostNetworkID, "hostNetwork", "Host network namespace shared (any Pod Security level)",
		"A pod in the node's network namespace sees and can sniff the node's interfaces, reaches services bound to the node's loopback (the kubelet's read port, local databases), binds any node port and bypasses NetworkPolicies.", "5.2.5")
}

// hostPort: no container (init or regular) may bind a port of the node
// (ports[].hostPort other than 0). One finding per container, at its first
// host port. Stays silent where pss/host-ports reports.
func hostPort() *rule.Rule {
	return &rule.Rule{
		ID:              HostPortID,
		Title:           "Host port bound (any Pod Security level)",
		Severity:        finding.SeverityHigh,
		Description:     "A hostPort binds the container to a port of the node's addresses: the service is reachable from outside the cluster, around Services and NetworkPolicies, and the pod can take a port the node's own services expect. This rule reports it at every Pod Security level, the privileged one included, where pss/host-ports does not.",
		Remediation:     "Remove hostPort; expose the container through a Service (ClusterIP, or NodePort/LoadBalancer when it must be reached from outside).",
		RemediationYAML: "ports:\n- containerPort: 8080   # no hostPort\n# then a Service selects the pod",
		References:      []finding.Reference{pssRef("baseline", "baseline, Host Ports"), cis("5.2.12"), nsaGuide("Pod security")},
		Tags:            tags,
		Workload: func(ctx *rule.Context, w *workload.Workload) []rule.Violation {
			if pssCovers(ctx, w, pssControl{"pss/host-ports", rule.LevelBaseline}) {
				return nil
			}
			var out []rule.Violation
			for _, c := range w.Containers() {
				for i, p := range c.Ports {
					if p.HostPort != 0 {
						out = append(out, rule.Violation{Container: c.Name,
							Field:   w.Field(fmt.Sprintf("%s.ports[%d].hostPort", c.Path, i)),
							Message: fmt.Sprintf("container %q binds host port %d", c.Name, p.HostPort)})
						break
					}
				}
			}
			return out
		},
	}
}

// hostPathAny: the pod may not have a hostPath volume, whatever its
// path, mounted or not, read-only or not. One finding per volume. The
// paths that give the node away, the runtime sockets, devices and
// writable mounts have rules of their own on top. Stays silent where
// pss/host-path-volumes (baseline) or pss/restricted-volumes (restricted,
// which replaces it) reports.
func hostPathAny() *rule.Rule {
	return &rule.Rule{
		ID:              HostPathVolumeID,
		Title:           "hostPath volume (any Pod Security level)",
		Severity:        finding.SeverityHigh,
		Description:     "A hostPath volume gives the container a directory of the node's file system: whatever it shows (node configuration, other pods' data, kubelet state) the container reads, and a writable mount lets it change the node. Paths are easy to widen by a later change and symlinks inside them reach further. This rule reports it at every Pod Security level, the privileged one included, where the Pod Security volume controls do not.",
		Remediation:     "Replace the hostPath volume with an emptyDir, a ConfigMap or Secret, or a persistent volume; a node agent that must read node files mounts the narrowest directory, readOnly.",
		RemediationYAML: "volumes:\n- name: scratch\n  emptyDir: {}",
		References:      []finding.Reference{pssRef("baseline", "baseline, HostPath Volumes"), cis("5.2.11"), nsaGuide("Pod security")},
		Tags:            tags,
		Workload: func(ctx *rule.Context, w *workload.Workload) []rule.Violation {
			vols := hostPathVolumes(w.Spec)
			if len(vols) == 0 || pssCovers(ctx, w, pssControl{"pss/host-path-volumes", rule.LevelBaseline}, pssControl{"pss/restricted-volumes", rule.LevelRestricted}) {
				return nil
			}
			out := make([]rule.Violation, 0, len(vols))
			for _, v := range vols {
				out = append(out, rule.Violation{Field: volumeField(w, v.index),
					Message: fmt.Sprintf("volume %q mounts the node path %s (hostPath)", v.vol.Name, v.path)})
			}
			return out
		},
	}
}

// privilegeEscalation: every container (init, regular or ephemeral) of a
// Linux pod sets securityContext.allowPrivilegeEscalation: false, as the
// restricted profile asks. Unset, the kernel's no_new_privs is not set and
// a setuid binary or file capability in the image raises the process's
// privileges. Where it does not matter, nothing is reported: a privileged
// container (always escalates; hardening/privileged-container reports it,
// and the API server refuses false with privileged: true) and Windows pods
// (spec.os.name: windows, where the field does not apply). One finding per
// container. Stays silent where pss/allow-privilege-escalation reports
// (the restricted level).
func privilegeEscalation() *rule.Rule {
	return &rule.Rule{
		ID:              PrivilegeEscalationID,
		Title:           "Privilege escalation allowed (any Pod Security level)",
		Severity:        finding.SeverityMedium,
		Description:     "Without allowPrivilegeEscalation: false a process can gain more privileges than its parent, through setuid-root binaries (su, sudo, ping on older images) or file capabilities in the image: a non-root container becomes root. The restricted Pod Security level asks for false; this rule asks for it at the baseline and privileged levels too, where pss/allow-privilege-escalation does not apply, at the same severity.",
		Remediation:     "Set allowPrivilegeEscalation: false in every container's securityContext.",
		RemediationYAML: "securityContext:\n  allowPrivilegeEscalation: false",
		References:      []finding.Reference{pssRef("restricted", "restricted, Privilege Escalation"), cis("5.2.6"), nsaGuide("Pod security")},
		Tags:            tags,
		Workload: func(ctx *rule.Context, w *workload.Workload) []rule.Violation {
			if os := w.Spec.OS; os != nil && os.Name == corev1.Windows {
				return nil
			}
			if pssCovers(ctx, w, pssControl{"pss/allow-privilege-escalation", rule.LevelRestricted}) {
				return nil
			}
			var out []rule.Violation
			for _, c := range w.Containers() {
				sc := c.SecurityContext
				if sc != nil && sc.Privileged != nil && *sc.Privileged {
					continue
				}
				if sc != nil && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
					continue
				}
				field, msg := w.Field(c.Path), "container "+strconv.Quote(c.Name)+" does not set allowPrivilegeEscalation: false"
				if sc != nil && sc.AllowPrivilegeEscalation != nil {
					field, msg = w.Field(c.Path+".securityContext.allowPrivilegeEscalation"), "container "+strconv.Quote(c.Name)+" sets allowPrivilegeEscalation: true"
				}
				out = append(out, rule.Violation{Container: c.Name, Field: field, Message: msg})
			}
			return out
		},
	}
}
