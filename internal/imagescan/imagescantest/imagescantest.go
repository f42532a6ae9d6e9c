// Package imagescantest builds the real parts that image-scanning tests and
// benchmarks need: images assembled from tar layers, Go binaries compiled
// against old, vulnerable modules, subsets of the real Go vulnerability
// database, hand-written OSV records, and the debootstrap bookworm image.
package imagescantest

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/palisade-sec/palisade/internal/vulndb/vulndbtest"
)

// Entry is one tar entry of a test layer.
type Entry struct {
	// Name is the path in the layer ("usr/bin/app", "etc/.wh.passwd").
	Name string
	// Body is a regular file's content; Link a symlink's or hardlink's target.
	Body []byte
	Link string
	// Type is tar.TypeReg (default), TypeDir, TypeSymlink or TypeLink.
	Type byte
	Mode int64
}

// File is a regular file entry.
func File(name, body string) Entry { return Entry{Name: name, Body: []byte(body)} }

// Exec is an executable regular file entry.
func Exec(name string, body []byte) Entry { return Entry{Name: name, Body: body, Mode: 0o755} }

// Whiteout deletes name (from lower layers).
func Whiteout(name string) Entry {
	dir, base := filepath.Split(name)
	return File(dir+".wh."+base, "")
}

// Tar returns an uncompressed tar of the entries.
func Tar(tb testing.TB, entries ...Entry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Mode: e.Mode, ModTime: time.Unix(1700000000, 0), Typeflag: e.Type, Linkname: e.Link}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write(e.Body); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// Layer is a gzip layer of the entries.
func Layer(tb testing.TB, entries ...Entry) v1.Layer {
	tb.Helper()
	return RawLayer(tb, Tar(tb, entries...))
}

// RawLayer is a gzip layer of an uncompressed tar stream (which may be
// hostile).
func RawLayer(tb testing.TB, tarData []byte) v1.Layer {
	tb.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarData)), nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// Image stacks layers (bottom first) into an image for a platform
// ("linux/amd64").
func Image(tb testing.TB, platform string, layers ...v1.Layer) v1.Image {
	tb.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		tb.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		tb.Fatal(err)
	}
	cf = cf.DeepCopy()
	p, err := v1.ParsePlatform(platform)
	if err != nil {
		tb.Fatal(err)
	}
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		tb.Fatal(err)
	}
	return img
}

// Index is a multi-arch index of the images, each with its config's platform.
func Index(tb testing.TB, imgs ...v1.Image) v1.ImageIndex {
	tb.Helper()
	var adds []mutate.IndexAddendum
	for _, img := range imgs {
		cf, err := img.ConfigFile()
		if err != nil {
			tb.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: cf.Platform()}})
	}
	return mutate.AppendManifests(empty.Index, adds...)
}

