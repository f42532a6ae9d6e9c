package runtime

import "testing"

func TestParseCgroupPath(t *testing.T) {
	const id = "4f1f6b3c2a5d8e9f00112233445566778899aabbccddeeff0011223344556677"
	const uid = "0f0c3a4e-5c7b-4d53-9d0b-3f2c1e7a9b10"
	const uidSystemd = "0f0c3a4e_5c7b_4d53_9d0b_3f2c1e7a9b10"
	for _, tc := range []struct {
		name, path, runtime, id, pod string
		host, unknown                bool
	}{
		{"containerd systemd driver", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidSystemd + ".slice/cri-containerd-" + id + ".scope", "containerd", id, uid, false, false},
		{"cri-o systemd driver", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidSystemd + ".slice/crio-" + id + ".scope", "cri-o", id, uid, false, false},
		{"guaranteed pod, systemd driver", "/kubepods.slice/kubepods-pod" + uidSystemd + ".slice/cri-containerd-" + id + ".scope", "containerd", id, uid, false, false},
		{"kubelet cgroupfs driver (k3s)", "/kubepods/burstable/pod" + uid + "/" + id, "cgroupfs", id, uid, false, false},
		{"kubelet cgroupfs guaranteed", "/kubepods/pod" + uid + "/" + id, "cgroupfs", id, uid, false, false},
		{"docker systemd driver", "/system.slice/docker-" + id + ".scope", "docker", id, "", false, false},
		{"docker cgroupfs driver", "/docker/" + id, "docker", id, "", false, false},
		{"podman", "/machine.slice/libpod-" + id + ".scope", "podman", id, "", false, false},
		{"rootless podman", "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id + ".scope", "podman", id, "", false, false},
		{"root cgroup", "/", "", "", "", true, false},
		{"host service", "/system.slice/ssh.service", "", "", "", true, false},
		{"host session", "/user.slice/user-0.slice/session-3.scope", "", "", "", true, false},
		{"pod cgroup without container", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidSystemd + ".slice", "", "", uid, false, true},
		{"cri-o conmon", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidSystemd + ".slice/crio-conmon-" + id + ".scope", "", "", uid, false, true},
		{"unknown runtime under kubepods", "/kubepods/burstable/pod" + uid + "/sandbox-xyz", "", "", uid, false, true},
		{"short id is not a container", "/docker/abc123", "", "", "", false, true},
		{"bare id outside container parents", "/system.slice/" + id, "", "", "", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := ParseCgroupPath(tc.path)
			if a.Runtime != tc.runtime || a.ContainerID != tc.id || a.PodUID != tc.pod || a.Host != tc.host || a.Unknown != tc.unknown {
				t.Errorf("ParseCgroupPath(%q) = %+v, want runtime %q id %q pod %q host %v unknown %v", tc.path, a, tc.runtime, tc.id, tc.pod, tc.host, tc.unknown)
			}
		})
	}
}
