package supplychain

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/palisade-sec/palisade/internal/admission/cosign"
	"github.com/palisade-sec/palisade/internal/testregistry"
)

// pushRandom pushes a small random image and returns its repository and digest.
func pushRandom(t *testing.T, host, repo string) (name.Repository, string) {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host+"/"+repo+":v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref.Context(), d.String()
}

// TestRegistryEvidence attaches evidence in every layout to images in the
// real registry (Debian's docker-registry, which has no referrers API: the
// bundle is found through the sha256-<hex> fallback index) and evaluates
// rules over what Fetch reads back.
func TestRegistryEvidence(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	ctx := context.Background()
	ts := newTestSigstore(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v := &Verifier{Root: ts.trusted}
	keySigner := Signer{Name: "release key", Key: key.Public()}
	ghSigner := Signer{Name: "GitHub release", Identity: ghIdentity()}
	prov := func(repo string) []Condition {
		c, err := CompileConditions([]string{`predicate.buildDefinition.externalParameters.workflow.repository == "` + repo + `"`})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	type setup func(t *testing.T, repo name.Repository, digest string)
	legacySig := func(k *ecdsa.PrivateKey, forDigest string) setup {
		return func(t *testing.T, repo name.Repository, digest string) {
			if forDigest == "" {
				forDigest = digest
			}
			payload := cosign.Payload(repo.Name(), forDigest)
			sig, err := cosign.Sign(k, payload)
			if err != nil {
				t.Fatal(err)
			}
			if err := cosign.Attach(ctx, repo, digest, []cosign.Signature{{Payload: payload, Signature: sig}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	legacyAtt := func(predType string, pred any) setup {
		return func(t *testing.T, repo name.Repository, digest string) {
			env := signEnvelope(t, key, statement(t, digest, predType, pred))
			if err := AttachLegacyAttestation(ctx, repo, digest, envelopeJSONOf(t, env)); err != nil {
				t.Fatal(err)
			}
		}
	}
	keylessRef := func(predType string, pred any, o keylessOpts) setup {
		return func(t *testing.T, repo name.Repository, digest string) {
			b := ts.keylessBundle(t, statement(t, digest, predType, pred), o)
			if _, err := AttachBundle(ctx, repo, digest, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	good := keylessOpts{subject: ghSubject, issuer: ghIssuer, claims: ghClaims("https://github.com/acme/shop")}

	tests := []struct {
		name       string
		setup      []setup
		rule       Rule
		want       bool
		wantReason string
	}{
		{name: "legacy keyed signature", setup: []setup{legacySig(key, "")},
			rule: Rule{Signers: []Signer{keySigner}}, want: true},
		{name: "legacy signature by another key", setup: []setup{legacySig(other, "")},
			rule: Rule{Signers: []Signer{keySigner}}, wantReason: "1 signature(s) found, none verifies"},
		{name: "legacy signature for another digest", setup: []setup{legacySig(key, otherDigest)},
			rule: Rule{Signers: []Signer{keySigner}}, wantReason: "signature is for digest " + otherDigest},
		{name: "nothing attached", rule: Rule{Signers: []Signer{keySigner}}, wantReason: "no signature found"},
		{name: "legacy keyed attestation with condition", setup: []setup{legacyAtt(slsaV1, provenance("https://github.com/acme/shop"))},
			rule: Rule{Attestations: []AttestationRule{{Type: slsaV1, Signers: []Signer{keySigner}, Conditions: prov("https://github.com/acme/shop")}}}, want: true},
		{name: "legacy attestation whose condition is false", setup: []setup{legacyAtt(slsaV1, provenance("https://github.com/evil/shop"))},
			rule: Rule{Attestations: []AttestationRule{{Type: slsaV1, Signers: []Signer{keySigner}, Conditions: prov("https://github.com/acme/shop")}}}, wantReason: "is false"},
		{name: "wrong predicate type", setup: []setup{legacyAtt("https://cyclonedx.org/bom", map[string]any{})},
			rule: Rule{Attestations: []AttestationRule{{Type: slsaV1, Signers: []Signer{keySigner}}}}, wantReason: "no attestation of type " + slsaV1 + " found (found: https://cyclonedx.org/bom)"},
		{name: "keyless bundle referrer (tag-schema fallback)", setup: []setup{keylessRef(slsaV1, provenance("https://github.com/acme/shop"), good)},
			rule: Rule{Attestations: []AttestationRule{{Type: slsaV1, Signers: []Signer{ghSigner}, Conditions: prov("https://github.com/acme/shop")}}}, want: true},
		{name: "keyless bundle from another repository's workflow", setup: []setup{keylessRef(slsaV1, provenance("https://github.com/acme/shop"), keylessOpts{subject: ghSubject, issuer: ghIssuer, claims: ghClaims("https://github.com/evil/shop")})},
			rule: Rule{Attestations: []AttestationRule{{Type: slsaV1, Signers: []Signer{ghSigner}}}}, wantReason: "none verifies for GitHub release"},
		{name: "keyless signature bundle and keyed SBOM together", setup: []setup{
			keylessRef(SignPredicateType, map[string]any{}, good), legacyAtt("https://cyclonedx.org/bom", map[string]any{"bomFormat": "CycloneDX"})},
			rule: Rule{Signers: []Signer{ghSigner}, Attestations: []AttestationRule{{Type: PredicateType("cyclonedx"), Signers: []Signer{keySigner}}}}, want: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo, digest := pushRandom(t, reg.Host, fmt.Sprintf("app%d", i))
			for _, s := range tt.setup {
				s(t, repo, digest)
			}
			ref, _ := name.NewDigest(repo.Name()+"@"+digest, name.Insecure)
			tt.rule.Name = "test"
			d, err := v.VerifyImage(ctx, &tt.rule, ref)
			if err != nil {
				t.Fatal(err)
			}
			if d.Verified != tt.want {
				t.Fatalf("verified = %t, want %t: %+v", d.Verified, tt.want, d.Checks)
			}
			if tt.wantReason != "" {
				var reasons []string
				for _, c := range d.Failed() {
					reasons = append(reasons, c.Reason)
				}
				if !strings.Contains(strings.Join(reasons, "\n"), tt.wantReason) {
					t.Fatalf("reasons %q, want %q", reasons, tt.wantReason)
				}
			}
		})
	}
}

// TestThousandsOfReferrers serves, through the OCI 1.1 referrers API, an
// index naming 5000 bundles (a registry that validates indexes refuses to
// store one whose manifests do not exist, so a small handler serves it):
// Fetch reads at most MaxReferrers of them and says so.
func TestThousandsOfReferrers(t *testing.T) {
	digest := testDigest
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	for i := range 5000 {
		sum := sha256.Sum256(fmt.Appendf(nil, "referrer %d", i))
		idx.Manifests = append(idx.Manifests, v1.Descriptor{
			MediaType: types.OCIManifestSchema1, Size: 100, ArtifactType: bundleV03,
			Digest: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sum)},
		})
	}
	raw, _ := json.Marshal(idx)
	var manifestGets atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v2/":
			w.WriteHeader(http.StatusOK)
		case r.URL.Path == "/v2/many/referrers/"+digest:
			w.Header().Set("Content-Type", string(types.OCIImageIndex))
			_, _ = w.Write(raw)
		default:
			if strings.Contains(r.URL.Path, "/manifests/sha256:") {
				manifestGets.Add(1)
			}
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://")+"/many", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ev, err := Fetch(ctx, repo, digest)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != MaxReferrers+1 || ev[MaxReferrers].Err == nil || !strings.Contains(ev[MaxReferrers].Err.Error(), "only the first") {
		t.Fatalf("%d pieces of evidence; last: %+v", len(ev), ev[len(ev)-1])
	}
	for _, e := range ev[:MaxReferrers] {
		if e.Err == nil {
			t.Fatalf("a missing referrer manifest was read: %+v", e)
		}
	}
	if n := manifestGets.Load(); n > MaxReferrers {
		t.Fatalf("%d referrer manifests requested, want at most %d", n, MaxReferrers)
	}
}
