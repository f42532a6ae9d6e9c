package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A container's mountinfo as containerd's overlayfs snapshotter leaves it
// (shortened): the overlay root with two image layers, an emptyDir volume
// and a projected service-account token.
const containerdMountinfo = `1510 1375 0:112 / / rw,relatime master:470 - overlay overlay rw,lowerdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/41/fs:/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/40/fs,upperdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/57/fs,workdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/57/work
1511 1510 0:114 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
1520 1510 8:1 /var/lib/kubelet/pods/0a1b/volumes/kubernetes.io~empty-dir/scratch /scratch rw,relatime - ext4 /dev/sda1 rw
1521 1510 0:99 / /var/run/secrets/kubernetes.io/serviceaccount ro,relatime - tmpfs tmpfs rw,size=65536k
`

func TestParseMountinfo(t *testing.T) {
	ms, err := parseMountinfo(strings.NewReader(containerdMountinfo + `1530 1510 0:120 / /with\040space rw - overlay overlay rw,lowerdir=/l\072colon:/l2,upperdir=/up\134dir,workdir=/w` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	root := rootOf(ms)
	if root == nil || root.fstype != "overlay" || root.upper != "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/57/fs" || len(root.lowers) != 2 ||
		root.lowers[1] != "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/40/fs" {
		t.Fatalf("root %+v", root)
	}
	for p, want := range map[string]string{"/bin/sh": "/", "/scratch/tool": "/scratch", "/scratchy": "/", "/with space/x": "/with space", "/proc/1/exe": "/proc"} {
		if m := mountAt(ms, p); m == nil || m.point != want {
			t.Errorf("mount of %s: %+v, want %s", p, m, want)
		}
	}
	last := ms[len(ms)-1]
	if last.upper != `/up\dir` || len(last.lowers) != 2 || last.lowers[0] != "/l:colon" {
		t.Errorf("escapes: %+v", last)
	}
	for _, bad := range []string{"not mountinfo\n", "1 2 3:4 / /x rw\n", "1 2 3:4 / - overlay\n"} {
		if _, err := parseMountinfo(strings.NewReader(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	line := strings.SplitN(containerdMountinfo, "\n", 2)[0] + "\n"
	if _, err := parseMountinfo(strings.NewReader(strings.Repeat(line, maxMountinfo/len(line)+1))); err == nil {
		t.Error("a mountinfo over the bound was read whole")
	}
}

// TestOverlayJudge: the layers on disk decide, as the DaemonSet sees them
// (the host's snapshot directories under HostRoot, mountinfo under
// ProcRoot).
func TestOverlayJudge(t *testing.T) {
	host, proc := t.TempDir(), t.TempDir()
	snap := "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots"
	write := func(rel string) {
		t.Helper()
		p := filepath.Join(host, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("\x7fELF"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(snap + "/40/fs/bin/sh")     // the base image layer
	write(snap + "/41/fs/app/server") // the application layer
	write(snap + "/57/fs/tmp/miner")  // written in the container
	write(snap + "/57/fs/app/server.bak")
	if err := os.MkdirAll(filepath.Join(proc, "4242"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proc, "4242", "mountinfo"), []byte(containerdMountinfo), 0o644); err != nil {
		t.Fatal(err)
	}
	o := &OverlayDrift{ProcRoot: proc, HostRoot: host}
	for _, tc := range []struct {
		path string
		want overlayVerdict
		why  string
	}{
		{"/bin/sh", overlayImage, ""},
		{"/app/server", overlayImage, ""},
		{"/tmp/miner", overlayUpper, "writable overlay layer (upperdir " + snap + "/57/fs)"},
		{"/scratch/tool", overlayVolume, "ext4 mount at /scratch"},
		{"/usr/bin/absent", overlayUnknown, ""},
		{"relative/path", overlayUnknown, ""},
	} {
		v, why := o.judge(testCID, 4242, tc.path)
		if v != tc.want || !strings.Contains(why, tc.why) {
			t.Errorf("%s: %v %q, want %v %q", tc.path, v, why, tc.want, tc.why)
		}
	}
	if o.Undecided() != 2 {
		t.Errorf("undecided %d, want 2", o.Undecided())
	}
	// The mounts were kept: the process may be gone by the next exec.
	if err := os.RemoveAll(filepath.Join(proc, "4242")); err != nil {
		t.Fatal(err)
	}
	if v, _ := o.judge(testCID, 4242, "/tmp/miner"); v != overlayUpper {
		t.Errorf("after the process went: %v", v)
	}
	if v, _ := o.judge("other", 4242, "/tmp/miner"); v != overlayUnknown {
		t.Errorf("another container without mountinfo: %v", v)
	}
	// A deleted image file leaves a whiteout in the upper layer: not a file.
	wh := filepath.Join(host, snap, "57/fs/bin/sh")
	if err := os.MkdirAll(filepath.Dir(wh), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mknod(wh, syscall.S_IFCHR, 0); err != nil {
		if os.Getenv("PALISADE_REQUIRE_EBPF") != "" {
			t.Fatalf("mknod a whiteout: %v", err)
		}
		t.Skipf("mknod a whiteout needs CAP_MKNOD: %v", err)
	}
	if v, _ := o.judge(testCID, 4242, "/bin/sh"); v != overlayImage {
		t.Errorf("behind a whiteout: %v, want the lower layer's", v)
	}
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add(containerdMountinfo)
	f.Add(`1 0 0:1 / / rw - overlay overlay rw,lowerdir=a\:b\,c:d,upperdir=\134\040` + "\n")
	f.Add("1 0 0:1 / /\\0 rw - overlay overlay lowerdir+=/x,upperdir=\n")
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := parseMountinfo(strings.NewReader(s))
		if err != nil {
			return
		}
		if len(ms) > strings.Count(s, "\n")+1 {
			t.Fatalf("%d mounts from %d lines", len(ms), strings.Count(s, "\n")+1)
		}
		_ = rootOf(ms)
		_ = mountAt(ms, "/a/b")
	})
}
