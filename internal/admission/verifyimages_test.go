package admission

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/palisade-sec/palisade/internal/supplychain"
	"github.com/palisade-sec/palisade/internal/supplychain/sigstoretest"
	"github.com/palisade-sec/palisade/internal/testregistry"
)

// attest attaches a DSSE envelope with an in-toto statement about digest,
// signed with key, under the legacy .att tag, as cosign attest does.
func attest(t testing.TB, key *ecdsa.PrivateKey, repo, digest, predicateType string, predicate any) {
	t.Helper()
	stmt, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": repo, "digest": map[string]string{"sha256": strings.TrimPrefix(digest, "sha256:")}}},
		"predicateType": predicateType,
		"predicate":     predicate,
	})
	if err != nil {
		t.Fatal(err)
	}
	const pt = "application/vnd.in-toto+json"
	pae := fmt.Sprintf("DSSEv1 %d %s %d %s", len(pt), pt, len(stmt), stmt)
	sum := sha256.Sum256([]byte(pae))
	sig, err := key.Sign(rand.Reader, sum[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := json.Marshal(map[string]any{
		"payloadType": pt, "payload": base64.StdEncoding.EncodeToString(stmt),
		"signatures": []any{map[string]string{"keyid": "", "sig": base64.StdEncoding.EncodeToString(sig)}},
	})
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	if err := supplychain.AttachLegacyAttestation(context.Background(), r, digest, env); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyImages runs spec.images.verifyImages through the webhook: a
// signature and a CycloneDX attestation whose CEL condition must hold, per
// repository glob; decisions name the rule and the failed requirement.
func TestVerifyImages(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	repo := reg.Host + "/shop/app"
	sbom := map[string]any{"bomFormat": "CycloneDX", "components": []any{map[string]any{"name": "openssl"}}}

	good := pushImage(t, repo+":good")
	sign(t, key, repo, good, good)
	attest(t, key, repo, good, "https://cyclonedx.org/bom", sbom)
	noSBOM := pushImage(t, repo+":no-sbom")
	sign(t, key, repo, noSBOM, noSBOM)
	badSBOM := pushImage(t, repo+":bad-sbom")
	sign(t, key, repo, badSBOM, badSBOM)
	attest(t, key, repo, badSBOM, "https://cyclonedx.org/bom", map[string]any{"bomFormat": "SPDX"})
	unsigned := pushImage(t, repo+":unsigned")

	ts := newTestServer(t, policyHeader+fmt.Sprintf(`spec:
  rules: [pss-baseline]
  images:
    registry: {timeout: 2s}
    verifyImages:
    - name: shop
      images: ["%s/shop/*"]
      mutateDigest: true
      signers:
      - name: release
        key: |
%s
      attestations:
      - type: cyclonedx
        conditions: ['predicate.bomFormat == "CycloneDX"']
`, reg.Host, indent(publicPEM(t, &key.PublicKey), 10)), Options{})

	t.Run("mutateDigest pins the tag", func(t *testing.T) {
		resp, _, body := ts.post(t, EndpointMutate, reviewFor(t, pod("p", container("a", repo+":good")), podGVK, "prod", reviewOpts{}))
		if !resp.Allowed || !strings.Contains(string(resp.Patch), repo+":good@"+good) {
			t.Fatalf("want a patch pinning %s: %s", good, body)
		}
	})
	for _, tt := range []struct {
		name, image string
		allowed     bool
		want        []string
	}{
		{"signed with its SBOM", repo + ":good@" + good, true, nil},
		{"no SBOM", repo + ":no-sbom@" + noSBOM, false, []string{"[" + RuleAttestation + "]", `verifyImages rule "shop"`, "no attestation of type https://cyclonedx.org/bom found"}},
		{"SBOM fails the condition", repo + ":bad-sbom@" + badSBOM, false, []string{"[" + RuleAttestation + "]", `predicate.bomFormat == \"CycloneDX\"`, "is false"}},
		{"unsigned", repo + ":unsigned@" + unsigned, false, []string{"[" + RuleSignature + "]", "no cosign signature found"}},
		{"tag not pinned", repo + ":good", false, []string{"is not pinned by digest", "mutateDigest"}},
		{"not covered by the rule", reg.Host + "/other/app@" + unsigned, true, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, _, body := ts.post(t, EndpointValidate, reviewFor(t, pod("p", container("a", tt.image)), podGVK, "prod", reviewOpts{}))
			if resp.Allowed != tt.allowed {
				t.Fatalf("allowed %v, want %v: %s", resp.Allowed, tt.allowed, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(resp.Result.Message, w) {
					t.Errorf("message %q, want %q", resp.Result.Message, w)
				}
			}
		})
	}
	// Verified once per digest: later reviews are served from the cache.
	before := ts.decider.images.verifications.stats()
	for range 3 {
		ts.post(t, EndpointValidate, reviewFor(t, pod("p", container("a", repo+":good@"+good)), podGVK, "prod", reviewOpts{}))
	}
	after := ts.decider.images.verifications.stats()
	if after.misses != before.misses || after.hits != before.hits+3 {
		t.Errorf("verification cache: before %+v after %+v, want 3 hits and no miss", before, after)
	}
}

// TestTrustedRootAgeMetric: the trusted root's age is exported, so an
// operator sees how stale an offline cluster's trust is.
func TestTrustedRootAgeMetric(t *testing.T) {
	ss := sigstoretest.New(t)
	rootPath := ss.RootPath
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(rootPath, old, old); err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, policyHeader+fmt.Sprintf(`spec:
  images:
    trustedRoot: %s
    verifyImages:
    - name: keyless
      images: ["ghcr.io/acme/*"]
      signers:
      - keyless: {subject: a@example.com, issuer: https://accounts.example.com}
`, rootPath), Options{})
	mfs, err := ts.Metrics().Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "palisade_admission_trusted_root_age_seconds" {
			if age := mf.GetMetric()[0].GetGauge().GetValue(); age < 47*3600 || age > 49*3600 {
				t.Fatalf("trusted root age %v s, want about 48 h", age)
			}
			return
		}
	}
	t.Fatal("no palisade_admission_trusted_root_age_seconds metric")
}

