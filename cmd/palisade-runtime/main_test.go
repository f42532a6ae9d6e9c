package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
)

func TestUsage(t *testing.T) {
	noEnv := func(string) string { return "" }
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"help", []string{"--help"}, 0, "", "--runtime-ring-bytes"},
		{"unknown flag", []string{"--bogus"}, 2, "", "unknown flag"},
		{"argument", []string{"run"}, 2, "", "unexpected arguments"},
		{"version", []string{"--version"}, 0, "\n", ""},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, noEnv, &out, &errb)
		if code != tc.wantCode || !strings.Contains(out.String(), tc.wantOut) || !strings.Contains(errb.String(), tc.wantErr) {
			t.Errorf("%s: code %d, stdout %q, stderr %q", tc.name, code, out.String(), errb.String())
		}
	}
}

// TestSlimDependencies keeps the DaemonSet's binary slim: it links the
// node sensor, never the cluster agent with its hub client, image
// scanner, rules and signature verification, whose package initialisers
// and code pages were most of the sensor's start-up RSS.
func TestSlimDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	forbidden := []string{
		"github.com/palisade-sec/palisade/internal/agent", "github.com/palisade-sec/palisade/internal/imagescan",
		"github.com/palisade-sec/palisade/internal/rules", "github.com/palisade-sec/palisade/internal/hub",
		"github.com/palisade-sec/palisade/internal/sbom", "github.com/palisade-sec/palisade/internal/vulndb",
		"github.com/google/go-containerregistry", "github.com/sigstore", "google.golang.org/grpc",
		"helm.sh/helm", "sigs.k8s.io/kustomize", "github.com/jackc/pgx", "modernc.org/sqlite",
	}
	deps := strings.Split(string(out), "\n")
	if !containsDep(deps, "github.com/palisade-sec/palisade/internal/runtimenode") {
		t.Fatalf("palisade-runtime does not link internal/runtimenode")
	}
	for _, dep := range deps {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("palisade-runtime links %s", dep)
			}
		}
	}
}

func containsDep(deps []string, want string) bool {
	for _, d := range deps {
		if d == want {
			return true
		}
	}
	return false
}
