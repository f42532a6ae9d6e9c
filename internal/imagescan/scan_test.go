package imagescan

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/admission"
	"github.com/palisade-sec/palisade/internal/finding"
	. "github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/sbom/catalog"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

// The webhook's vulnerability gate takes a Scanner.
var _ admission.ImageScanner = (*Scanner)(nil)

// fakeGo is a stream cataloger that reports one package for every
// executable containing "FAKEGO <name>", so layer tests need no compiler.
type fakeGo struct{}

func (fakeGo) Name() string { return "go-binary" }
func (fakeGo) Wants(_ string, _ int64, mode fs.FileMode) bool {
	return mode.IsRegular() && mode&0o111 != 0
}
func (fakeGo) CatalogStream(_ context.Context, path string, r io.Reader) ([]sbom.Package, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	_, name, ok := bytes.Cut(b, []byte("FAKEGO "))
	if !ok {
		return nil, nil
	}
	return []sbom.Package{{Name: string(bytes.TrimSpace(name)), Version: "v1.0.0", Ecosystem: "Go", Type: "golang", Locations: []string{path}}}, nil
}

func fakeSet() *catalog.Set {
	s := catalog.Default()
	s.Streams = []catalog.StreamCataloger{fakeGo{}}
	return s
}

const awsKey = "AKIAZ7Q2WXK4N5P3R6T7"

