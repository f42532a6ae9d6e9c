package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/buildinfo"
	"github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
)

// buildBinary builds a main package of this module as the release does.
func buildBinary(t *testing.T, pkg, name string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-trimpath", "-tags", buildinfo.GoBuildTags, "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, msg)
	}
	return out
}

// result is one run of a binary.
type result struct {
	stdout, stderr string
	code           int
}

func runBinary(t *testing.T, bin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return result{out.String(), errb.String(), 0}
	case errors.As(err, &ee):
		return result{out.String(), errb.String(), ee.ExitCode()}
	}
	t.Fatalf("%s %v: %v", bin, args, err)
	return result{}
}

// TestSameOutputAsPalisade runs the built palisade and palisade-scan
// binaries on the debootstrap bookworm image (hack/ci/images.sh) with the
// same database and caches, and requires the same report byte for byte,
// the same stderr and the same exit code: JSON, SARIF and table, both
// scanners and vulnerabilities alone, cold (--no-cache) and warm
// (palisade-scan reading the caches palisade wrote).
func TestSameOutputAsPalisade(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the palisade binary")
	}
	img := "oci:" + imagescantest.Bookworm(t)
	lean := buildBinary(t, ".", "palisade-scan")
	full := buildBinary(t, "../palisade", "palisade")
	const v = "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N"
	recs := map[string][]byte{
		"DEBIAN-CVE-2099-0001": imagescantest.DebianRecord("DEBIAN-CVE-2099-0001", "CVE-2099-0001", "glibc", "2.36-9+deb12u15", v),
		"DEBIAN-CVE-2099-0002": imagescantest.DebianRecord("DEBIAN-CVE-2099-0002", "CVE-2099-0002", "glibc", "2.36-9+deb12u3", v),
		"DEBIAN-CVE-2099-0003": imagescantest.DebianRecord("DEBIAN-CVE-2099-0003", "CVE-2099-0003", "zlib", "1:1.2.13.dfsg-1+deb12u1", ""),
		"DEBIAN-CVE-2099-0005": imagescantest.DebianRecord("DEBIAN-CVE-2099-0005", "CVE-2099-0005", "bash", "5.2.15-2+b1", v),
		"DEBIAN-CVE-2099-0007": imagescantest.DebianRecord("DEBIAN-CVE-2099-0007", "CVE-2099-0007", "systemd", "", v),
	}
	cache := t.TempDir()
	if r := runBinary(t, lean, "db", "import", imagescantest.WriteRecords(t, recs), "--name", "debian", "--cache-dir", cache); r.code != 0 {
		t.Fatalf("palisade-scan db import: exit %d: %s", r.code, r.stderr)
	}
	for _, tc := range []struct {
		name string
		args []string
		// code is palisade's exit code: the records make findings at the
		// default --fail-on low.
		code int
	}{
		{"cold json", []string{"-o", "json", "--no-cache"}, 1},
		{"cold sarif", []string{"-o", "sarif", "--no-cache"}, 1},
		{"cold table", []string{"--no-cache"}, 1},
		{"cold json vuln", []string{"-o", "json", "--no-cache", "--scanners", "vuln"}, 1},
		{"cold table vuln fail-on none", []string{"--no-cache", "--scanners", "vuln", "--fail-on", "none"}, 0},
		// palisade fills the caches, palisade-scan reads them.
		{"warm json", []string{"-o", "json"}, 1},
		{"warm sarif", []string{"-o", "sarif"}, 1},
		{"warm table", nil, 1},
		{"warm json vuln", []string{"-o", "json", "--scanners", "vuln"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{img, "--cache-dir", cache}, tc.args...)
			want := runBinary(t, full, append([]string{"scan", "image"}, args...)...)
			got := runBinary(t, lean, append([]string{"image"}, args...)...)
			if want.code != tc.code {
				t.Fatalf("palisade scan image: exit %d, want %d: %s", want.code, tc.code, want.stderr)
			}
			if !strings.Contains(want.stdout, "CVE-2099-0001") {
				t.Fatalf("palisade scan image reported no finding of the records:\n%s", want.stdout)
			}
			sameResult(t, got, want)
		})
	}
}

// sameResult requires palisade-scan's run, got, to be palisade's, want:
// exit code, report and stderr.
func sameResult(t *testing.T, got, want result) {
	t.Helper()
	if got.code != want.code {
		t.Errorf("exit %d, palisade's %d", got.code, want.code)
	}
	if got.stdout != want.stdout {
		t.Errorf("report differs from palisade's (%d and %d bytes) at %s", len(got.stdout), len(want.stdout), firstDiff(got.stdout, want.stdout))
	}
	if got.stderr != want.stderr {
		t.Errorf("stderr %q, palisade's %q", got.stderr, want.stderr)
	}
}

// firstDiff shows where a and b part.
func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return "byte " + strconv.Itoa(i) + ": " + strconv.Quote(a[i:min(len(a), i+60)]) + " against " + strconv.Quote(b[i:min(len(b), i+60)])
}
