package supplychain

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadPolicy(t *testing.T) {
	ts := newTestSigstore(t)
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	if err := os.WriteFile(filepath.Join(dir, "cosign.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	rootData, _ := os.ReadFile(ts.rootPath)
	if err := os.WriteFile(filepath.Join(dir, "trusted_root.json"), rootData, 0o600); err != nil {
		t.Fatal(err)
	}
	head := "apiVersion: palisade.io/v1alpha1\nkind: ImageVerificationPolicy\nmetadata: {name: p}\nspec:\n"
	good := head + `  trustedRoot: trusted_root.json
  verifyImages:
  - name: shop
    images: ["ghcr.io/acme/*"]
    mutateDigest: true
    signers:
    - name: release
      key: cosign.pub
    - name: GitHub release
      keyless:
        issuer: https://token.actions.githubusercontent.com
        subjectRegexp: '^https://github\.com/acme/shop/'
        claims: {sourceRepositoryURI: https://github.com/acme/shop}
    attestations:
    - type: slsaprovenance1
      conditions: ['predicate.buildDefinition.externalParameters.workflow.repository == "https://github.com/acme/shop"']
`
	for _, tt := range []struct {
		name, body, wantErr string
	}{
		{"valid", good, ""},
		{"unknown field", strings.Replace(good, "mutateDigest", "mutateDigests", 1), `unknown field "mutateDigests"`},
		{"wrong kind", strings.Replace(good, "ImageVerificationPolicy", "Policy", 1), "want palisade.io/v1alpha1 ImageVerificationPolicy"},
		{"keyless without root", strings.Replace(good, "  trustedRoot: trusted_root.json\n", "", 1), "verifyImages[0] (shop): signers[1].keyless: keyless signer but no trusted root"},
		{"bad CEL", strings.Replace(good, `== "https://github.com/acme/shop"']`, `==']`, 1), "attestations[0].conditions: condition 0"},
		{"bad regexp", strings.Replace(good, `'^https://github\.com/acme/shop/'`, `'(('`, 1), "signers[1].keyless: regexp"},
		{"missing key file", strings.Replace(good, "key: cosign.pub", "key: nope.pub", 1), "signers[0].key: key"},
		{"nothing required", head + "  verifyImages:\n  - name: x\n    images: [\"*\"]\n", "a rule must require something"},
		{"no images", head + "  verifyImages:\n  - name: x\n    signers: [{key: cosign.pub}]\n", "images: at least one glob"},
		{"no rules", head + "  verifyImages: []\n", "at least one rule is required"},
		{"bad trusted root", strings.Replace(good, "trusted_root.json", "cosign.pub", 1), "spec.trustedRoot"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "policy.yaml")
			if err := os.WriteFile(path, []byte(tt.body), 0o600); err != nil {
				t.Fatal(err)
			}
			p, err := LoadPolicy(context.Background(), path, nil)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				r := p.Applies("ghcr.io/acme/shop:1.0")
				if r == nil || !r.MutateDigest || len(r.Signers) != 2 || len(r.Attestations) != 1 || len(r.Attestations[0].Signers) != 2 || r.Attestations[0].Type != slsaV1 {
					t.Fatalf("rule %+v", r)
				}
				if p.Applies("docker.io/library/nginx:1") != nil {
					t.Fatal("rule applies outside its glob")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}
