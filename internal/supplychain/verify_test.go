package supplychain

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"
	"time"
)

const (
	testDigest  = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	otherDigest = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	ghIssuer    = "https://token.actions.githubusercontent.com"
	ghSubject   = "https://github.com/acme/shop/.github/workflows/release.yml@refs/tags/v1.2.0"
	slsaV1      = "https://slsa.dev/provenance/v1"
)

func provenance(repo string) map[string]any {
	return map[string]any{
		"buildDefinition": map[string]any{
			"buildType":          "https://actions.github.io/buildtypes/workflow/v1",
			"externalParameters": map[string]any{"workflow": map[string]any{"repository": repo, "ref": "refs/tags/v1.2.0"}},
		},
		"runDetails": map[string]any{"builder": map[string]any{"id": "https://github.com/acme/builder"}},
	}
}

func ghIdentity() *Identity {
	id := &Identity{Subject: ghSubject, Issuer: ghIssuer}
	id.Claims.SourceRepositoryURI = "https://github.com/acme/shop"
	id.Claims.BuildTrigger = "push"
	return id
}

// ghClaims are the Fulcio extensions a GitHub Actions certificate carries
// (OID arcs under 1.3.6.1.4.1.57264.1).
func ghClaims(repo string) map[int]string {
	return map[int]string{12: repo, 14: "refs/tags/v1.2.0", 20: "push", 9: ghSubject}
}

