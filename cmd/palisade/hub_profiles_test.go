package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestHubProfiles: the export names the cluster (by name or ID) and reads
// back as netpol's input; an unknown cluster is a usage error.
func TestHubProfiles(t *testing.T) {
	db := "sqlite://" + filepath.Join(t.TempDir(), "hub.db")
	_, stderr, code := palisade(t, "", "hub", "token", "create", "--cluster", "edge-9", "--database", db, "--init")
	if code != 0 {
		t.Fatalf("token create: %s", stderr)
	}
	out, stderr, code := palisade(t, "", "hub", "profiles", "--cluster", "edge-9", "--database", db)
	if code != exitClean || !strings.Contains(out, `"kind": "RuntimeProfiles"`) || !strings.Contains(out, `"profiles": []`) {
		t.Fatalf("profiles: exit %d, stderr %s\n%s", code, stderr, out)
	}
	if _, stderr, code := palisade(t, "", "hub", "profiles", "--cluster", "nope", "--database", db); code != exitError || !strings.Contains(stderr, `no cluster "nope"`) {
		t.Errorf("unknown cluster: exit %d, %s", code, stderr)
	}
}
