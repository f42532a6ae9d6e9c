package release

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"helm.sh/helm/v4/pkg/chart/v2/loader"

	"github.com/palisade-sec/palisade/internal/testregistry"
)

const chartSource = "../../deploy/helm/palisade"

// copyChart copies the source chart, as the release copies deploy/.
func copyChart(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "palisade")
	if err := os.CopyFS(dst, os.DirFS(chartSource)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestPinChart: the release's RewriteDeploy pins the chart's image values
// (values.yaml's image.digest, agent.image.digest of the agent's
// repository and runtime.image.digest of the sensor's), leaves templates
// and other repositories alone, and DeployImages sees the chart's images
// and not its templates' `image:` lines.
func TestPinChart(t *testing.T) {
	dir := copyChart(t)
	before, err := DeployImages(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != 3 {
		t.Fatalf("chart images %v, want image, agent.image and runtime.image", before)
	}
	if bad := Unpinned(before, false); len(bad) != 3 {
		t.Fatalf("source chart: unpinned %v, want all three (placeholders)", bad)
	}
	tmplBefore, _ := os.ReadFile(filepath.Join(dir, "templates/hub/hub.yaml"))
	d1 := "sha256:" + strings.Repeat("1a", 32)
	d2 := "sha256:" + strings.Repeat("2b", 32)
	tests := []struct {
		repo, digest string
		wantChanged  int
		wantUnpinned int
	}{
		{"ghcr.io/palisade-sec/palisade", d1, 1, 2},
		{"ghcr.io/palisade-sec/palisade-agent", d2, 1, 1},
		{"ghcr.io/palisade-sec/palisade-runtime", d2, 1, 0},
		{"ghcr.io/palisade-sec/other", d2, 0, 0},
		// A later release re-pins an older digest.
		{"ghcr.io/palisade-sec/palisade", d2, 1, 0},
	}
	for _, tc := range tests {
		changed, err := RewriteDeploy(dir, tc.repo, tc.digest)
		if err != nil {
			t.Fatal(err)
		}
		if len(changed) != tc.wantChanged {
			t.Errorf("%s: changed %v, want %d file(s)", tc.repo, changed, tc.wantChanged)
		}
		refs, err := DeployImages(dir)
		if err != nil {
			t.Fatal(err)
		}
		if bad := Unpinned(refs, false); len(bad) != tc.wantUnpinned {
			t.Errorf("after pinning %s: unpinned %v", tc.repo, bad)
		}
	}
	ch, err := loader.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	img := ch.Values["image"].(map[string]any)
	agent := ch.Values["agent"].(map[string]any)["image"].(map[string]any)
	runtime := ch.Values["runtime"].(map[string]any)["image"].(map[string]any)
	if img["digest"] != d2 || agent["digest"] != d2 || runtime["digest"] != d2 {
		t.Errorf("values after pinning: image %v, agent.image %v, runtime.image %v", img, agent, runtime)
	}
	if tmplAfter, _ := os.ReadFile(filepath.Join(dir, "templates/hub/hub.yaml")); !bytes.Equal(tmplBefore, tmplAfter) {
		t.Error("a template was rewritten")
	}
}

// TestPublishChart pushes the chart to a real registry as helm's OCI
// artifact, signs it as the images are signed, verifies the signature
// (and refuses another key), pulls it back and loads it with Helm.
func TestPublishChart(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := copyChart(t)
	d := "sha256:" + strings.Repeat("3c", 32)
	for _, repo := range []string{"ghcr.io/palisade-sec/palisade", "ghcr.io/palisade-sec/palisade-agent", "ghcr.io/palisade-sec/palisade-runtime"} {
		if _, err := RewriteDeploy(dir, repo, d); err != nil {
			t.Fatal(err)
		}
	}
	epoch := time.Unix(1790000000, 0).UTC()
	c, err := PackageChart(dir, "v1.2.3", epoch)
	if err != nil {
		t.Fatal(err)
	}
	again, err := PackageChart(dir, "v1.2.3", epoch)
	if err != nil || !bytes.Equal(c.Archive, again.Archive) {
		t.Errorf("packaging twice gave different archives (%v)", err)
	}
	if c.Name != "palisade" || c.Version != "1.2.3" {
		t.Errorf("packaged %s %s", c.Name, c.Version)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	repo := reg.Host + "/palisade-sec/charts/palisade"
	opts := []remote.Option{remote.WithTransport(http.DefaultTransport)}
	digest, err := PublishChart(ctx, c, repo, key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(ctx, repo, []string{digest}, &key.PublicKey, opts...); err != nil {
		t.Errorf("verify: %v", err)
	}
	if err := Verify(ctx, repo, []string{digest}, &other.PublicKey, opts...); err == nil {
		t.Error("another key's verification passed")
	}
	archive, err := FetchChart(ctx, repo, digest, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(archive, c.Archive) {
		t.Error("pulled archive differs from the pushed one")
	}
	ch, err := loader.LoadArchive(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	if got := ch.Values["image"].(map[string]any)["digest"]; got != d || ch.Metadata.AppVersion != "v1.2.3" {
		t.Errorf("pulled chart: image.digest %v, appVersion %s", got, ch.Metadata.AppVersion)
	}
	// The tag is the version, as helm push names it.
	if _, err := remote.Head(mustTag(t, repo+":1.2.3"), opts...); err != nil {
		t.Errorf("tag 1.2.3: %v", err)
	}
}

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s, name.WeakValidation)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}
