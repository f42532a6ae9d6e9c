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

const testCID = "4f1f6b3c2a5d8e9f00112233445566778899aabbccddeeff0011223344556677"

const testDigest = "sha256:1f1f6b3c2a5d8e9f00112233445566778899aabbccddeeff0011223344556677"

// testFileSets are published image file sets by image reference.
type testFileSets map[string]*ImageFiles

func (s testFileSets) ImageFilesOf(image string) *ImageFiles { return s[image] }

func TestDetectorRecordedEvents(t *testing.T) {
	pod := &Pod{Namespace: "shop", Name: "web-0", Container: "web", RunAsNonRoot: true}
	inPod := Attribution{Runtime: "containerd", ContainerID: testCID, Pod: pod}
	bare := Attribution{Runtime: "docker", ContainerID: testCID}
	withSBOM := Attribution{Runtime: "containerd", ContainerID: testCID, Pod: &Pod{Namespace: "shop", Name: "api-0", Image: "registry.example/api@" + testDigest}}
	const ownUID = "0a1b2c3d-0000-4111-8222-333344445555"
	inPodUID := Attribution{Runtime: "containerd", ContainerID: testCID, PodUID: ownUID, Pod: pod}
	conn := func(a string, port uint16) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr(a), port) }
	for _, tc := range []struct {
		name   string
		e      Event
		want   []string
		object string
	}{
		{"shell in pod", Event{Kind: KindExec, Path: "/bin/bash", UID: 1000, Attribution: inPod}, []string{RuleShell}, "Pod/shop/web-0"},
		{"package manager", Event{Kind: KindExec, Path: "/usr/bin/apt-get", UID: 1000, Attribution: bare}, []string{RulePackageManager}, "Container/" + testCID},
		{"root despite runAsNonRoot", Event{Kind: KindExec, Path: "/app/server", UID: 0, Attribution: inPod}, []string{RuleRootUser}, "Pod/shop/web-0"},
		{"root shell", Event{Kind: KindExec, Path: "/bin/sh", UID: 0, Attribution: inPod}, []string{RuleShell, RuleRootUser}, "Pod/shop/web-0"},
		{"binary not in SBOM", Event{Kind: KindExec, Path: "/tmp/miner", UID: 1000, Attribution: withSBOM}, []string{RuleDrift}, "Pod/shop/api-0"},
		{"binary in SBOM", Event{Kind: KindExec, Path: "/app/server", UID: 1000, Attribution: withSBOM}, nil, ""},
		{"binary in SBOM, path not clean", Event{Kind: KindExec, Path: "/usr//bin/./env", UID: 1000, Attribution: withSBOM}, nil, ""},
		{"relative path: SBOM cannot tell", Event{Kind: KindExec, Path: "./miner", UID: 1000, Attribution: withSBOM}, nil, ""},
		{"image without a published set", Event{Kind: KindExec, Path: "/tmp/miner", UID: 1000, Attribution: inPod}, nil, ""},
		{"cloud metadata", Event{Kind: KindConnect, Dst: conn("169.254.169.254", 80), Attribution: inPod}, []string{RuleMetadata}, "Pod/shop/web-0"},
		{"kubelet port", Event{Kind: KindConnect, Dst: conn("10.0.0.4", 10250), Attribution: inPod}, []string{RuleKubelet}, "Pod/shop/web-0"},
		{"read-only kubelet port", Event{Kind: KindConnect, Dst: conn("10.0.0.4", 10255), Attribution: bare}, []string{RuleKubelet}, "Container/" + testCID},
		{"ordinary connect", Event{Kind: KindConnect, Dst: conn("10.0.0.4", 443), Attribution: inPod}, nil, ""},
		{"host shell", Event{Kind: KindExec, Path: "/bin/bash", Attribution: Attribution{Host: true}}, nil, ""},
		{"host metadata", Event{Kind: KindConnect, Dst: conn("169.254.169.254", 80), Attribution: Attribution{Host: true}}, nil, ""},
		{"exit", Event{Kind: KindExit, Attribution: inPod}, nil, ""},
		{"metadata by UDP", Event{Kind: KindUDPSend, Dst: conn("169.254.169.254", 53), Attribution: inPod}, []string{RuleMetadata}, "Pod/shop/web-0"},
		{"UDP to a kubelet port number", Event{Kind: KindUDPSend, Dst: conn("10.0.0.4", 10250), Attribution: inPod}, nil, ""},
		{"containerd socket", Event{Kind: KindOpen, Path: "/run/containerd/containerd.sock", Attribution: inPod}, []string{RuleRuntimeSocket}, "Pod/shop/web-0"},
		{"docker socket", Event{Kind: KindOpen, Path: "/var/run/docker.sock", Attribution: bare}, []string{RuleRuntimeSocket}, "Container/" + testCID},
		{"other containerd state", Event{Kind: KindOpen, Path: "/run/containerd/io.containerd.runtime.v2.task/k8s.io/x/config.json", Attribution: inPod}, nil, ""},
		{"shadow", Event{Kind: KindOpen, Path: "/etc/shadow", Attribution: inPod}, []string{RuleCredentialFile}, "Pod/shop/web-0"},
		{"another pod's token", Event{Kind: KindOpen, Path: "/var/lib/kubelet/pods/1111-2222/volumes/kubernetes.io~projected/kube-api-access-x/token", Attribution: inPodUID}, []string{RuleCredentialFile}, "Pod/shop/web-0"},
		{"own pod's volume", Event{Kind: KindOpen, Path: "/var/lib/kubelet/pods/" + ownUID + "/volumes/x", Attribution: inPodUID}, nil, ""},
		{"host opens the socket", Event{Kind: KindOpen, Path: "/run/containerd/containerd.sock", Attribution: Attribution{Host: true}}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &Detector{ProcRoot: t.TempDir(), Files: testFileSets{"registry.example/api@" + testDigest: NewImageFiles([]string{"/app/server", "usr/bin/env"})}}
			fs := d.Evaluate(&tc.e)
			var got []string
			for _, f := range fs {
				got = append(got, f.RuleID)
				if f.Object.String() != tc.object || f.Message == "" || f.Title == "" {
					t.Errorf("finding %+v, want object %s", f, tc.object)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("rules %v, want %v", got, tc.want)
			}
		})
	}
}

