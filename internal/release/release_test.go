package release

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

var epoch = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func sha(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// buildHello builds the small test program for both platforms.
func buildHello(t *testing.T, out string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bins := map[string]string{}
	for _, p := range Platforms {
		b, err := BuildBinary(ctx, BuildOptions{ModuleDir: "../..", Package: "./internal/release/testdata/hello", OutDir: out, Version: "v0.0.0-test", Commit: "abc123", Epoch: epoch}, p)
		if err != nil {
			t.Fatal(err)
		}
		bins[p.String()] = b
	}
	return bins
}

// TestReproducible builds the binaries twice, into different
// directories, and assembles the images twice: same bytes, same digests.
func TestReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go binaries for two platforms twice")
	}
	first, second := buildHello(t, t.TempDir()), buildHello(t, t.TempDir())
	for p := range first {
		if sha(t, first[p]) != sha(t, second[p]) {
			t.Errorf("%s: binaries differ between builds", p)
		}
	}
	// The go command's cache would hand back the first build: build once
	// more from an empty cache and a different directory.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	fresh, err := BuildBinary(ctx, BuildOptions{ModuleDir: "../..", Package: "./internal/release/testdata/hello", OutDir: t.TempDir(),
		Version: "v0.0.0-test", Commit: "abc123", Epoch: epoch, Env: []string{"GOCACHE=" + t.TempDir()}}, Platforms[0])
	if err != nil {
		t.Fatal(err)
	}
	if sha(t, fresh) != sha(t, first[Platforms[0].String()]) {
		t.Error("a build from an empty cache differs")
	}
	o := ImageOptions{Epoch: epoch, Labels: map[string]string{"org.opencontainers.image.revision": "abc123"}}
	a1, err := Assemble(first, DefaultCACerts, o)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := Assemble(second, DefaultCACerts, o)
	if err != nil {
		t.Fatal(err)
	}
	if d1, d2 := Digest(a1.Index), Digest(a2.Index); d1 != d2 || d1 == "" {
		t.Errorf("index digests differ: %s, %s", d1, d2)
	}
	// Another epoch is another image.
	a3, err := Assemble(first, DefaultCACerts, ImageOptions{Epoch: epoch.Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if Digest(a3.Index) == Digest(a1.Index) {
		t.Error("epoch does not reach the digest")
	}
	checkImages(t, a1)
}

// checkImages checks what the guidelines ask of an application image.
func checkImages(t *testing.T, a *Artifacts) {
	t.Helper()
	im, err := a.Index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 2 || im.Manifests[0].Platform.Architecture != "amd64" || im.Manifests[1].Platform.Architecture != "arm64" {
		t.Fatalf("index manifests %+v", im.Manifests)
	}
	for p, img := range a.Images {
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Config.User != "65532:65532" || len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != BinaryPath {
			t.Errorf("%s: config %+v", p, cf.Config)
		}
		if !cf.Created.Time.Equal(epoch) {
			t.Errorf("%s: created %v", p, cf.Created)
		}
		files := imageFiles(t, img)
		for _, want := range []string{"etc/passwd", "etc/group", "tmp/", strings.TrimPrefix(CACertsPath, "/"), strings.TrimPrefix(BinaryPath, "/")} {
			if _, ok := files[want]; !ok {
				t.Errorf("%s: no %s in %v", p, want, files)
			}
		}
		for name, h := range files {
			if strings.HasPrefix(name, "bin/") || strings.HasSuffix(name, "/sh") || strings.HasSuffix(name, "bash") {
				t.Errorf("%s: shell-like file %s", p, name)
			}
			if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(epoch) {
				t.Errorf("%s: %s owner %d:%d time %v", p, name, h.Uid, h.Gid, h.ModTime)
			}
		}
		if files["tmp/"].Mode != 0o1777 || files[strings.TrimPrefix(BinaryPath, "/")].Mode != 0o555 {
			t.Errorf("%s: modes /tmp %o, binary %o", p, files["tmp/"].Mode, files[strings.TrimPrefix(BinaryPath, "/")].Mode)
		}
		if !strings.Contains(string(files["etc/passwd"].data), "nonroot:x:65532:65532:") {
			t.Errorf("%s: passwd %q", p, files["etc/passwd"].data)
		}
	}
}

type fileHeader struct {
	*tar.Header
	data []byte
}

func imageFiles(t *testing.T, img v1.Image) map[string]fileHeader {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]fileHeader{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		var prev string
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Name < prev {
				t.Errorf("tar entries not sorted: %s after %s", h.Name, prev)
			}
			prev = h.Name
			var data []byte
			if h.Name == "etc/passwd" {
				data, _ = io.ReadAll(tr)
			}
			out[h.Name] = fileHeader{h, data}
		}
		rc.Close()
	}
	return out
}

// TestDeployPinned is the check that every image reference under deploy/
// names a digest (or the placeholder the release step replaces).
func TestDeployPinned(t *testing.T) {
	refs, err := DeployImages("../../deploy")
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) == 0 {
		t.Fatal("no image references found under deploy/")
	}
	for _, r := range Unpinned(refs, true) {
		t.Errorf("%s: not pinned by digest (use @sha256:%s in the source)", r, Placeholder)
	}
}

func TestRewriteDeploy(t *testing.T) {
	const repo = "ghcr.io/palisade-sec/palisade"
	digest := "sha256:" + strings.Repeat("ab", 32)
	old := "sha256:" + strings.Repeat("cd", 32)
	dir := t.TempDir()
	in := strings.Join([]string{
		"spec:",
		"  containers:",
		"  - name: a",
		"    image: " + repo + "@sha256:" + Placeholder,
		"  - name: b",
		"    image: \"" + repo + ":latest\"",
		"  - image: " + repo + "@" + old + " # pinned by release",
		"  - name: other",
		"    image: registry.example.com/other@" + old,
		"    image: " + repo + "-agent:1.0",
		"",
	}, "\n")
	path := filepath.Join(dir, "app.yaml")
	if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	changed, err := RewriteDeploy(dir, repo, digest)
	if err != nil || len(changed) != 1 {
		t.Fatalf("changed %v, %v", changed, err)
	}
	refs, err := DeployImages(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{repo + "@" + digest, repo + "@" + digest, repo + "@" + digest, "registry.example.com/other@" + old, repo + "-agent:1.0"}
	for i, r := range refs {
		if r.Ref != want[i] {
			t.Errorf("line %d: %s, want %s", r.Line, r.Ref, want[i])
		}
	}
	if bad := Unpinned(refs, false); len(bad) != 1 || bad[0].Ref != repo+"-agent:1.0" {
		t.Errorf("unpinned %v", bad)
	}
	if _, err := RewriteDeploy(dir, repo, "latest"); err == nil {
		t.Error("a non-digest was accepted")
	}
}
