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
	"time"
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
		{"wrong kind", strings.Replace(good, "ImageVerificationPolicy", "Policy", 1), "want apiVersion palisade.io/v1alpha1 kind ImageVerificationPolicy"},
		{"keyless without root", strings.Replace(good, "  trustedRoot: trusted_root.json\n", "", 1), "policy.yaml:13: verifyImages[0] (shop): signers[1].keyless: keyless signer but no trusted root"},
		{"bad CEL", strings.Replace(good, `== "https://github.com/acme/shop"']`, `==']`, 1), "policy.yaml:20: verifyImages[0] (shop): attestations[0].conditions: condition 0"},
		{"bad regexp", strings.Replace(good, `'^https://github\.com/acme/shop/'`, `'(('`, 1), "policy.yaml:14: verifyImages[0] (shop): signers[1].keyless: regexp"},
		{"missing key file", strings.Replace(good, "key: cosign.pub", "key: nope.pub", 1), "policy.yaml:12: verifyImages[0] (shop): signers[0].key: key"},
		{"nothing required", head + "  verifyImages:\n  - name: x\n    images: [\"*\"]\n", "a rule must require something"},
		{"no images", head + "  verifyImages:\n  - name: x\n    signers: [{key: cosign.pub}]\n", "policy.yaml:6: verifyImages[0] (x): images: at least one glob"},
		{"no rules", head + "  verifyImages: []\n", "at least one rule is required"},
		{"bad trusted root", strings.Replace(good, "trusted_root.json", "cosign.pub", 1), "policy.yaml:5: spec.trustedRoot"},
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

// TestParsePolicyInlineTrustedRoot: a policy from a fleet bundle carries
// its trusted root inline (as an object or as JSON text), is as old as
// the policy, and may name no file at all; the inline root verifies a
// keyless signature with nothing else.
func TestParsePolicyInlineTrustedRoot(t *testing.T) {
	ts := newTestSigstore(t)
	rootJSON, err := os.ReadFile(ts.rootPath)
	if err != nil {
		t.Fatal(err)
	}
	published := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	head := "apiVersion: palisade.io/v1alpha1\nkind: ImageVerificationPolicy\nmetadata: {name: fleet}\nspec:\n"
	rule := "  verifyImages:\n  - name: shop\n    images: [\"ghcr.io/acme/*\"]\n    signers:\n    - keyless: {issuer: " + ghIssuer + ", subject: " + ghSubject + "}\n"
	indented := "    " + strings.ReplaceAll(string(rootJSON), "\n", "\n    ")
	for _, tt := range []struct {
		name, body, wantErr string
	}{
		{"object", head + "  trustedRoot: " + string(rootJSON) + "\n" + rule, ""},
		{"JSON text", head + "  trustedRoot: |\n" + indented + "\n" + rule, ""},
		{"file refused in a bundle", head + "  trustedRoot: trusted_root.json\n" + rule, "fleet.yaml:5: spec.trustedRoot: a trusted root file cannot be used here"},
		{"key file refused in a bundle", head + "  verifyImages:\n  - images: [\"*\"]\n    signers: [{key: cosign.pub}]\n", "fleet.yaml:7: verifyImages[0]: signers[0].key: a key file cannot be used here"},
		{"not a trusted root", head + "  trustedRoot: {mediaType: nonsense}\n" + rule, "spec.trustedRoot: trusted root inline"},
		{"a list", head + "  trustedRoot: [1]\n" + rule, "want a file path or the trusted_root.json document"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePolicy(context.Background(), "fleet.yaml", []byte(tt.body), PolicySource{Updated: published})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Root == nil || p.Root.Path != InlineTrustedRoot || !p.Root.ModTime.Equal(published) || p.Root.Age(published.Add(time.Hour)) != time.Hour {
				t.Fatalf("root %+v", p.Root)
			}
			stmt := statement(t, testDigest, SignPredicateType, map[string]any{})
			b, err := ParseBundle(ts.keylessBundle(t, stmt, keylessOpts{Subject: ghSubject, Issuer: ghIssuer}))
			if err != nil {
				t.Fatal(err)
			}
			kind, pt, _ := classify(b)
			v := &Verifier{Root: p.Root}
			d := v.Evaluate(p.Applies("ghcr.io/acme/shop@"+testDigest), "ghcr.io/acme/shop", testDigest,
				[]Evidence{{Kind: kind, Format: FormatBundle, Source: "referrer", Bundle: b, PredicateType: pt}})
			if !d.Verified {
				t.Fatalf("decision %+v", d)
			}
		})
	}
}