type fakePods map[string]*Pod

func (f fakePods) LookupPod(_ context.Context, cid, _ string) (*Pod, bool) {
	p, ok := f[cid]
	return p, ok
}

// TestResolverKeepsShortLivedContainers attributes a cgroup, removes it (the
// container exited) and checks its later events are still attributed.
func TestResolverKeepsShortLivedContainers(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "kubepods.slice", "cri-containerd-"+testCID+".scope")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	pod := &Pod{Namespace: "jobs", Name: "once"}
	r := NewResolver(root, fakePods{testCID: pod})
	r.MinRefresh = 0
	a := r.Resolve(context.Background(), st.Ino)
	if a.ContainerID != testCID || a.Pod != pod {
		t.Fatalf("first resolve %+v", a)
	}
	if err := os.RemoveAll(filepath.Join(root, "kubepods.slice")); err != nil {
		t.Fatal(err)
	}
	if a := r.Resolve(context.Background(), st.Ino); a.ContainerID != testCID || a.Pod != pod {
		t.Fatalf("after the cgroup went away: %+v", a)
	}
	if a := r.Resolve(context.Background(), 987654321); !a.Unknown {
		t.Fatalf("unknown id resolved to %+v", a)
	}
	if r.Unknown() != 1 {
		t.Fatalf("unknown count %d, want 1", r.Unknown())
	}
}

// acceptAll is a policy intent that allows every flow it is asked about.
type acceptAll struct{ asked int }

func (a *acceptAll) Judge(Flow) IntentVerdict { a.asked++; return IntentVerdict{Decided: true} }

