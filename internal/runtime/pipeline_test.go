package runtime

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestPipelineRecordedRecords feeds recorded kernel records (bytes laid
// out as bpf/sensor.c writes them) through the whole user-space pipeline:
// decode, cgroup attribution (a containerd cgroup tree made for the test,
// the pod from the lookup) and the detections. This is how reaching the
// node or the cloud is tested: no traffic is ever sent to the metadata
// service or a kubelet port; the records say it was.
func TestPipelineRecordedRecords(t *testing.T) {
	root := t.TempDir()
	const podUID = "0a1b2c3d-0000-4111-8222-333344445555"
	dir := filepath.Join(root, "kubepods.slice", "kubepods-besteffort.slice", "kubepods-besteffort-pod"+strings.ReplaceAll(podUID, "-", "_")+".slice", "cri-containerd-"+testCID+".scope")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	hostDir := filepath.Join(root, "system.slice", "sshd.service")
	if err := os.MkdirAll(hostDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var hostSt syscall.Stat_t
	if err := syscall.Stat(hostDir, &hostSt); err != nil {
		t.Fatal(err)
	}
	cg, host := st.Ino, hostSt.Ino
	pod := &Pod{Namespace: "shop", Name: "web-0", Container: "web", Owner: "Deployment/web"}
	r := NewResolver(root, fakePods{testCID: pod})
	r.MinRefresh = 0
	p := &Pipeline{Resolver: r, Detector: &Detector{ProcRoot: t.TempDir()}}
	addr := netip.MustParseAddr
	for _, tc := range []struct {
		name string
		rec  record
		want string
	}{
		{"connect to the metadata service", record{typ: recConnect, cgroup: cg, pid: 4100, family: 2, dport: 80, daddr: addr("169.254.169.254")}, RuleMetadata},
		{"connect to the IPv6 metadata service", record{typ: recConnect, cgroup: cg, pid: 4100, family: 10, dport: 80, daddr: addr("fd00:ec2::254")}, RuleMetadata},
		{"datagram to the metadata service", record{typ: recUDPSend, cgroup: cg, pid: 4101, family: 2, dport: 53, daddr: addr("169.254.169.254")}, RuleMetadata},
		{"connect to the kubelet", record{typ: recConnect, cgroup: cg, pid: 4102, family: 2, dport: 10250, daddr: addr("192.168.1.10")}, RuleKubelet},
		{"connect to the read-only kubelet port over IPv6", record{typ: recConnect, cgroup: cg, pid: 4102, family: 10, dport: 10255, daddr: addr("fd00::10")}, RuleKubelet},
		{"containerd socket opened", record{typ: recOpen, cgroup: cg, pid: 4103, path: "/run/containerd/containerd.sock"}, RuleRuntimeSocket},
		{"K3s containerd socket opened", record{typ: recOpen, cgroup: cg, pid: 4103, path: "/run/k3s/containerd/containerd.sock"}, RuleRuntimeSocket},
		{"CRI-O socket opened", record{typ: recOpen, cgroup: cg, pid: 4103, path: "/var/run/crio/crio.sock"}, RuleRuntimeSocket},
		{"ordinary connect", record{typ: recConnect, cgroup: cg, pid: 4104, family: 2, dport: 443, daddr: addr("10.96.0.1")}, ""},
		{"the host reaches the metadata service", record{typ: recConnect, cgroup: host, pid: 900, family: 2, dport: 80, daddr: addr("169.254.169.254")}, ""},
		{"the host opens the containerd socket", record{typ: recOpen, cgroup: host, pid: 900, path: "/run/containerd/containerd.sock"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Decode(tc.rec.bytes())
			if err != nil {
				t.Fatal(err)
			}
			fs := p.Process(context.Background(), &e)
			var got []string
			for _, f := range fs {
				got = append(got, f.RuleID)
				if f.Object.String() != "Pod/shop/web-0" || f.Container != "web" {
					t.Errorf("finding on %s container %q, want the pod's web container", f.Object, f.Container)
				}
			}
			if strings.Join(got, ",") != tc.want {
				t.Errorf("findings %v, want %q", got, tc.want)
			}
		})
	}
}

// TestPipelineDoesNotAllocate: the sensor's reader decodes and processes
// up to 100,000 records a second; a record that leads to no finding must
// not allocate (an Event moved to the heap per record was 288 of the 432
// bytes per event the pipeline bench reported).
func TestPipelineDoesNotAllocate(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "kubepods.slice", "kubepods-besteffort.slice", "kubepods-besteffort-pod0a1b2c3d_0000_4111_8222_333344445555.slice", "cri-containerd-"+testCID+".scope")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	pod := &Pod{Namespace: "shop", Name: "web-0", Container: "web", Owner: "Deployment/web"}
	p := &Pipeline{Resolver: NewResolver(root, fakePods{testCID: pod}), Detector: &Detector{ProcRoot: t.TempDir()}}
	addr := netip.MustParseAddr
	for _, tc := range []struct {
		name string
		rec  record
	}{
		{"connect", record{typ: recConnect, cgroup: st.Ino, pid: 4104, family: 2, dport: 443, daddr: addr("10.96.0.1")}},
		{"datagram", record{typ: recUDPSend, cgroup: st.Ino, pid: 4104, family: 2, dport: 53, daddr: addr("10.96.0.10")}},
		{"exit", record{typ: recExit, cgroup: st.Ino, pid: 4104}},
		{"host connect", record{typ: recConnect, cgroup: 1, pid: 900, family: 2, dport: 443, daddr: addr("10.96.0.1")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.rec.bytes()
			ctx := context.Background()
			process := func() {
				e, err := Decode(raw)
				if err != nil {
					t.Fatal(err)
				}
				if fs := p.Process(ctx, &e); len(fs) != 0 {
					t.Fatalf("findings %v, want none", fs)
				}
			}
			process() // attributes the cgroup once
			if n := testing.AllocsPerRun(1000, process); n != 0 {
				t.Errorf("%v allocations per record, want 0", n)
			}
		})
	}
}
