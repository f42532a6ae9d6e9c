package hardening

import (
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// runtimeSockets are the container runtime API sockets (and their
// directories): whoever reaches one can start privileged containers on the
// node. K3s and MicroK8s keep containerd under their own paths.
var runtimeSockets = []string{
	"/var/run/docker.sock", "/run/docker.sock",
	"/var/run/containerd", "/run/containerd",
	"/var/run/crio", "/run/crio",
	"/run/k3s/containerd", "/var/snap/microk8s/common/run",
	"/var/run/cri-dockerd.sock", "/run/cri-dockerd.sock",
	"/var/run", "/run",
}

// sensitiveHostPaths are node directories whose exposure gives away the
// node: its configuration, credentials, kernel interfaces or the data of
// other pods.
var sensitiveHostPaths = []string{
	"/", "/etc", "/proc", "/sys", "/boot", "/root", "/home",
	"/var/lib/kubelet", "/var/lib/docker", "/var/lib/containerd",
	"/var/lib/rancher", "/etc/rancher", "/var/snap/microk8s",
	"/etc/kubernetes", "/var/lib/etcd", "/var/log", "/usr", "/lib", "/bin", "/sbin",
}

// cleanHostPath normalises a hostPath so "/etc/../etc//" and "/etc" compare
// equal; a relative path is treated as rooted, as the kubelet would refuse it.
func cleanHostPath(p string) string {
	return path.Clean("/" + strings.TrimSpace(p))
}

// under reports whether p is dir or inside it.
func under(p, dir string) bool {
	return p == dir || dir == "/" && p == "/" || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

type hostPathVolume struct {
	index int
	vol   *corev1.Volume
	path  string
}

func hostPathVolumes(spec *corev1.PodSpec) []hostPathVolume {
	var out []hostPathVolume
	for i := range spec.Volumes {
		if hp := spec.Volumes[i].HostPath; hp != nil {
			out = append(out, hostPathVolume{index: i, vol: &spec.Volumes[i], path: cleanHostPath(hp.Path)})
		}
	}
	return out
}

func volumeField(w *workload.Workload, i int) string {
	return w.Field(fmt.Sprintf("volumes[%d].hostPath.path", i))
}

// runtimeSocket: no hostPath may expose a container runtime socket (or the
// run directories that hold them).
func runtimeSocket() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/container-runtime-socket",
		Title:           "Container runtime socket mounted",
		Severity:        finding.SeverityCritical,
		Description:     "The Docker, containerd or CRI-O socket is the node's container runtime API: a container that can reach it can start a privileged container and own the node and every pod on it.",
		Remediation:     "Remove the hostPath volume. Build images with a daemonless builder (BuildKit rootless, kaniko) and read container state through the Kubernetes API.",
		RemediationYAML: "# remove:\n# volumes:\n# - name: docker\n#   hostPath:\n#     path: /var/run/docker.sock",
		References:      []finding.Reference{cis("5.2.11"), nsaGuide("Pod security")},
		Tags:            tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			var out []rule.Violation
			for _, v := range hostPathVolumes(w.Spec) {
				for _, s := range runtimeSockets {
					if under(v.path, s) || under(s, v.path) && v.path != "/" {
						out = append(out, rule.Violation{
							Message: fmt.Sprintf("volume %q mounts %s from the node, which exposes the container runtime socket", v.vol.Name, v.path),
							Field:   volumeField(w, v.index),
						})
						break
					}
				}
			}
			return out
		},
	}
}

