package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
)

// TestSensorOverlayDrift builds an overlay mount as a container runtime
// does (lower directory = the image, upper = the container's writable
// layer), runs a "container" in a fresh cgroup from it, and checks the
// drift check against the layers: a binary copied in after the start is
// in the upper layer (PAL-RT-006, evidence: overlay layers); the image's
// binary is not drift even though its change time is after the start
// (the change-time test alone reports it, which the control asserts).
func TestSensorOverlayDrift(t *testing.T) {
	requireEBPF(t)
	withForms(t, Options{}, testSensorOverlayDrift)
}

func testSensorOverlayDrift(t *testing.T, o Options) {
	base := t.TempDir()
	lower, upper, work, merged := filepath.Join(base, "lower"), filepath.Join(base, "upper"), filepath.Join(base, "work"), filepath.Join(base, "merged")
	for _, d := range []string{lower, upper, work, merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sleep, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lower, "imgsleep"), sleep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("overlay", merged, "overlay", 0, "lowerdir="+lower+",upperdir="+upper+",workdir="+work); err != nil {
		t.Fatalf("mount overlay: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(merged, syscall.MNT_DETACH) })

	cgdir, cid := newCgroup(t)
	initCmd := runInCgroup(t, cgdir, filepath.Join(merged, "imgsleep"), "60")
	if err := initCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { initCmd.Process.Kill(); initCmd.Wait() })
	time.Sleep(50 * time.Millisecond) // > the 10 ms resolution of process start times
	// After the start: a binary written into the container (it lands in
	// the upper layer), and the image's binary's change time moved (a
	// chmod of the lower file), so only the layers tell them apart.
	if err := os.WriteFile(filepath.Join(merged, "added"), sleep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(lower, "imgsleep"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(upper, "added")); err != nil {
		t.Fatalf("the written binary is not in the upper layer: %v", err)
	}

	_, c := startSensorForm(t, o)
	resolver := newTestResolver(t)
	overlay := &OverlayDrift{}
	p := &Pipeline{Resolver: resolver, Detector: &Detector{Overlay: overlay}}
	ctimeOnly := &Detector{}
	for _, tc := range []struct {
		name, bin   string
		want        []string
		wantCtime   []string
		wantMessage string
	}{
		{"image binary, changed after start", filepath.Join(merged, "imgsleep"), nil, []string{RuleDrift}, ""},
		{"binary copied in after start", filepath.Join(merged, "added"), []string{RuleDrift}, []string{RuleDrift}, "writable overlay layer (upperdir " + upper + ")"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := runInCgroup(t, cgdir, tc.bin, "0.5")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			pid := uint32(cmd.Process.Pid)
			e := c.waitFor(t, "exec", func(e *Event) bool { return e.Kind == KindExec && e.TGID == pid })
			fs := p.Process(context.Background(), &e)
			if e.Attribution.ContainerID != cid {
				t.Fatalf("attribution %+v, want container %s", e.Attribution, cid)
			}
			if got := rulesOf(fs); got != strings.Join(tc.want, ",") {
				t.Errorf("with the overlay: findings %v, want %v (%+v)", got, tc.want, fs)
			}
			if tc.wantMessage != "" && (len(fs) == 0 || !strings.Contains(fs[0].Message, tc.wantMessage) || !strings.Contains(fs[0].Message, "evidence: overlay layers")) {
				t.Errorf("message %+v, want it to name %q and the overlay evidence", fs, tc.wantMessage)
			}
			if got := rulesOf(ctimeOnly.Evaluate(&e)); got != strings.Join(tc.wantCtime, ",") {
				t.Errorf("change time only: findings %v, want %v", got, tc.wantCtime)
			}
		})
	}
	if n := overlay.Undecided(); n != 0 {
		t.Errorf("overlay left %d execs undecided", n)
	}
}

func rulesOf(fs []finding.Finding) string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.RuleID)
	}
	return strings.Join(ids, ",")
}
