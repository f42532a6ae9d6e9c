package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
)

func TestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"run", "--hub", "https://h"}, func(string) string { return "" }, &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), "--hub-ca-fingerprint") {
		t.Fatalf("code %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	if code := run(context.Background(), []string{"--bogus"}, func(string) string { return "" }, &out, &errb); code != 2 {
		t.Fatalf("unknown flag: code %d", code)
	}
}

// TestSlimDependencies keeps the binary slim: the hub and its PostgreSQL
// driver, Helm, kustomize, BuildKit's solver and the admission webhook
// must not be linked. The image scanner is (issue #8): it brings
// go-containerregistry. SQLite (modernc.org/sqlite, about 6 MB) is the
// hub's alone: internal/sbom/rpmdb reads the rpmdb.sqlite of RHEL 9 and
// Fedora images with its own reader of the file format.
func TestSlimDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	forbidden := []string{
		"github.com/jackc/pgx", "helm.sh/helm", "sigs.k8s.io/kustomize",
		"github.com/moby/buildkit/client", "github.com/moby/buildkit/solver",
		"github.com/palisade-sec/palisade/internal/hub", "github.com/palisade-sec/palisade/internal/admission",
		"github.com/palisade-sec/palisade/internal/render", "github.com/palisade-sec/palisade/internal/scan",
		"github.com/palisade-sec/palisade/internal/release",
		"modernc.org/sqlite", "modernc.org/libc",
	}
	for _, dep := range strings.Split(string(out), "\n") {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("palisade-agent links %s", dep)
			}
		}
	}
}
