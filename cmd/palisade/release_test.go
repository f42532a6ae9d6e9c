package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	. "github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
	"github.com/palisade-sec/palisade/internal/release"
	"github.com/palisade-sec/palisade/internal/testregistry"
)

// TestReleaseEndToEnd is the release pipeline against a real registry:
// build (a small program in place of palisade, to keep the test fast;
// hack/ci/release-check.sh builds palisade itself), push, sign, attach
// SBOMs, verify with the admission verifier, rewrite deploy manifests,
// and scan the pushed image with --fail-on high.
func TestReleaseEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go binaries for two platforms and starts a registry")
	}
	reg := testregistry.Start(t, testregistry.Options{})
	keys := t.TempDir()
	if _, stderr, code := palisade(t, "", "release", "keygen", keys); code != 0 {
		t.Fatalf("keygen: %s", stderr)
	}
	deploy := t.TempDir()
	repo := reg.Host + "/palisade-sec/palisade"
	manifest := "spec:\n  containers:\n  - name: palisade\n    image: " + repo + "@sha256:" + release.Placeholder + "\n"
	if err := os.WriteFile(filepath.Join(deploy, "install.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1790000000")
	args := []string{"release", "build", "--repo", repo, "--tag", "test", "--key", filepath.Join(keys, "cosign.key"),
		"--insecure-registry", "--package", "../../internal/release/testdata/hello", "--out", t.TempDir(),
		"--version", "v0.0.0-e2e", "--commit", "e2e", "--deploy-dir", deploy}
	out, stderr, code := palisade(t, "", args...)
	if code != 0 {
		t.Fatalf("release build: exit %d: %s", code, stderr)
	}
	ref := strings.TrimSpace(out)
	digest := strings.TrimPrefix(ref, repo+"@")
	if !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("release build printed %q", out)
	}

	// Reproducible: a second build of the same commit, not pushed, gives
	// the same index digest.
	again, stderr, code := palisade(t, "", append(args[:len(args)-2:len(args)-2], "--push=false")...)
	if code != 0 || strings.TrimSpace(again) != digest {
		t.Errorf("second build: %q (exit %d, %s), want %s", again, code, stderr, digest)
	}

	// Signed: every digest verifies with the public key, and not with another.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	idx, err := remote.Index(mustRef(t, ref), remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	digests := []string{digest}
	for _, m := range im.Manifests {
		digests = append(digests, m.Digest.String())
	}
	if out, stderr, code := palisade(t, "", append([]string{"release", "verify", "--repo", repo, "--key", filepath.Join(keys, "cosign.pub"), "--insecure-registry"}, digests...)...); code != 0 {
		t.Errorf("verify: exit %d: %s %s", code, out, stderr)
	}
	other := t.TempDir()
	palisade(t, "", "release", "keygen", other)
	if _, _, code := palisade(t, "", "release", "verify", "--repo", repo, "--key", filepath.Join(other, "cosign.pub"), "--insecure-registry", digest); code != 1 {
		t.Errorf("verify with another key: exit %d, want 1", code)
	}

	// Attested: SLSA provenance of this commit and the SBOM, signed with
	// the release key, verify for the policy docs/supply-chain.md gives
	// (hack/ci/release-check.sh uses the same), and not for another key.
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	writePolicy := func(pub string) {
		body := `apiVersion: palisade.io/v1alpha1
kind: ImageVerificationPolicy
metadata: {name: palisade-release}
spec:
  verifyImages:
  - name: palisade release
    images: ["` + reg.Host + `/palisade-sec/*"]
    signers:
    - name: release key
      key: ` + pub + `
    attestations:
    - type: slsaprovenance1
      conditions:
      - predicate.buildDefinition.buildType == "https://github.com/palisade-sec/palisade/release/v1"
      - predicate.buildDefinition.externalParameters.source == "https://github.com/palisade-sec/palisade"
      - predicate.buildDefinition.resolvedDependencies.exists(d, d.digest.gitCommit == "e2e")
    - type: cyclonedx
`
		if err := os.WriteFile(policy, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	refs := []string{}
	for _, d := range digests {
		refs = append(refs, repo+"@"+d)
	}
	writePolicy(filepath.Join(keys, "cosign.pub"))
	if out, stderr, code := palisade(t, "", append([]string{"verify", "image", "--policy", policy, "--insecure-registry", reg.Host}, refs...)...); code != 0 ||
		strings.Count(out, "attestation https://slsa.dev/provenance/v1") < len(refs) {
		t.Errorf("verify image with the release policy: exit %d:\n%s\n%s", code, out, stderr)
	}
	writePolicy(filepath.Join(other, "cosign.pub"))
	if _, _, code := palisade(t, "", "verify", "image", "--policy", policy, "--insecure-registry", reg.Host, refs[0]); code != 1 {
		t.Errorf("verify image with another key's policy: exit %d, want 1", code)
	}

	// SBOM attached: CycloneDX naming the binary's main module.
	sb, err := release.FetchSBOM(ctx, repo, im.Manifests[1].Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	var bom struct {
		BOMFormat  string `json:"bomFormat"`
		Components []struct {
			Name string `json:"name"`
		} `json:"components"`
	}
	if err := json.Unmarshal(sb, &bom); err != nil || bom.BOMFormat != "CycloneDX" {
		t.Fatalf("SBOM %s: %v", sb, err)
	}
	var names []string
	for _, c := range bom.Components {
		names = append(names, c.Name)
	}
	if !strings.Contains(strings.Join(names, " "), "github.com/palisade-sec/palisade") {
		t.Errorf("SBOM components %v", names)
	}

	// Deploy manifests pinned to the pushed digest.
	data, _ := os.ReadFile(filepath.Join(deploy, "install.yaml"))
	if !strings.Contains(string(data), ref) {
		t.Errorf("deploy not pinned: %s", data)
	}
	if out, _, code := palisade(t, "", "release", "check-deploy", "--strict", deploy); code != 0 {
		t.Errorf("check-deploy after the release: exit %d: %s", code, out)
	}

	// Scanned: the pushed image passes `scan image --fail-on high`. The Go
	// database rates nothing, so every stdlib advisory of the toolchain
	// that built the test binary is UNKNOWN and would fail the gate (as it
	// must for users); this test is about the release pipeline, not the
	// toolchain's patch level, hence --ignore-unknown-severity.
	cache := t.TempDir()
	recs := GoVulnRecords(t, "stdlib", "golang.org/x/text")
	if _, stderr, code := palisade(t, "", "db", "import", recs, "--name", "go-vulndb", "--cache-dir", cache); code != 0 {
		t.Fatalf("db import: %s", stderr)
	}
	for _, platform := range []string{"linux/amd64", "linux/arm64"} {
		out, stderr, code := palisade(t, "", "scan", "image", ref, "--platform", platform, "--insecure-registry", reg.Host, "--cache-dir", cache, "--fail-on", "high", "--ignore-unknown-severity")
		if code != 0 {
			t.Errorf("scan image %s: exit %d:\n%s\n%s", platform, code, out, stderr)
		}
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
