package imagescan

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/palisade-sec/palisade/internal/image"
	. "github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
)

// layerReads records which layers (1-based) a scan opened.
type layerReads struct {
	mu     sync.Mutex
	layers []int
}

func (r *layerReads) progress(p Progress) {
	if p.Stage != "reading" || p.Bytes != 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.layers, p.Layer) {
		r.layers = append(r.layers, p.Layer)
	}
}

// TestLayerCacheBookworm scans the debootstrap bookworm image, then a
// second image built here on the same base layer with a layer of its own
// (a new dpkg status with one more package, a secret, a whiteout of
// os-release's neighbour): the second scan reads only its own layer, and
// finds exactly what a scan without any cache finds (packages, the layer
// of each, vulnerabilities, secrets).
func TestLayerCacheBookworm(t *testing.T) {
	dir := Bookworm(t)
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	base, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := image.Walk(t.Context(), base, image.SelectPaths("var/lib/dpkg/status"), image.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	status, err := fsys.ReadFile("var/lib/dpkg/status")
	if err != nil {
		t.Fatal(err)
	}
	own := Layer(t,
		File("var/lib/dpkg/status", string(status)+"\n"+DpkgStanza("palisade-test", "1.0-1", "")),
		File("srv/app/.env", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"),
		Whiteout("etc/issue.net"),
	)
	img2, err := mutate.AppendLayers(base, own)
	if err != nil {
		t.Fatal(err)
	}
	dir2 := Layout(t, img2)
	cacheDir := debianDB(t, bookwormRecords(), time.Now())
	layers, err := NewLayerDiskCache(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}

	var first layerReads
	if _, err := Scan(t.Context(), "oci:"+dir, Options{CacheDir: cacheDir, Layers: layers, Progress: first.progress}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(first.layers, []int{1}) {
		t.Fatalf("first scan read layers %v", first.layers)
	}
	var second layerReads
	start := time.Now()
	got, err := Scan(t.Context(), "oci:"+dir2, Options{CacheDir: cacheDir, Layers: layers, Progress: second.progress})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second image, base layer from the cache: %v; layer cache %d bytes", time.Since(start), layers.Size())
	if !slices.Equal(second.layers, []int{2}) {
		t.Errorf("second scan read layers %v, want only its own (2)", second.layers)
	}
	want, err := Scan(t.Context(), "oci:"+dir2, Options{CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	if len(want.SBOM.Packages) != 89 {
		t.Fatalf("uncached scan: %d packages", len(want.SBOM.Packages))
	}
	gj, _ := json.Marshal([]any{got.SBOM.Packages, got.Report.Findings, got.Report.Problems})
	wj, _ := json.Marshal([]any{want.SBOM.Packages, want.Report.Findings, want.Report.Problems})
	if string(gj) != string(wj) {
		t.Errorf("scan with the layer cache differs from one without:\n%s\nwant\n%s", gj, wj)
	}
	ownDigest := Digest(t, own)
	for _, p := range got.SBOM.Packages {
		if (p.Name == "palisade-test") != (p.LayerDigest == ownDigest) {
			t.Errorf("%s: layer %s", p.Name, p.LayerDigest)
		}
	}
}
