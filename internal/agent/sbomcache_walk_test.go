package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUnfinishedWalkBlockExpires: an image whose walk marker survived
// the last run is left alone for unfinishedBlock after the restart, then
// walked again; a walk that ends removes its marker.
func TestUnfinishedWalkBlockExpires(t *testing.T) {
	dir := t.TempDir()
	digest := "sha256:" + strings.Repeat("ab", 32)
	if err := os.WriteFile(filepath.Join(dir, "sha256-"+strings.Repeat("ab", 32)+scanningSuffix), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := openSBOMCache(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	c.unfinished[digest] = start
	now := start.Add(time.Hour)
	c.now = func() time.Time { return now }
	if _, ok := c.startWalk(digest); ok {
		t.Fatal("walked an hour after a restart that found its marker")
	}
	other, ok := c.startWalk("sha256:" + strings.Repeat("cd", 32))
	if !ok {
		t.Fatal("another image refused")
	}
	other()
	now = start.Add(unfinishedBlock)
	done, ok := c.startWalk(digest)
	if !ok {
		t.Fatalf("still refused %v after the restart", unfinishedBlock)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*"+scanningSuffix)); len(m) != 1 {
		t.Fatalf("markers while walking: %v", m)
	}
	done()
	if m, _ := filepath.Glob(filepath.Join(dir, "*"+scanningSuffix)); len(m) != 0 {
		t.Fatalf("markers after the walk: %v", m)
	}
}
