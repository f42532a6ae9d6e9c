package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
)

// TestScanImageInventoryCache: the inventory is cached under
// <cache-dir>/inventories (0600) unless --no-cache; a cached scan gives the
// same report as a walk, and a database update takes effect on it at once.
func TestScanImageInventoryCache(t *testing.T) {
	fx := newGateFixture(t)
	invDir := filepath.Join(fx.cacheDir, "inventories")
	entries := func() []os.DirEntry {
		ents, err := os.ReadDir(invDir)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return ents
	}
	scan := func(extra ...string) string {
		t.Helper()
		args := append([]string{"scan", "image", fx.debian, "--cache-dir", fx.cacheDir, "--scanners", "vuln", "--fail-on", "none", "-o", "json"}, extra...)
		out, stderr, code := palisade(t, "", args...)
		if code != exitClean {
			t.Fatalf("%v: exit %d: %s", extra, code, stderr)
		}
		return out
	}
	walked := scan("--no-cache")
	if n := len(entries()); n != 0 {
		t.Fatalf("--no-cache wrote %d cache entries", n)
	}
	first := scan()
	ents := entries()
	if len(ents) != 1 {
		t.Fatalf("%d cache entries after one scan, want 1", len(ents))
	}
	if fi, err := ents[0].Info(); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("cache entry mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	cached := scan()
	for name, out := range map[string]string{"first": first, "cached": cached} {
		if out != walked {
			t.Errorf("%s scan report differs from the --no-cache walk:\n%s\nwant:\n%s", name, out, walked)
		}
	}
	// A new advisory is matched against the cached inventory.
	recs := WriteRecords(t, map[string][]byte{
		"DEBIAN-CVE-2099-0778": DebianRecord("DEBIAN-CVE-2099-0778", "CVE-2099-0778", "zlib", "", ""),
	})
	if _, stderr, code := palisade(t, "", "db", "import", recs, "--name", "debian2", "--cache-dir", fx.cacheDir); code != 0 {
		t.Fatalf("db import: exit %d: %s", code, stderr)
	}
	if out := scan(); !strings.Contains(out, "DEBIAN-CVE-2099-0778") || !strings.Contains(out, "DEBIAN-CVE-2099-0777") {
		t.Errorf("cached scan after a database update lacks a finding:\n%s", out)
	}
	if n := len(entries()); n != 1 {
		t.Errorf("%d cache entries, want 1", n)
	}
}
