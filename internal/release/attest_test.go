package release

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/supplychain"
	"github.com/palisade-sec/palisade/internal/supplychain/sigstoretest"
	"github.com/palisade-sec/palisade/internal/testregistry"
)

// TestAttest: the release's SBOM and SLSA provenance attestations, signed
// with the release key and attached as cosign does, verify with the
// verifier `palisade verify image` uses, for a policy that requires both
// and conditions the provenance on the repository and commit; another
// key, or another commit, is refused.
func TestAttest(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	ctx := context.Background()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	img, _ := random.Image(128, 1)
	ref, _ := name.ParseReference(reg.Host+"/palisade-sec/palisade:ci", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	var doc strings.Builder
	if err := sbom.WriteCycloneDX(&doc, sbom.Document{Subject: sbom.Subject{Kind: sbom.SubjectImage, Name: ref.String(), Digest: d.String()},
		Packages: []sbom.Package{{Name: "golang.org/x/text", Version: "v0.3.8", Ecosystem: "Go", Type: "golang"}}, Created: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	prov := Provenance{Source: "https://github.com/palisade-sec/palisade", Commit: "0123abcd", Version: "v1.0.0"}
	if err := Attest(ctx, ref.Context(), d.String(), key, []byte(doc.String()), prov); err != nil {
		t.Fatal(err)
	}
	evs, err := supplychain.Fetch(ctx, ref.Context(), d.String())
	if err != nil {
		t.Fatal(err)
	}
	rule := func(k *ecdsa.PrivateKey, commit string) *supplychain.Rule {
		conds, err := supplychain.CompileConditions([]string{
			`predicate.buildDefinition.buildType == "` + BuildType + `"`,
			`predicate.buildDefinition.externalParameters.source == "https://github.com/palisade-sec/palisade"`,
			`predicate.buildDefinition.resolvedDependencies.exists(d, d.digest.gitCommit == "` + commit + `")`,
		})
		if err != nil {
			t.Fatal(err)
		}
		s := []supplychain.Signer{{Name: "release key", Key: k.Public()}}
		return &supplychain.Rule{Name: "release", Images: []string{"*"}, Attestations: []supplychain.AttestationRule{
			{Type: SLSAProvenanceV1, Signers: s, Conditions: conds}, {Type: CycloneDXBOM, Signers: s}}}
	}
	for _, tt := range []struct {
		name     string
		key      *ecdsa.PrivateKey
		commit   string
		verified bool
	}{
		{"the release key and commit", key, "0123abcd", true},
		{"another key", other, "0123abcd", false},
		{"another commit", key, "ffff", false},
	} {
		dec := (&supplychain.Verifier{}).Evaluate(rule(tt.key, tt.commit), ref.Context().Name(), d.String(), evs)
		if dec.Verified != tt.verified {
			t.Errorf("%s: verified %v, want %v: %+v", tt.name, dec.Verified, tt.verified, dec.Checks)
		}
	}
}

// TestKeylessReleasePolicy: the documented policy for release images
// signed keylessly by Palisade's GitHub Actions release workflow
// (testdata/keyless-release-policy.yaml, shown in docs/supply-chain.md)
// accepts a signature and attestations made with that identity and
// refuses them from a fork's workflow or a pull_request run. The keyless
// evidence comes from sigstoretest's in-process Fulcio, Rekor and TSA (no
// OIDC exchange happens), with its trusted root in place of Sigstore's.
func TestKeylessReleasePolicy(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	ctx := context.Background()
	ss := sigstoretest.New(t)
	dir := t.TempDir()
	for src, dst := range map[string]string{"testdata/keyless-release-policy.yaml": "policy.yaml", ss.RootPath: "trusted_root.json"} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p, err := supplychain.LoadPolicy(ctx, filepath.Join(dir, "policy.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	rule := p.Applies("ghcr.io/palisade-sec/palisade")
	if rule == nil {
		t.Fatal("no rule for ghcr.io/palisade-sec/palisade")
	}
	const (
		issuer   = "https://token.actions.githubusercontent.com"
		workflow = "https://github.com/palisade-sec/palisade/.github/workflows/release.yml@refs/tags/v1.2.3"
		fork     = "https://github.com/evil/palisade/.github/workflows/release.yml@refs/tags/v1.2.3"
	)
	// Fulcio's extensions (OID arcs under 1.3.6.1.4.1.57264.1): source
	// repository URI (12), ref (14), build trigger (20).
	claims := func(repo, trigger string) map[int]string {
		return map[int]string{12: repo, 14: "refs/tags/v1.2.3", 20: trigger}
	}
	for i, tt := range []struct {
		name     string
		opts     sigstoretest.KeylessOpts
		verified bool
	}{
		{"the release workflow on a tag push", sigstoretest.KeylessOpts{Subject: workflow, Issuer: issuer, Claims: claims("https://github.com/palisade-sec/palisade", "push")}, true},
		{"a fork's release workflow", sigstoretest.KeylessOpts{Subject: fork, Issuer: issuer, Claims: claims("https://github.com/evil/palisade", "push")}, false},
		{"a pull_request run", sigstoretest.KeylessOpts{Subject: workflow, Issuer: issuer, Claims: claims("https://github.com/palisade-sec/palisade", "pull_request")}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			img, _ := random.Image(128, 1)
			ref, _ := name.ParseReference(fmt.Sprintf("%s/palisade-sec/palisade-%d:v1.2.3", reg.Host, i), name.Insecure)
			if err := remote.Write(ref, img); err != nil {
				t.Fatal(err)
			}
			d, _ := img.Digest()
			for _, st := range []struct {
				predicateType string
				predicate     any
			}{
				{supplychain.SignPredicateType, map[string]any{}},
				{SLSAProvenanceV1, map[string]any{"buildDefinition": map[string]any{"buildType": BuildType,
					"externalParameters": map[string]any{"source": "https://github.com/palisade-sec/palisade", "version": "v1.2.3"}},
					"runDetails": map[string]any{"builder": map[string]any{"id": workflow}}}},
				{CycloneDXBOM, map[string]any{"bomFormat": "CycloneDX", "specVersion": "1.6"}},
			} {
				b := ss.KeylessBundle(t, sigstoretest.Statement(t, d.String(), st.predicateType, st.predicate), tt.opts)
				if _, err := supplychain.AttachBundle(ctx, ref.Context(), d.String(), b); err != nil {
					t.Fatal(err)
				}
			}
			evs, err := supplychain.Fetch(ctx, ref.Context(), d.String())
			if err != nil {
				t.Fatal(err)
			}
			dec := (&supplychain.Verifier{Root: p.Root}).Evaluate(rule, "ghcr.io/palisade-sec/palisade", d.String(), evs)
			if dec.Verified != tt.verified || len(dec.Checks) != 3 {
				t.Fatalf("verified %v, want %v: %+v %v", dec.Verified, tt.verified, dec.Checks, dec.Unreadable)
			}
		})
	}
}
