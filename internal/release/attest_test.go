package release

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/supplychain"
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
