package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/palisade-sec/palisade/internal/admission"
	"github.com/palisade-sec/palisade/internal/supplychain"
	"github.com/palisade-sec/palisade/internal/supplychain/sigstoretest"
	"github.com/palisade-sec/palisade/internal/testregistry"
)

// keylessSetup pushes an image to the real registry (Debian's, no
// referrers API) with a keyless SLSA provenance bundle attached as a
// referrer (tag-schema fallback), and returns the verifier, the rule and
// the digest reference.
func keylessSetup(b *testing.B) (*supplychain.Verifier, *supplychain.Rule, name.Digest) {
	v, r, d, _ := keylessSetupRoot(b)
	return v, r, d
}

// keylessSetupRoot is keylessSetup that also returns the trusted root file.
func keylessSetupRoot(b *testing.B) (*supplychain.Verifier, *supplychain.Rule, name.Digest, string) {
	reg := testregistry.Start(b, testregistry.Options{})
	ss := sigstoretest.New(b)
	root, err := supplychain.LoadTrustedRoot(ss.RootPath)
	if err != nil {
		b.Fatal(err)
	}
	img, _ := random.Image(1024, 2)
	ref, _ := name.ParseReference(reg.Host+"/bench/app:v1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		b.Fatal(err)
	}
	h, _ := img.Digest()
	digest := h.String()
	const subject = "https://github.com/acme/shop/.github/workflows/release.yml@refs/tags/v1.0.0"
	const issuer = "https://token.actions.githubusercontent.com"
	stmt := sigstoretest.Statement(b, digest, "https://slsa.dev/provenance/v1", map[string]any{
		"buildDefinition": map[string]any{"externalParameters": map[string]any{"workflow": map[string]any{"repository": "https://github.com/acme/shop"}}},
	})
	bundle := ss.KeylessBundle(b, stmt, sigstoretest.KeylessOpts{Subject: subject, Issuer: issuer, Claims: map[int]string{12: "https://github.com/acme/shop"}})
	if _, err := supplychain.AttachBundle(context.Background(), ref.Context(), digest, bundle); err != nil {
		b.Fatal(err)
	}
	conds, err := supplychain.CompileConditions([]string{`predicate.buildDefinition.externalParameters.workflow.repository == "https://github.com/acme/shop"`})
	if err != nil {
		b.Fatal(err)
	}
	id := &supplychain.Identity{Subject: subject, Issuer: issuer}
	id.Claims.SourceRepositoryURI = "https://github.com/acme/shop"
	rule := &supplychain.Rule{Name: "shop", Attestations: []supplychain.AttestationRule{{
		Type: "https://slsa.dev/provenance/v1", Signers: []supplychain.Signer{{Name: "release workflow", Identity: id}}, Conditions: conds,
	}}}
	d, _ := name.NewDigest(ref.Context().Name()+"@"+digest, name.Insecure)
	return &supplychain.Verifier{Root: root}, rule, d, ss.RootPath
}

// BenchmarkVerifyKeylessCold is a cold keyless verification as the
// webhook does it on a cache miss: read the legacy tags and the referrers
// from the local registry (fallback index, manifest, bundle blob), then
// verify the certificate chain, Rekor entry and timestamp offline and
// evaluate the CEL condition.
func BenchmarkVerifyKeylessCold(b *testing.B) {
	v, rule, d := keylessSetup(b)
	ctx := context.Background()
	if dec, err := v.VerifyImage(ctx, rule, d); err != nil || !dec.Verified {
		b.Fatalf("not verified: %v %+v", err, dec.Checks)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := v.VerifyImage(ctx, rule, d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyKeylessEvaluate is the verification alone, the evidence
// already read: what a registry round trip does not cost.
func BenchmarkVerifyKeylessEvaluate(b *testing.B) {
	v, rule, d := keylessSetup(b)
	ev, err := supplychain.Fetch(context.Background(), d.Context(), d.DigestStr())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if dec := v.Evaluate(rule, d.String(), d.DigestStr(), ev); !dec.Verified {
			b.Fatalf("not verified: %+v", dec.Checks)
		}
	}
}

// BenchmarkValidateVerifyImagesCached is one /validate answer for a Pod
// whose image a keyless verifyImages rule (SLSA provenance from a GitHub
// workflow, with a CEL condition) covers, the verification served from the
// webhook's per-digest cache: the cost every admission of an already
// verified digest pays.
func BenchmarkValidateVerifyImagesCached(b *testing.B) {
	_, _, d, rootPath := keylessSetupRoot(b)
	dir := b.TempDir()
	data, err := os.ReadFile(rootPath)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "trusted_root.json"), data, 0o600); err != nil {
		b.Fatal(err)
	}
	host := d.RegistryStr()
	policy := fmt.Sprintf(`apiVersion: palisade.io/v1alpha1
kind: AdmissionPolicy
metadata: {name: bench}
spec:
  rules: [pss-baseline]
  images:
    trustedRoot: trusted_root.json
    registry: {insecure: ["%s"], timeout: 2s}
    verifyImages:
    - name: shop
      images: ["%s/bench/*"]
      attestations:
      - type: slsaprovenance1
        signers:
        - keyless:
            subject: https://github.com/acme/shop/.github/workflows/release.yml@refs/tags/v1.0.0
            issuer: https://token.actions.githubusercontent.com
            claims: {sourceRepositoryURI: https://github.com/acme/shop}
        conditions: ['predicate.buildDefinition.externalParameters.workflow.repository == "https://github.com/acme/shop"']
`, host, host)
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(policy), 0o600); err != nil {
		b.Fatal(err)
	}
	srv, err := admission.NewServer(context.Background(), admission.Options{
		PolicyFile: filepath.Join(dir, "policy.yaml"),
		Logger:     slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	pod := map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p", "namespace": "prod"},
		"spec": map[string]any{"containers": []any{map[string]any{"name": "app", "image": d.String(),
			"securityContext": map[string]any{"allowPrivilegeEscalation": false}}}}}
	review, _ := json.Marshal(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": map[string]any{
		"uid": "bench", "kind": map[string]any{"group": "", "version": "v1", "kind": "Pod"},
		"resource":  map[string]any{"group": "", "version": "v1", "resource": "pods"},
		"namespace": "prod", "name": "p", "operation": "CREATE", "object": pod,
		"userInfo": map[string]any{"username": "bench"},
	}})
	h := srv.Handler()
	call := func() string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(review)))
		return rec.Body.String()
	}
	if out := call(); !strings.Contains(out, `"allowed":true`) { // verifies and fills the cache
		b.Fatalf("benchmark review not allowed: %s", out)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		call()
	}
}
