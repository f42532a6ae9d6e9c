package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const (
	// KubeVersion is the kube-apiserver version hack/kube/build.sh builds.
	KubeVersion = "v1.37.2"
	// EtcdVersion is the etcd version hack/kube/build.sh builds.
	EtcdVersion = "3.6.16"

	// EnvBinDir overrides where the binaries are looked up.
	EnvBinDir = "PALISADE_KUBE_BIN_DIR"
	// EnvRequire, when "1" (or "true"), turns "binaries missing" from a skip
	// into a failure. CI sets it.
	EnvRequire = "PALISADE_REQUIRE_CONTROL_PLANE"
	// EnvKeepDir, when "1", keeps each instance's directory (logs, configs,
	// etcd data) after Stop, for debugging.
	EnvKeepDir = "PALISADE_TESTENV_KEEP_DIR"

	buildHint = "build them with: bash hack/kube/build.sh (about 7-15 min cold, cached afterwards)"
)

// ErrBinariesNotFound is wrapped by errors about missing control-plane
// binaries, so callers of [Launch] can tell "not built" from "failed".
var ErrBinariesNotFound = errors.New("control-plane binaries not found")

// Binaries locates the executables an instance runs.
type Binaries struct {
	APIServer string
	Etcd      string
	// EtcdLegacy is set when Etcd is older than 3.6 (a distribution package
	// used as a fallback): such etcd lacks RequestWatchProgress, so it must
	// send periodic progress notifications itself or idle watches fail.
	EtcdLegacy bool
}

// BinDir returns the directory hack/kube/build.sh builds into: $PALISADE_KUBE_BIN_DIR,
// else ${XDG_CACHE_HOME:-$HOME/.cache}/palisade/kube/<KubeVersion>. It must stay in sync
// with the script.
func BinDir() string {
	if d := os.Getenv(EnvBinDir); d != "" {
		return d
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			// No home: fall back to a path that will simply not exist, so
			// the caller reports the binaries as missing with the hint.
			home = "/nonexistent"
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "palisade", "kube", KubeVersion)
}

// FindBinaries looks for kube-apiserver and etcd in [BinDir]. If etcd was not
// built there, an etcd on PATH is accepted as a fallback (Debian's 3.4 works
// with the progress-notify flag). The returned error wraps
// [ErrBinariesNotFound] when something is missing.
func FindBinaries() (Binaries, error) {
	dir := BinDir()
	b := Binaries{
		APIServer: filepath.Join(dir, "kube-apiserver"),
		Etcd:      filepath.Join(dir, "etcd"),
	}
	if !isExecutable(b.APIServer) {
		return Binaries{}, fmt.Errorf("%w: no kube-apiserver in %s; %s", ErrBinariesNotFound, dir, buildHint)
	}
	if !isExecutable(b.Etcd) {
		p, err := exec.LookPath("etcd")
		if err != nil {
			return Binaries{}, fmt.Errorf("%w: no etcd in %s or on PATH; %s", ErrBinariesNotFound, dir, buildHint)
		}
		b.Etcd = p
		b.EtcdLegacy = etcdIsLegacy(p)
	}
	return b, nil
}

// Require returns the binaries, or ends the test when they are missing: a
// skip with instructions normally, a failure when PALISADE_REQUIRE_CONTROL_PLANE=1.
// Shared and Start call it; call it directly only to gate a test early.
func Require(t testing.TB) Binaries {
	t.Helper()
	b, err := FindBinaries()
	if err == nil {
		return b
	}
	if requireControlPlane() {
		t.Fatalf("testenv: %v (%s=1 is set, so this fails instead of skipping)", err, EnvRequire)
	}
	t.Skipf("testenv: %v", err)
	return Binaries{} // unreachable: Skipf stops the test
}

func requireControlPlane() bool {
	v := strings.ToLower(os.Getenv(EnvRequire))
	return v == "1" || v == "true" || v == "yes"
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// etcdIsLegacy reports whether the etcd at path predates 3.6. Unknown output
// counts as legacy: the extra flag is harmless for 3.4/3.5 and we only take
// this path for a binary we did not build.
func etcdIsLegacy(path string) bool {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "etcd Version: "); ok {
			return strings.HasPrefix(v, "3.4.") || strings.HasPrefix(v, "3.5.") || strings.HasPrefix(v, "3.3.")
		}
	}
	return true
}