// sensitiveHostPath: no hostPath may expose node configuration, kernel
// interfaces or kubelet/runtime state (see sensitiveHostPaths). Runtime
// sockets and /dev have rules of their own.
func sensitiveHostPath() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/sensitive-host-path",
		Title:           "Sensitive host path mounted",
		Severity:        finding.SeverityHigh,
		Description:     "Mounting node directories such as /etc, /proc, /var/lib/kubelet or the root file system exposes node credentials, kubelet certificates and other pods' data, and when writable lets the container change the node.",
		Remediation:     "Remove the hostPath volume, or narrow it to a dedicated directory mounted readOnly.",
		RemediationYAML: "volumeMounts:\n- name: data\n  mountPath: /data\n  readOnly: true\n# volumes:\n# - name: data\n#   hostPath:\n#     path: /srv/my-app\n#     type: Directory",
		References:      []finding.Reference{cis("5.2.11"), nsaGuide("Pod security")},
		Tags:            tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			var out []rule.Violation
			for _, v := range hostPathVolumes(w.Spec) {
				if under(v.path, "/dev") || isRuntimeSocket(v.path) {
					continue
				}
				for _, s := range sensitiveHostPaths {
					if (s == "/" && v.path == "/") || (s != "/" && under(v.path, s)) {
						out = append(out, rule.Violation{
							Message: fmt.Sprintf("volume %q mounts the sensitive node path %s", v.vol.Name, v.path),
							Field:   volumeField(w, v.index),
						})
						break
					}
				}
			}
			return out
		},
	}
}

// writableHostPath: no container (init, regular or ephemeral) may mount a
// hostPath volume without readOnly: true (kube-linter
// writable-host-mount, Kubescape C-0045). One finding per container, at
// its first writable host mount. The Pod Security controls report every
// hostPath volume, read-only or not; this rule tells the writable ones,
// which let a container change the node, from a read-only mount, the
// documented fix. A hostPath volume no container mounts is not reported.
func writableHostPath() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/writable-host-path",
		Title:           "Host path mounted writable",
		Severity:        finding.SeverityMedium,
		Description:     "A hostPath volume mounted without readOnly: true lets the container write to the node's file system: plant files other pods or the kubelet read, fill the node's disk, or replace binaries and configuration when the path is a system directory. A read-only mount still exposes what it shows, which the Pod Security hostPath control reports.",
		Remediation:     "Mount the host path with readOnly: true, or replace it with an emptyDir or a persistent volume when the container needs to write.",
		RemediationYAML: "volumeMounts:\n- name: host-logs\n  mountPath: /var/log/host\n  readOnly: true",
		References:      []finding.Reference{cis("5.2.11"), nsaGuide("Pod security")},
		Tags:            tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			host := map[string]string{}
			for _, v := range hostPathVolumes(w.Spec) {
				host[v.vol.Name] = v.path
			}
			if len(host) == 0 {
				return nil
			}
			var out []rule.Violation
			for _, c := range w.Containers() {
				for i, m := range c.VolumeMounts {
					p, ok := host[m.Name]
					if !ok || m.ReadOnly {
						continue
					}
					out = append(out, rule.Violation{
						Message:   fmt.Sprintf("container %q mounts the node path %s (volume %q) writable", c.Name, p, m.Name),
						Field:     w.Field(fmt.Sprintf("%s.volumeMounts[%d]", c.Path, i)),
						Container: c.Name,
					})
					break
				}
			}
			return out
		},
	}
}

func isRuntimeSocket(p string) bool {
	for _, s := range runtimeSockets {
		if under(p, s) {
			return true
		}
	}
	return false
}

// hostDevices: no hostPath may expose /dev or a character/block device.
func hostDevices() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/host-devices",
		Title:           "Host device exposed",
		Severity:        finding.SeverityHigh,
		Description:     "Access to host devices (disks, /dev/mem, GPUs, serial ports) bypasses the container boundary: raw disks can be read or rewritten below the file system.",
		Remediation:     "Remove the device hostPath; use a device plugin that grants only the needed device.",
		RemediationYAML: "resources:\n  limits:\n    vendor.example.com/sensor: 1   # device plugin instead of hostPath /dev/...",
		References:      []finding.Reference{nsaGuide("Pod security"), cis("5.2.11")},
		Tags:            tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			var out []rule.Violation
			for _, v := range hostPathVolumes(w.Spec) {
				t := v.vol.HostPath.Type
				isDevice := t != nil && (*t == corev1.HostPathCharDev || *t == corev1.HostPathBlockDev)
				if under(v.path, "/dev") || isDevice {
					out = append(out, rule.Violation{
						Message: fmt.Sprintf("volume %q exposes the host device path %s", v.vol.Name, v.path),
						Field:   volumeField(w, v.index),
					})
				}
			}
			return out
		},
	}
}