// TestUDPNotJudged: with policy intent on, a pod's UDP send is never
// judged (no proof of delivery, no receive seen) and never taken as
// allowed: it is counted as not judged. Loopback, host processes and
// containers without a pod are not subject to policies; without intent
// nothing is counted.
func TestUDPNotJudged(t *testing.T) {
	pod := &Pod{Namespace: "shop", Name: "web-0"}
	dst := func(a string) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr(a), 53) }
	for _, tc := range []struct {
		name   string
		intent bool
		e      Event
		want   uint64
	}{
		{"pod sends DNS", true, Event{Kind: KindUDPSend, Dst: dst("10.96.0.10"), Attribution: Attribution{ContainerID: testCID, Pod: pod}}, 1},
		{"pod sends over IPv6", true, Event{Kind: KindUDPSend, Dst: dst("fd00::a"), Attribution: Attribution{ContainerID: testCID, Pod: pod}}, 1},
		{"loopback", true, Event{Kind: KindUDPSend, Dst: dst("127.0.0.53"), Attribution: Attribution{ContainerID: testCID, Pod: pod}}, 0},
		{"container without a pod", true, Event{Kind: KindUDPSend, Dst: dst("10.96.0.10"), Attribution: Attribution{ContainerID: testCID}}, 0},
		{"host", true, Event{Kind: KindUDPSend, Dst: dst("10.96.0.10"), Attribution: Attribution{Host: true}}, 0},
		{"TCP connect attempt", true, Event{Kind: KindConnect, Dst: dst("10.96.0.10"), Attribution: Attribution{ContainerID: testCID, Pod: pod}}, 0},
		{"intent off", false, Event{Kind: KindUDPSend, Dst: dst("10.96.0.10"), Attribution: Attribution{ContainerID: testCID, Pod: pod}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			judge := &acceptAll{}
			d := &Detector{}
			if tc.intent {
				d.Intent = judge
			}
			if fs := d.Evaluate(&tc.e); len(fs) != 0 {
				t.Errorf("findings %+v", fs)
			}
			if got := d.UDPNotJudged(); got != tc.want {
				t.Errorf("not judged %d, want %d", got, tc.want)
			}
			if judge.asked != 0 {
				t.Errorf("the policy model was asked about a datagram or an attempt")
			}
		})
	}
}

// TestExecsWithoutImageFiles: an exec in a pod whose image's file list is
// not there (not published, the node reading none) is counted, never
// silently taken as checked; one with the list is checked against it.
func TestExecsWithoutImageFiles(t *testing.T) {
	const image = "registry.example/shop/web@sha256:aaaa"
	set := NewImageFiles([]string{"/usr/bin/web"})
	pod := &Pod{Namespace: "shop", Name: "web-0", Image: image}
	for _, tc := range []struct {
		name      string
		files     ImageFileSets
		pod       *Pod
		path      string
		unchecked uint64
		drift     bool
	}{
		{"list published, binary in it", testFileSets{image: set}, pod, "/usr/bin/web", 0, false},
		{"list published, binary not in it", testFileSets{image: set}, pod, "/tmp/x", 0, true},
		{"list not published", testFileSets{}, pod, "/usr/bin/web", 1, false},
		{"node reads no lists", nil, pod, "/usr/bin/web", 1, false},
		{"no pod known: no image to ask for", testFileSets{}, nil, "/usr/bin/web", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &Detector{Files: tc.files}
			e := Event{Kind: KindExec, TGID: 1, Path: tc.path, Attribution: Attribution{ContainerID: testCID, Pod: tc.pod}}
			drift := false
			for _, f := range d.Evaluate(&e) {
				drift = drift || f.RuleID == RuleDrift
			}
			if drift != tc.drift || d.NoImageFiles() != tc.unchecked {
				t.Errorf("drift %v, without the file list %d; want %v, %d", drift, d.NoImageFiles(), tc.drift, tc.unchecked)
			}
		})
	}
}
