package imagescan

import (
	"context"
	"fmt"
	"github.com/palisade-sec/palisade/internal/sbom"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	. "github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
	"github.com/palisade-sec/palisade/internal/sbom/catalog"
)

// TestDiskCacheRoundTrip walks an image with packages from several layers
// (a dpkg database replaced by upper layers, a deleted binary) and a
// secret, caches it on disk, and reads it back through a second DiskCache
// on the same directory (another process): the inventory must be equal,
// field for field, and the scan must report it as cached.
func TestDiskCacheRoundTrip(t *testing.T) {
	base := Layer(t,
		File("etc/os-release", OSRelease),
		File("var/lib/dpkg/status", DpkgStatus(DpkgStanza("base-files", "12.4", ""), DpkgStanza("libc6", "2.36-9+deb12u4", "glibc"))),
		Exec("usr/bin/deleted", []byte("\x7fELF FAKEGO example.com/deleted")),
		File("root/.aws/credentials", "[default]\naws_access_key_id = "+awsKey+"\n"),
	)
	upper := Layer(t,
		Whiteout("usr/bin/deleted"),
		File("var/lib/dpkg/status", DpkgStatus(DpkgStanza("base-files", "12.4", ""), DpkgStanza("libc6", "2.36-9+deb12u9", "glibc"))),
	)
	ref := "oci:" + Layout(t, Image(t, "linux/amd64", base, upper))
	dir := filepath.Join(t.TempDir(), "inventories")
	c1, err := NewDiskCache(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Catalogers: fakeSet(), Scanners: Scanners{Secret: true}, Cache: c1}
	cold, err := Catalog(context.Background(), ref, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(cold.Packages) != 2 || len(cold.Secrets) != 1 {
		t.Fatalf("cold walk: %d packages, %d secrets", len(cold.Packages), len(cold.Secrets))
	}
	c2, err := NewDiskCache(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	opts.Cache = c2
	warm, cached, err := inventory(context.Background(), ref, opts, Scanners{Vuln: true, Secret: true})
	if err != nil {
		t.Fatal(err)
	}
	if !cached {
		t.Fatal("second scan walked the image again")
	}
	if !reflect.DeepEqual(warm, cold) {
		t.Errorf("cached inventory differs:\n got %+v\nwant %+v", warm, cold)
	}
	// A scan with other scanners must not reuse the entry.
	if _, cached, err := inventory(context.Background(), ref, opts, Scanners{Vuln: true}); err != nil || cached {
		t.Errorf("vuln-only scan: cached %v, err %v", cached, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("cache directory mode %v", st.Mode().Perm())
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600 (entries hold secret findings)", e.Name(), fi.Mode().Perm())
		}
	}
}

// TestDiskCacheBoundsAndCorruption checks the LRU bound in bytes, that
// reading an entry makes it recent, and that corrupt, foreign or
// other-version entries are misses.
func TestDiskCacheBoundsAndCorruption(t *testing.T) {
	inv := func(d string) *Inventory { return &Inventory{Image: ImageInfo{Ref: d, Digest: d}} }
	one, err := os.MkdirTemp(t.TempDir(), "probe")
	if err != nil {
		t.Fatal(err)
	}
	probe, _ := NewDiskCache(one, 0)
	probe.Put("a", inv("sha256:a"))
	size := probe.Size()
	if size == 0 {
		t.Fatal("nothing written")
	}

	dir := t.TempDir()
	c, _ := NewDiskCache(dir, 3*size+size/2) // room for three entries
	old := time.Now().Add(-time.Hour)
	for i, k := range []string{"a", "b", "c"} {
		c.Put(k, inv("sha256:"+k))
		// distinct, increasing modification times regardless of clock granularity
		ts := old.Add(time.Duration(i) * time.Minute)
		os.Chtimes(c.files.path(k), ts, ts)
	}
	if _, ok := c.Get("a"); !ok { // a becomes the most recent
		t.Fatal("a missing")
	}
	c.Put("d", inv("sha256:d")) // evicts b, the least recently used
	for k, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if _, ok := c.Get(k); ok != want {
			t.Errorf("%s cached = %v, want %v", k, ok, want)
		}
	}
	if c.Size() > 3*size+size/2 {
		t.Errorf("cache holds %d bytes, bound %d", c.Size(), 3*size+size/2)
	}

	tests := []struct {
		name    string
		content string
	}{
		{"not json", "{not json"},
		{"empty", ""},
		{"other analyser", `{"analyzer":"imagescan/0","key":"x","inventory":{"image":{"ref":"r"}}}`},
		{"other key", `{"analyzer":"` + AnalyzerVersion + `","key":"y","inventory":{"image":{"ref":"r"}}}`},
		{"no inventory", `{"analyzer":"` + AnalyzerVersion + `","key":"x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(c.files.path("x"), []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if got, ok := c.Get("x"); ok {
				t.Errorf("corrupt entry returned %+v", got)
			}
		})
	}
}

// TestCacheKeyCatalogers: an inventory collected by another set of
// catalogers (an older Palisade without a new cataloger) is not reused.
func TestCacheKeyCatalogers(t *testing.T) {
	ref := "oci:" + Layout(t, Image(t, "linux/amd64", Layer(t, File("etc/os-release", OSRelease))))
	c, err := NewDiskCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	fewer := fakeSet()
	fewer.Catalogers = fewer.Catalogers[:1]
	tests := []struct {
		name       string
		set        *catalog.Set
		wantCached bool
	}{
		{"first scan", fakeSet(), false},
		{"same catalogers", fakeSet(), true},
		{"other catalogers", fewer, false},
		{"other catalogers again", fewer, true},
	}
	for _, tt := range tests {
		_, cached, err := inventory(context.Background(), ref, Options{Catalogers: tt.set, Cache: c}, Scanners{Vuln: true})
		if err != nil {
			t.Fatal(err)
		}
		if cached != tt.wantCached {
			t.Errorf("%s: cached %v, want %v", tt.name, cached, tt.wantCached)
		}
	}
}

// TestDiskCacheKeepsGoSymbols checks that a warm scan sees the Go
// binaries' symbols the cold scan read: sbom.Package does not serialise
// them, and without them every Go finding's reachability would turn
// unknown on a re-scan.
func TestDiskCacheKeepsGoSymbols(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "inventories")
	inv := &Inventory{Packages: []sbom.Package{
		{Name: "stdlib", Version: "1.26.8", Ecosystem: sbom.EcosystemGo},
		{Name: "golang.org/x/text", Version: "v0.3.0", Ecosystem: sbom.EcosystemGo,
			GoSymbols: map[string]struct{}{"golang.org/x/text/language.Parse": {}, "main.main": {}}},
	}}
	c1, err := NewDiskCache(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	c1.Put("key", inv)
	c2, err := NewDiskCache(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := c2.Get("key")
	if !ok {
		t.Fatal("entry not found")
	}
	if got.Packages[0].GoSymbols != nil {
		t.Errorf("package without symbols got %v", got.Packages[0].GoSymbols)
	}
	if !reflect.DeepEqual(got.Packages[1].GoSymbols, inv.Packages[1].GoSymbols) {
		t.Errorf("symbols: got %v, want %v", got.Packages[1].GoSymbols, inv.Packages[1].GoSymbols)
	}
}

// TestDiskCacheSharedGoSymbols: every module of a Go binary shares the
// binary's symbol set. Written once per package, the palisade image's
// entry (300 modules × 60,000 functions) grew past maxEntryBytes, so it
// was never kept, after 40 s and 5 GB of encoding on every scan (found by
// the release check). Now each set is written once, kept shared on
// reading, and the entry is kept.
func TestDiskCacheSharedGoSymbols(t *testing.T) {
	c, err := NewDiskCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	bin := map[string]struct{}{}
	for i := range 20000 {
		bin[fmt.Sprintf("github.com/example/module%d/internal/pkg.(*Type).Method%d", i%300, i)] = struct{}{}
	}
	other := map[string]struct{}{"main.main": {}}
	inv := &Inventory{}
	for i := range 300 {
		inv.Packages = append(inv.Packages, sbom.Package{Name: fmt.Sprintf("github.com/example/module%d", i), Version: "v1.0.0", Type: "go-module", GoSymbols: bin})
	}
	inv.Packages = append(inv.Packages, sbom.Package{Name: "example.com/tool", Version: "v0.1.0", Type: "go-module", GoSymbols: other}, sbom.Package{Name: "zlib", Version: "1.2", Type: "deb"})
	c.Put("img", inv)
	if size := c.Size(); size > 4<<20 {
		t.Errorf("entry of %d bytes: the shared set written more than once", size)
	}
	got, ok := c.Get("img")
	if !ok {
		t.Fatal("inventory with a shared symbol set not cached")
	}
	for i, p := range got.Packages {
		switch {
		case i < 300 && !reflect.DeepEqual(p.GoSymbols, bin):
			t.Fatalf("package %d: %d symbols, want the binary's %d", i, len(p.GoSymbols), len(bin))
		case i == 300 && !reflect.DeepEqual(p.GoSymbols, other):
			t.Fatalf("package %d: symbols %v, want %v", i, p.GoSymbols, other)
		case i == 301 && p.GoSymbols != nil:
			t.Fatalf("package without symbols got %d", len(p.GoSymbols))
		}
	}
	if reflect.ValueOf(got.Packages[0].GoSymbols).Pointer() != reflect.ValueOf(got.Packages[299].GoSymbols).Pointer() {
		t.Error("one binary's set read back as separate copies")
	}
}
