package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/imagescan"
	"github.com/palisade-sec/palisade/internal/sbom"
)

func testDigest(i int) string { return fmt.Sprintf("sha256:%064x", i) }

// testInventory has n packages of distinct, poorly compressible names.
func testInventory(digest string, n int) *imagescan.Inventory {
	inv := &imagescan.Inventory{Image: imagescan.ImageInfo{Ref: "registry.example/app@" + digest, Digest: digest}}
	for i := range n {
		inv.Packages = append(inv.Packages, sbom.Package{Name: fmt.Sprintf("pkg-%s-%d", digest[7:19], i), Version: fmt.Sprintf("1.%d", i*7919%1000), Ecosystem: "Debian:12"})
	}
	return inv
}

func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// TestSBOMCacheBoundAndRecency fills the cache beyond its bound: the least
// recently used package lists go, the total stays under the bound, and a
// restarted cache knows the files it kept.
func TestSBOMCacheBoundAndRecency(t *testing.T) {
	dir := t.TempDir()
	c, err := openSBOMCache(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.put(testDigest(0), testInventory(testDigest(0), 2000)); err != nil {
		t.Fatal(err)
	}
	one := c.total
	if one < 4<<10 {
		t.Fatalf("test inventory compresses to %d bytes; too small to fill the cache", one)
	}
	// A bound of three files and a half.
	c, err = openSBOMCache(dir, one*7/2)
	if err != nil {
		t.Fatal(err)
	}
	if c.count() != 1 || c.total != one {
		t.Fatalf("reopened: %d files, %d bytes", c.count(), c.total)
	}
	for i := 1; i <= 5; i++ {
		time.Sleep(10 * time.Millisecond) // distinct recency
		if i >= 3 {
			if _, ok := c.get(testDigest(0)); !ok { // used again: kept
				t.Fatal("digest 0 missing")
			}
		}
		if err := c.put(testDigest(i), testInventory(testDigest(i), 2000)); err != nil {
			t.Fatal(err)
		}
		if c.total > c.maxBytes {
			t.Fatalf("after %d puts: %d bytes over the bound %d", i+1, c.total, c.maxBytes)
		}
	}
	var kept []int
	for i := 0; i <= 5; i++ {
		if inv, ok := c.get(testDigest(i)); ok {
			if inv.Image.Digest != testDigest(i) || len(inv.Packages) != 2000 {
				t.Fatalf("digest %d: got %s with %d packages", i, inv.Image.Digest, len(inv.Packages))
			}
			kept = append(kept, i)
		}
	}
	if fmt.Sprint(kept) != "[0 4 5]" {
		t.Fatalf("kept %v, want the recently used [0 4 5]; files %v", kept, cacheFiles(t, dir))
	}
	if files := cacheFiles(t, dir); len(files) != 3 {
		t.Fatalf("files on disk: %v", files)
	}
}

// TestSBOMCacheHostileFiles: a corrupt file, another digest's file under
// this digest's name, and digests that are not sha256 digests are misses
// (the bad files removed); a write interrupted before its rename is
// cleaned up at open.
func TestSBOMCacheHostileFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, sbomFileName(testDigest(9))+".tmp"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := openSBOMCache(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if files := cacheFiles(t, dir); len(files) != 0 {
		t.Fatalf("interrupted write left %v", files)
	}
	for i := 1; i <= 2; i++ {
		if err := c.put(testDigest(i), testInventory(testDigest(i), 3)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, sbomFileName(testDigest(1))), []byte("\x1f\x8bnot gzip"), 0o600); err != nil {
		t.Fatal(err)
	}
	other, _ := os.ReadFile(filepath.Join(dir, sbomFileName(testDigest(2))))
	if err := os.WriteFile(filepath.Join(dir, sbomFileName(testDigest(3))), other, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = openSBOMCache(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{testDigest(1), testDigest(3), "sha256:../../etc/passwd", "latest", testDigest(2)[:20]} {
		if inv, ok := c.get(d); ok {
			t.Errorf("%s: hit %+v", d, inv.Image)
		}
	}
	if files := cacheFiles(t, dir); strings.Join(files, ",") != sbomFileName(testDigest(2)) {
		t.Errorf("files after the bad reads: %v", files)
	}
	if _, ok := c.get(testDigest(2)); !ok {
		t.Error("good file lost")
	}
	if err := c.put("sha256:../../x", testInventory(testDigest(4), 1)); err == nil {
		t.Error("put accepted a digest with a path")
	}
	small, err := openSBOMCache(t.TempDir(), 64)
	if err != nil {
		t.Fatal(err)
	}
	if err := small.put(testDigest(5), testInventory(testDigest(5), 100)); err == nil || small.count() != 0 {
		t.Errorf("a package list over the whole bound: %v, %d files", err, small.count())
	}
}