// Layout writes an image into a new OCI layout directory and returns it.
func Layout(tb testing.TB, img v1.Image) string {
	tb.Helper()
	dir := tb.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		tb.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// Digest is an image's or layer's digest as a string.
func Digest(tb testing.TB, x interface{ Digest() (v1.Hash, error) }) string {
	tb.Helper()
	d, err := x.Digest()
	if err != nil {
		tb.Fatal(err)
	}
	return d.String()
}

// OSRelease is Debian 12's os-release.
const OSRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
`

// DpkgStanza is one installed package of a dpkg status file; source may be
// "" (same as the package) or "name" or "name (version)".
func DpkgStanza(name, version, source string) string {
	s := "Package: " + name + "\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\n"
	if source != "" {
		s += "Source: " + source + "\n"
	}
	return s + "Version: " + version + "\nDescription: test package " + name + "\n"
}

// DpkgStatus joins stanzas into a status file.
func DpkgStatus(stanzas ...string) string { return strings.Join(stanzas, "\n") }

// VulnAppModule is the version of golang.org/x/text the vulnerable test
// program is built against: GO-2021-0113 (fixed 0.3.7) and GO-2022-1059
// (fixed 0.3.8) affect it.
const VulnAppModule = "golang.org/x/text@v0.3.5"

const vulnAppMain = `// Command vulnapp depends on an old, vulnerable golang.org/x/text.
package main

import (
	"fmt"
	"os"

	"golang.org/x/text/language"
)

func main() {
	tag, err := language.Parse(os.Args[len(os.Args)-1])
	fmt.Println(tag, err)
}
`

const vulnAppGoMod = `module example.com/vulnapp

go 1.22

require golang.org/x/text v0.3.5
`

const vulnAppGoSum = `golang.org/x/text v0.3.5 h1:i6eZZ+zk0SOf0xgBpEpPD18qWcJda6q1sxt3S0kzyUQ=
golang.org/x/text v0.3.5/go.mod h1:5Zoc/QRtKVWzQhOtBMvqHzDpF6irO9z98xDceosuGiQ=
golang.org/x/tools v0.0.0-20180917221912-90fa682c2a6e/go.mod h1:n7NCudcB/nEzxVGmLbDWY5pfWTLqBcC2KZ6jyYvM4mQ=
`

// VulnApp builds, for linux/goarch, a program that depends on
// golang.org/x/text v0.3.5 and returns the binary's bytes. It needs the Go
// tool and the module proxy (or a module cache holding x/text v0.3.5); the
// test is skipped without them unless PALISADE_REQUIRE_NETWORK_DATA is set.
func VulnApp(tb testing.TB, goarch string) []byte {
	tb.Helper()
	dir := tb.TempDir()
	for name, body := range map[string]string{"main.go": vulnAppMain, "go.mod": vulnAppGoMod, "go.sum": vulnAppGoSum} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	out := filepath.Join(dir, "vulnapp")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		if os.Getenv("PALISADE_REQUIRE_NETWORK_DATA") == "" {
			tb.Skipf("go build vulnapp (needs the module proxy): %v\n%s", err, b)
		}
		tb.Fatalf("go build vulnapp: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// GoVulnRecords copies the records of the real Go vulnerability database
// (vulndbtest.GoVulnDB) that name one of the modules into a new directory,
// so a test can import them without importing all 4,800.
func GoVulnRecords(tb testing.TB, modules ...string) string {
	tb.Helper()
	src := vulndbtest.GoVulnDB(tb)
	dst := tb.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		var rec struct {
			Affected []struct {
				Package struct{ Name string } `json:"package"`
			} `json:"affected"`
		}
		if json.Unmarshal(b, &rec) != nil {
			continue
		}
		for _, a := range rec.Affected {
			if contains(modules, a.Package.Name) {
				if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
					tb.Fatal(err)
				}
				n++
				break
			}
		}
	}
	if n == 0 {
		tb.Fatalf("no Go vulnerability record names %v", modules)
	}
	return dst
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// DebianRecord is a hand-made OSV record in the form of OSV's Debian export:
// source package src of Debian 12 affected from the start up to fixed ("" =
// no fix yet), with a CVE upstream and a CVSS 3.1 vector.
func DebianRecord(id, cve, src, fixed, vector string) []byte {
	events := []map[string]string{{"introduced": "0"}}
	if fixed != "" {
		events = append(events, map[string]string{"fixed": fixed})
	}
	rec := map[string]any{
		"schema_version": "1.6.0",
		"id":             id,
		"modified":       "2026-01-01T00:00:00Z",
		"published":      "2025-06-01T00:00:00Z",
		"upstream":       []string{cve},
		"summary":        src + ": hand-made test advisory " + cve,
		"details":        "Written for Palisade's image-scanning tests, modelled on OSV's Debian export.",
		"affected": []map[string]any{{
			"package": map[string]string{"ecosystem": "Debian:12", "name": src, "purl": "pkg:deb/debian/" + src + "?arch=source"},
			"ranges":  []map[string]any{{"type": "ECOSYSTEM", "events": events}},
		}},
	}
	if vector != "" {
		rec["severity"] = []map[string]string{{"type": "CVSS_V3", "score": vector}}
	}
	b, _ := json.MarshalIndent(rec, "", "  ")
	return b
}

// WriteRecords writes OSV records (ID -> JSON) into a new directory.
func WriteRecords(tb testing.TB, recs map[string][]byte) string {
	tb.Helper()
	dir := tb.TempDir()
	for id, b := range recs {
		if err := os.WriteFile(filepath.Join(dir, id+".json"), b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// Bookworm returns the OCI layout of the debootstrap bookworm image that
// hack/images/debian-bookworm.sh builds and caches. The test is skipped
// when it is not built, unless PALISADE_REQUIRE_IMAGES=1 (as CI sets).
func Bookworm(tb testing.TB) string {
	tb.Helper()
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	dir := filepath.Join(cache, "palisade", "images", "debian-bookworm")
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		msg := "debootstrap bookworm image not built: run hack/images/debian-bookworm.sh (or hack/ci/images.sh); looked in " + dir
		if os.Getenv("PALISADE_REQUIRE_IMAGES") == "1" {
			tb.Fatal(msg + "; PALISADE_REQUIRE_IMAGES=1 makes this a failure")
		}
		tb.Skip(msg)
	}
	return dir
}

// BookwormImage is Bookworm's image (its layout's first manifest), to
// push to a registry.
func BookwormImage(tb testing.TB) v1.Image {
	tb.Helper()
	idx, err := layout.ImageIndexFromPath(Bookworm(tb))
	if err != nil {
		tb.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil || len(m.Manifests) == 0 {
		tb.Fatalf("bookworm layout: %v", err)
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		tb.Fatal(err)
	}
	return img
}