func TestKeylessAttestation(t *testing.T) {
	ts := newTestSigstore(t)
	good := keylessOpts{Subject: ghSubject, Issuer: ghIssuer, Claims: ghClaims("https://github.com/acme/shop")}
	stmt := statement(t, testDigest, slsaV1, provenance("https://github.com/acme/shop"))
	tests := []struct {
		name    string
		root    *TrustedRoot
		bundle  []byte
		digest  string
		id      *Identity
		wantErr string
	}{
		{name: "verified: TSA, SET and inclusion proof", root: ts.trusted, bundle: ts.keylessBundle(t, stmt, good), digest: testDigest, id: ghIdentity()},
		{name: "verified: SET only", root: ts.trusted, bundle: ts.keylessBundle(t, stmt, keylessOpts{Subject: ghSubject, Issuer: ghIssuer, Claims: good.Claims, NoTimestamp: true}), digest: testDigest, id: ghIdentity()},
		{name: "verified: timestamp only", root: ts.trusted, bundle: ts.keylessBundle(t, stmt, keylessOpts{Subject: ghSubject, Issuer: ghIssuer, Claims: good.Claims, NoTlog: true}), digest: testDigest, id: ghIdentity()},
		{name: "verified: subject regexp", root: ts.trusted, bundle: ts.keylessBundle(t, stmt, good), digest: testDigest,
			id: &Identity{SubjectRegexp: `^https://github\.com/acme/shop/\.github/workflows/release\.yml@refs/tags/v`, Issuer: ghIssuer}},
		{name: "refused: another digest", root: ts.trusted, bundle: ts.keylessBundle(t, stmt, good), digest: otherDigest, id: ghIdentity(), wantErr: "does not match"},
		{name: "refused: wrong subject", root: ts.trusted, bundle: ts.keylessBundle(t, stmt, good), digest: testDigest,
			id: &Identity{Subject: "https://github.com/evil/shop/.github/workflows/release.yml@refs/tags/v1.2.0", Issuer: ghIssuer}, wantErr: "no matching CertificateIdentity"},
		{name: "refused: wrong issuer", root: ts.trusted, bundle: ts.keylessBundle(t, stmt, good), digest: testDigest,
			id: &Identity{Subject: ghSubject, Issuer: "https://gitlab.com"}, wantErr: "no matching CertificateIdentity"},
		{name: "refused: wrong repository claim", root: ts.trusted, bundle: ts.keylessBundle(t, stmt, keylessOpts{Subject: ghSubject, Issuer: ghIssuer, Claims: ghClaims("https://github.com/evil/shop")}), digest: testDigest,
			id: ghIdentity(), wantErr: "no matching CertificateIdentity"},
		{name: "refused: trusted root without the signer's CA", root: ts.untrusting, bundle: ts.keylessBundle(t, stmt, good), digest: testDigest, id: ghIdentity(), wantErr: "certificate"},
		{name: "refused: no timestamp and no log entry", root: ts.trusted, bundle: ts.keylessBundle(t, stmt, keylessOpts{Subject: ghSubject, Issuer: ghIssuer, NoTimestamp: true, NoTlog: true}), digest: testDigest,
			id: &Identity{Subject: ghSubject, Issuer: ghIssuer}, wantErr: "timestamp"},
		{name: "refused: inclusion proof alone gives no time", root: ts.trusted, bundle: ts.keylessBundle(t, stmt, keylessOpts{Subject: ghSubject, Issuer: ghIssuer, NoTimestamp: true, NoSET: true}), digest: testDigest,
			id: &Identity{Subject: ghSubject, Issuer: ghIssuer}, wantErr: "timestamp"},
		{name: "refused: no SCT and the root lists a CT log", root: ts.trusted, bundle: ts.keylessBundle(t, stmt, keylessOpts{Subject: ghSubject, Issuer: ghIssuer, Claims: good.Claims, NoSCT: true}), digest: testDigest,
			id: ghIdentity(), wantErr: "SCT entries"},
		{name: "refused: SCT of a log the root does not list", root: ts.trusted, bundle: ts.keylessBundle(t, stmt, keylessOpts{Subject: ghSubject, Issuer: ghIssuer, Claims: good.Claims, BadSCT: true}), digest: testDigest,
			id: ghIdentity(), wantErr: "SCT entries"},
		{name: "verified: no SCT and the root lists no CT log", root: ts.noCT, bundle: ts.keylessBundle(t, stmt, keylessOpts{Subject: ghSubject, Issuer: ghIssuer, Claims: good.Claims, NoSCT: true}), digest: testDigest, id: ghIdentity()},
		{name: "refused: certificate expired when timestamped", root: ts.trusted, bundle: ts.keylessBundle(t, stmt, keylessOpts{Subject: ghSubject, Issuer: ghIssuer, NotBefore: time.Now().Add(-time.Hour)}), digest: testDigest,
			id: &Identity{Subject: ghSubject, Issuer: ghIssuer}, wantErr: "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseBundle(tt.bundle)
			if err != nil {
				t.Fatal(err)
			}
			kind, pt, err := classify(b)
			if err != nil || kind != KindAttestation || pt != slsaV1 {
				t.Fatalf("classify = %s %q %v", kind, pt, err)
			}
			v := &Verifier{Root: tt.root}
			ev := &Evidence{Kind: kind, Format: FormatBundle, Source: "test", Bundle: b, PredicateType: pt}
			got, err := v.Check(ev, Signer{Name: "gh", Identity: tt.id}, tt.digest)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if !bytes.Equal(got.Statement, stmt) || len(got.Timestamps) == 0 {
					t.Fatalf("statement %q, %d timestamps", got.Statement, len(got.Timestamps))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Check error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestKeyedEvidence(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	stmt := statement(t, testDigest, "https://cyclonedx.org/bom", map[string]any{"bomFormat": "CycloneDX"})
	for _, tt := range []struct {
		name    string
		signer  crypto.Signer
		trust   crypto.PublicKey
		digest  string
		tamper  bool
		wantErr string
	}{
		{name: "ECDSA P-256", signer: ecKey, trust: ecKey.Public(), digest: testDigest},
		{name: "ECDSA P-384", signer: p384, trust: p384.Public(), digest: testDigest},
		{name: "Ed25519", signer: edKey, trust: edKey.Public(), digest: testDigest},
		{name: "RSA", signer: rsaKey, trust: rsaKey.Public(), digest: testDigest},
		{name: "another key", signer: ecKey, trust: other.Public(), digest: testDigest, wantErr: "verify"},
		{name: "another digest", signer: ecKey, trust: ecKey.Public(), digest: otherDigest, wantErr: "does not match"},
		{name: "tampered payload", signer: ecKey, trust: ecKey.Public(), digest: testDigest, tamper: true, wantErr: "verify"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := keyedBundle(t, tt.signer, stmt)
			b, err := ParseBundle(data)
			if err != nil {
				t.Fatal(err)
			}
			if tt.tamper {
				env := b.GetDsseEnvelope()
				env.Payload = bytes.Replace(env.Payload, []byte("CycloneDX"), []byte("CycloneDy"), 1)
			}
			v := &Verifier{}
			_, err = v.Check(&Evidence{Kind: KindAttestation, Format: FormatBundle, Bundle: b}, Signer{Name: "k", Key: tt.trust}, tt.digest)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Check: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Check error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