// TestInlineTrustedRoot: an admission bundle from the hub carries the
// trusted root inline (it may name no file); the webhook uses it offline
// and counts its age from the policy file's writing (the ConfigMap the
// agent wrote); verifyImages errors name the line of the field at fault.
func TestInlineTrustedRoot(t *testing.T) {
	ss := sigstoretest.New(t)
	rootJSON, err := os.ReadFile(ss.RootPath)
	if err != nil {
		t.Fatal(err)
	}
	body := func(trustedRoot, condition string) string {
		return policyHeader + fmt.Sprintf(`spec:
  images:
    trustedRoot: %s
    verifyImages:
    - name: keyless
      images: ["ghcr.io/acme/*"]
      signers:
      - keyless: {subject: a@example.com, issuer: https://accounts.example.com}
      attestations:
      - type: slsaprovenance1
        conditions: ['%s']
`, trustedRoot, condition)
	}
	ctx := context.Background()
	if err := ValidateBundlePolicy(ctx, "admission/fleet", []byte(body(string(rootJSON), "true"))); err != nil {
		t.Fatalf("inline trusted root refused in a bundle: %v", err)
	}
	for _, tt := range []struct{ name, body, want string }{
		{"a file in a bundle", body("trusted_root.json", "true"), "admission/fleet:7: spec.images.trustedRoot: a trusted root file cannot be used here"},
		{"a condition that does not compile", body(string(rootJSON), "predicate =="), `admission/fleet:15: spec.images.verifyImages[0] (keyless): attestations[0].conditions: condition 0 "predicate =="`},
		{"a keyless signer without a subject", strings.Replace(body(string(rootJSON), "true"), "subject: a@example.com, ", "", 1), "admission/fleet:12: spec.images.verifyImages[0] (keyless): signers[0].keyless: a keyless identity needs subject"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateBundlePolicy(ctx, "admission/fleet", []byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	path := t.TempDir() + "/policy.yaml"
	if err := os.WriteFile(path, []byte(body(string(rootJSON), "true")), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	p, err := LoadPolicy(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if p.verifier.Root == nil || p.verifier.Root.Path != supplychain.InlineTrustedRoot {
		t.Fatalf("root %+v", p.verifier.Root)
	}
	if age := p.verifier.Root.Age(time.Now()); age < 47*time.Hour || age > 49*time.Hour {
		t.Fatalf("inline trusted root age %v, want about 48 h (the policy file's)", age)
	}
}