// TestHiddenFilesAndLayers scans images whose upper layers delete,
// replace or hide files of lower ones: the streamed Go packages of hidden
// binaries must be gone, secrets of deleted files must stay (their bytes
// are still in the image), and every package carries the layer that
// introduced it.
func TestHiddenFilesAndLayers(t *testing.T) {
	base := Layer(t,
		File("etc/os-release", OSRelease),
		File("var/lib/dpkg/status", DpkgStatus(DpkgStanza("base-files", "12.4", ""), DpkgStanza("libc6", "2.36-9+deb12u4", "glibc"))),
		Exec("usr/bin/kept", []byte("\x7fELF FAKEGO example.com/kept")),
		Exec("usr/bin/deleted", []byte("\x7fELF FAKEGO example.com/deleted")),
		Exec("usr/bin/replaced", []byte("\x7fELF FAKEGO example.com/replaced")),
		Exec("opt/app/bin/opaque", []byte("\x7fELF FAKEGO example.com/opaque")),
		File("root/.aws/credentials", "[default]\naws_access_key_id = "+awsKey+"\n"),
	)
	upper := Layer(t,
		Whiteout("usr/bin/deleted"),
		File("usr/bin/replaced", "#!/bin/sh\necho no longer Go\n"),
		File("opt/app/.wh..wh..opq", ""),
		Whiteout("root/.aws/credentials"),
		// apt-get install in this layer rewrites the whole status file.
		File("var/lib/dpkg/status", DpkgStatus(DpkgStanza("base-files", "12.4", ""), DpkgStanza("libc6", "2.36-9+deb12u4", "glibc"), DpkgStanza("curl", "7.88.1-10", ""))),
	)
	top := Layer(t,
		Exec("usr/local/bin/added", []byte("\x7fELF FAKEGO example.com/added")),
		File("var/lib/dpkg/status", DpkgStatus(DpkgStanza("base-files", "12.4", ""), DpkgStanza("libc6", "2.36-9+deb12u9", "glibc"), DpkgStanza("curl", "7.88.1-10", ""))),
	)
	img := Image(t, "linux/amd64", base, upper, top)
	dir := Layout(t, img)
	ref := "oci:" + dir
	inv, err := Catalog(context.Background(), ref, Options{Catalogers: fakeSet(), Scanners: Scanners{Secret: true}})
	if err != nil {
		t.Fatal(err)
	}
	layer := []string{Digest(t, base), Digest(t, upper), Digest(t, top)}
	got := map[string]string{}
	for _, p := range inv.Packages {
		got[p.Name+" "+p.Version] = p.LayerDigest
	}
	want := map[string]string{
		"example.com/kept v1.0.0":  layer[0],
		"example.com/added v1.0.0": layer[2],
		"base-files 12.4":          layer[0], // unchanged since the base layer
		"curl 7.88.1-10":           layer[1], // installed by the middle layer
		"libc6 2.36-9+deb12u9":     layer[2], // upgraded by the top layer
	}
	if len(got) != len(want) {
		t.Errorf("packages %v, want %v", keys(got), keys(want))
	}
	for k, l := range want {
		if got[k] != l {
			t.Errorf("%s: layer %q, want %q (all: %v)", k, got[k], l, got)
		}
	}
	if inv.Image.Digest != Digest(t, img) || len(inv.Image.Layers) != 3 || inv.Image.Platform != "linux/amd64" {
		t.Errorf("image info %+v", inv.Image)
	}
	if len(inv.Secrets) != 1 || inv.Secrets[0].RuleID != "image-secret/aws-access-key-id" ||
		!strings.Contains(inv.Secrets[0].Message, "deleted or replaced later") || !strings.Contains(inv.Secrets[0].Message, layer[0]) ||
		strings.Contains(inv.Secrets[0].Message, awsKey) {
		t.Errorf("secrets: %+v", inv.Secrets)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestParseScanners(t *testing.T) {
	tests := []struct {
		in      []string
		want    Scanners
		wantErr bool
	}{
		{[]string{"vuln,secret"}, Scanners{Vuln: true, Secret: true}, false},
		{[]string{"vuln"}, Scanners{Vuln: true}, false},
		{[]string{"secret"}, Scanners{Secret: true}, false},
		{[]string{"secret", "vuln"}, Scanners{Vuln: true, Secret: true}, false},
		{[]string{"license"}, Scanners{}, true},
		{[]string{""}, Scanners{}, true},
	}
	for _, tt := range tests {
		got, err := ParseScanners(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseScanners(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestNoDatabase(t *testing.T) {
	dir := Layout(t, Image(t, "linux/amd64", Layer(t, File("etc/os-release", OSRelease))))
	// The error names the binary the caller says it is, palisade by default.
	for program, want := range map[string]string{
		"":              "run `palisade db update` or `palisade db import` (for air-gapped hosts, import a bundle made by `palisade db export`)",
		"palisade-scan": "run `palisade-scan db update` or `palisade-scan db import` (for air-gapped hosts, import a bundle made by `palisade-scan db export`)",
	} {
		_, err := Scan(context.Background(), "oci:"+dir, Options{CacheDir: t.TempDir(), Program: program})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "oci:"+dir) {
			t.Fatalf("program %q: error %v, want %q in it", program, err, want)
		}
	}
	// Secrets alone need no database.
	if _, err := Scan(context.Background(), "oci:"+dir, Options{CacheDir: t.TempDir(), Scanners: Scanners{Secret: true}}); err != nil {
		t.Fatal(err)
	}
}

// TestHostileLayer: a layer escaping the root is an error naming the image
// and the layer, never a crash.
func TestHostileLayer(t *testing.T) {
	evil := RawLayer(t, Tar(t, File("../../etc/evil", "x")))
	dir := Layout(t, Image(t, "linux/amd64", Layer(t, File("etc/os-release", OSRelease)), evil))
	_, err := Catalog(context.Background(), "oci:"+dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "image oci:"+dir) || !strings.Contains(err.Error(), "layer 1 ("+Digest(t, evil)) ||
		!strings.Contains(err.Error(), "climbs out of the image root") {
		t.Fatalf("error %v", err)
	}
}

// debianDB imports hand-made Debian records into a new cache directory.
func debianDB(t *testing.T, recs map[string][]byte, built time.Time) string {
	t.Helper()
	cache := vulndb.Cache{Dir: t.TempDir()}
	if _, err := cache.ImportOSV(context.Background(), WriteRecords(t, recs), "debian-test", built); err != nil {
		t.Fatal(err)
	}
	return cache.Dir
}

func TestScanMatchesVEXIgnoreUnfixedAndCache(t *testing.T) {
	const vector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
	img := Image(t, "linux/amd64", Layer(t,
		File("etc/os-release", OSRelease),
		File("var/lib/dpkg/status", DpkgStatus(DpkgStanza("libc6", "2.36-9+deb12u4", "glibc"), DpkgStanza("zlib1g", "1:1.2.13.dfsg-1", "zlib"))),
	))
	dir := Layout(t, img)
	cacheDir := debianDB(t, map[string][]byte{
		"DEBIAN-CVE-2026-1000": DebianRecord("DEBIAN-CVE-2026-1000", "CVE-2026-1000", "glibc", "2.36-9+deb12u5", vector),
		"DEBIAN-CVE-2026-1001": DebianRecord("DEBIAN-CVE-2026-1001", "CVE-2026-1001", "glibc", "2.36-9+deb12u3", vector), // fixed below
		"DEBIAN-CVE-2026-1002": DebianRecord("DEBIAN-CVE-2026-1002", "CVE-2026-1002", "zlib", "", ""),                    // no fix yet
	}, time.Now().Add(-30*24*time.Hour))
	ids := func(r *Result) []string {
		var out []string
		for _, f := range r.Report.Findings {
			s := f.RuleID
			if f.Suppressed {
				s += " (suppressed)"
			}
			out = append(out, s)
		}
		sort.Strings(out)
		return out
	}
	cache := NewMemoryCache(4)
	scanner := NewScanner(Options{CacheDir: cacheDir, Cache: cache})
	rep, err := scanner.Scan(context.Background(), "oci:"+dir)
	if err != nil {
		t.Fatal(err)
	}
	if cache.Len() != 1 || len(rep.Findings) != 2 {
		t.Fatalf("cache %d entries, findings %v", cache.Len(), rep.Findings)
	}
	res, err := Scan(context.Background(), "oci:"+dir, Options{CacheDir: cacheDir, Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Cached || strings.Join(ids(res), ",") != "DEBIAN-CVE-2026-1000,DEBIAN-CVE-2026-1002" {
		t.Fatalf("cached %v, findings %v", res.Cached, ids(res))
	}
	for _, f := range res.Report.Findings {
		v := f.Vulnerability
		if f.Object.Name != "oci:"+dir+"@"+Digest(t, img) || v.Layer != res.Image.Layers[0].Digest {
			t.Errorf("%s: object %v, layer %q", f.RuleID, f.Object, v.Layer)
		}
		switch f.RuleID {
		case "DEBIAN-CVE-2026-1000":
			if v.Package.Name != "libc6" || v.Package.SourceName != "glibc" || v.Installed != "2.36-9+deb12u4" || v.Fixed != "2.36-9+deb12u5" || f.Severity != finding.SeverityCritical {
				t.Errorf("glibc finding %+v %+v", f, v)
			}
		case "DEBIAN-CVE-2026-1002":
			if v.Fixed != "" || !strings.Contains(f.Message, "no fix yet") {
				t.Errorf("zlib finding %+v", f)
			}
		}
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "palisade db update") {
		t.Errorf("stale database: warnings %v", res.Warnings)
	}

	res, err = Scan(context.Background(), "oci:"+dir, Options{CacheDir: cacheDir, IgnoreUnfixed: true, MaxDBAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ids(res), ",") != "DEBIAN-CVE-2026-1000" || len(res.Warnings) != 0 {
		t.Errorf("--ignore-unfixed: %v, warnings %v", ids(res), res.Warnings)
	}
}

func TestMemoryCacheEvicts(t *testing.T) {
	c := NewMemoryCache(2)
	for _, k := range []string{"a", "b", "a", "c"} {
		c.Put(k, &Inventory{Image: ImageInfo{Ref: k}})
	}
	if _, ok := c.Get("b"); ok {
		t.Error("b should be evicted (least recently used)")
	}
	for _, k := range []string{"a", "c"} {
		if inv, ok := c.Get(k); !ok || inv.Image.Ref != k {
			t.Errorf("%s missing", k)
		}
	}
}

func TestImageInfoName(t *testing.T) {
	const d = "sha256:0123"
	tests := []struct{ ref, digest, want string }{
		{"registry.example/app:1", d, "registry.example/app:1@" + d},
		{"registry.example/app@" + d, d, "registry.example/app@" + d},
		{"registry.example/app@sha256:index", d, "registry.example/app@sha256:index"},
		{"rootfs:/srv/root", "", "rootfs:/srv/root"},
		{"oci:/x", d, "oci:/x@" + d},
	}
	for _, tt := range tests {
		if got := (ImageInfo{Ref: tt.ref, Digest: tt.digest}).Name(); got != tt.want {
			t.Errorf("Name(%q, %q) = %q, want %q", tt.ref, tt.digest, got, tt.want)
		}
	}
}

func TestCanceled(t *testing.T) {
	dir := Layout(t, Image(t, "linux/amd64", Layer(t, File("etc/os-release", OSRelease))))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Catalog(ctx, "oci:"+dir, Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v", err)
	}
}
