package supplychain

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/admission/cosign"
	"github.com/palisade-sec/palisade/internal/testregistry"
)

// TestLegacyKeylessSignature: keyless signatures in cosign 2's legacy
// ".sig" layout (certificate, chain, Rekor entry with its SET and an RFC
// 3161 timestamp in the layer's annotations), made by sigstoretest's
// in-process Fulcio, Rekor and TSA and pushed to the real registry, are
// verified against the trusted root's Fulcio CA and Rekor key; tampered,
// misbound or untrusted ones are refused.
func TestLegacyKeylessSignature(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	ctx := context.Background()
	ts := newTestSigstore(t)
	good := keylessOpts{Subject: ghSubject, Issuer: ghIssuer, Claims: ghClaims("https://github.com/acme/shop")}
	type mutation func(ann map[string]string)
	setTampered := func(ann map[string]string) {
		var rb RekorBundle
		_ = json.Unmarshal([]byte(ann[AnnRekorBundle]), &rb)
		rb.Payload.IntegratedTime++
		data, _ := json.Marshal(rb)
		ann[AnnRekorBundle] = string(data)
	}
	otherSignature := func(ann map[string]string) {
		other := ts.LegacyKeylessSignature(t, []byte(`{"critical":{}}`), good)
		ann[AnnSignature] = other[AnnSignature]
	}
	for _, tt := range []struct {
		name     string
		opts     keylessOpts
		forOther bool // the payload names another digest
		mutate   mutation
		root     *TrustedRoot
		id       *Identity
		wantErr  string
	}{
		{name: "verified: SET and timestamp", opts: good, root: ts.trusted, id: ghIdentity()},
		{name: "verified: SET only", opts: keylessOpts{Subject: ghSubject, Issuer: ghIssuer, Claims: good.Claims, NoTimestamp: true}, root: ts.trusted, id: ghIdentity()},
		{name: "verified: timestamp only", opts: keylessOpts{Subject: ghSubject, Issuer: ghIssuer, Claims: good.Claims, NoTlog: true}, root: ts.trusted, id: ghIdentity()},
		{name: "refused: no SET and no timestamp", opts: keylessOpts{Subject: ghSubject, Issuer: ghIssuer, NoTlog: true, NoTimestamp: true}, root: ts.trusted,
			id: &Identity{Subject: ghSubject, Issuer: ghIssuer}, wantErr: "timestamp"},
		{name: "refused: signature for another digest", opts: good, forOther: true, root: ts.trusted, id: ghIdentity(), wantErr: "signature is for digest"},
		{name: "refused: SET does not match the entry", opts: good, mutate: setTampered, root: ts.trusted, id: ghIdentity(), wantErr: "none valid"},
		{name: "refused: signature of another payload", opts: good, mutate: otherSignature, root: ts.trusted, id: ghIdentity(), wantErr: "none valid"},
		{name: "refused: trusted root without the signer's CA", opts: good, root: ts.untrusting, id: ghIdentity(), wantErr: "certificate"},
		{name: "refused: another identity", opts: good, root: ts.trusted, id: &Identity{Subject: "https://github.com/evil/shop/.github/workflows/release.yml@refs/tags/v1.2.0", Issuer: ghIssuer},
			wantErr: "no matching CertificateIdentity"},
		{name: "refused: not a certificate", opts: good, mutate: func(ann map[string]string) {
			ann[AnnCertificate] = "-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----\n"
		},
			root: ts.trusted, id: ghIdentity(), wantErr: "want one PEM certificate"},
		{name: "refused: Rekor bundle not JSON", opts: good, mutate: func(ann map[string]string) { ann[AnnRekorBundle] = "{" }, root: ts.trusted, id: ghIdentity(), wantErr: AnnRekorBundle},
	} {
		t.Run(tt.name, func(t *testing.T) {
			repo, digest := pushRandom(t, reg.Host, "legacy/"+strings.ToLower(strings.NewReplacer(" ", "-", ":", "", "'", "").Replace(tt.name)))
			signed := digest
			if tt.forOther {
				signed = otherDigest
			}
			payload := cosign.Payload(repo.Name(), signed)
			ann := ts.LegacyKeylessSignature(t, payload, tt.opts)
			if tt.mutate != nil {
				ann = maps.Clone(ann)
				tt.mutate(ann)
			}
			if err := AttachLegacySignature(ctx, repo, digest, payload, ann); err != nil {
				t.Fatal(err)
			}
			evs, err := Fetch(ctx, repo, digest)
			if err != nil {
				t.Fatal(err)
			}
			rule := &Rule{Name: "legacy", Images: []string{"*"}, Signers: []Signer{{Name: "GitHub release", Identity: tt.id}}}
			d := (&Verifier{Root: tt.root}).Evaluate(rule, repo.Name(), digest, evs)
			reason := strings.Join(d.Unreadable, "; ")
			for _, c := range d.Checks {
				reason += c.Reason
			}
			if tt.wantErr == "" {
				if !d.Verified || len(evs) != 1 || evs[0].Format != FormatSimpleSigning {
					t.Fatalf("not verified: %s (%d evidence)", reason, len(evs))
				}
				return
			}
			if d.Verified || !strings.Contains(reason, tt.wantErr) {
				t.Fatalf("verified %v, reason %q; want refused with %q", d.Verified, reason, tt.wantErr)
			}
		})
	}
}

// FuzzKeylessMessageBundle: any annotations give a bundle or an error,
// bounded, never a panic.
func FuzzKeylessMessageBundle(f *testing.F) {
	f.Add("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n", `{"SignedEntryTimestamp":"AA==","Payload":{"body":"e30=","integratedTime":1,"logIndex":0,"logID":"00"}}`, `{"SignedRFC3161Timestamp":"AA=="}`)
	f.Add("", "{", "")
	f.Fuzz(func(t *testing.T, cert, rekor, ts string) {
		ann := map[string]string{AnnCertificate: cert, AnnRekorBundle: rekor, AnnTimestamp: ts, AnnChain: cert}
		b, err := KeylessMessageBundle([]byte("payload"), []byte(base64.StdEncoding.EncodeToString([]byte("sig"))), ann)
		if (b == nil) == (err == nil) {
			t.Fatalf("bundle %v and error %v", b, err)
		}
	})
}
