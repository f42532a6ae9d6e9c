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

// TestLegacyKeylessAttestation: keyless attestations in cosign 2's legacy
// ".att" layout (the DSSE envelope as the layer, the certificate, chain,
// Rekor "dsse" entry with its SET and an RFC 3161 timestamp over the
// envelope in annotations), made by sigstoretest's in-process Fulcio,
// Rekor and TSA and pushed to the real registry, verify for the identity
// against the trusted root; tampered, misbound or untrusted ones are
// refused with the reason.
func TestLegacyKeylessAttestation(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	ctx := context.Background()
	ts := newTestSigstore(t)
	good := keylessOpts{Subject: ghSubject, Issuer: ghIssuer, Claims: ghClaims("https://github.com/acme/shop")}
	otherTimestamp := func(_ []byte, ann map[string]string) []byte {
		_, o := ts.LegacyKeylessAttestation(t, []byte(`{}`), good)
		ann[AnnTimestamp] = o[AnnTimestamp]
		return nil
	}
	tamperedPayload := func(env []byte, _ map[string]string) []byte {
		var e map[string]any
		_ = json.Unmarshal(env, &e)
		p, _ := base64.StdEncoding.DecodeString(e["payload"].(string))
		e["payload"] = base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(p), "acme/shop", "evil/shop", 1)))
		out, _ := json.Marshal(e)
		return out
	}
	for _, tt := range []struct {
		name      string
		opts      keylessOpts
		forOther  bool   // the statement's subject is another digest
		predicate string // default SLSA v1
		mutate    func(env []byte, ann map[string]string) []byte
		root      *TrustedRoot
		id        *Identity
		wantErr   string
	}{
		{name: "verified: SET and timestamp", opts: good, root: ts.trusted, id: ghIdentity()},
		{name: "verified: SET only", opts: keylessOpts{Subject: ghSubject, Issuer: ghIssuer, Claims: good.Claims, NoTimestamp: true}, root: ts.trusted, id: ghIdentity()},
		{name: "refused: timestamp only (no Rekor entry gives a time sigstore-go can use)", opts: keylessOpts{Subject: ghSubject, Issuer: ghIssuer, Claims: good.Claims, NoTlog: true}, root: ts.trusted, id: ghIdentity(), wantErr: "timestamp"},
		{name: "refused: timestamp of other bytes", opts: good, mutate: otherTimestamp, root: ts.trusted, id: ghIdentity(), wantErr: "RFC 3161 timestamp"},
		{name: "refused: statement for another digest", opts: good, forOther: true, root: ts.trusted, id: ghIdentity(), wantErr: "digest"},
		{name: "refused: payload changed after signing", opts: good, mutate: tamperedPayload, root: ts.trusted, id: ghIdentity(), wantErr: "failed to verify log inclusion"},
		{name: "refused: trusted root without the signer's CA", opts: good, root: ts.untrusting, id: ghIdentity(), wantErr: "certificate"},
		{name: "refused: another identity", opts: good, root: ts.trusted, id: &Identity{Subject: "https://github.com/evil/shop/.github/workflows/release.yml@refs/tags/v1.2.0", Issuer: ghIssuer},
			wantErr: "no matching CertificateIdentity"},
		{name: "refused: wrong predicate type", opts: good, predicate: "https://cyclonedx.org/bom", root: ts.trusted, id: ghIdentity(), wantErr: "no attestation of type " + slsaV1},
		{name: "refused: Rekor bundle not JSON", opts: good, mutate: func(env []byte, ann map[string]string) []byte { ann[AnnRekorBundle] = "{"; return nil },
			root: ts.trusted, id: ghIdentity(), wantErr: AnnRekorBundle},
	} {
		t.Run(tt.name, func(t *testing.T) {
			repo, digest := pushRandom(t, reg.Host, "legacy-att/"+strings.ToLower(strings.NewReplacer(" ", "-", ":", "", "'", "", "(", "", ")", "", "-", "").Replace(tt.name)))
			subject := digest
			if tt.forOther {
				subject = otherDigest
			}
			pt := slsaV1
			if tt.predicate != "" {
				pt = tt.predicate
			}
			env, ann := ts.LegacyKeylessAttestation(t, statement(t, subject, pt, provenance("https://github.com/acme/shop")), tt.opts)
			if tt.mutate != nil {
				ann = maps.Clone(ann)
				if e := tt.mutate(env, ann); e != nil {
					env = e
				}
			}
			if err := AttachLegacyAttestationWith(ctx, repo, digest, env, ann); err != nil {
				t.Fatal(err)
			}
			evs, err := Fetch(ctx, repo, digest)
			if err != nil {
				t.Fatal(err)
			}
			rule := &Rule{Name: "legacy", Images: []string{"*"}, Attestations: []AttestationRule{{Type: slsaV1, Signers: []Signer{{Name: "GitHub release", Identity: tt.id}}}}}
			d := (&Verifier{Root: tt.root}).Evaluate(rule, repo.Name(), digest, evs)
			reason := strings.Join(d.Unreadable, "; ")
			for _, c := range d.Checks {
				reason += c.Reason
			}
			if tt.wantErr == "" {
				if !d.Verified || len(evs) != 1 || evs[0].Format != FormatDSSE {
					t.Fatalf("not verified: %s (%d evidence)", reason, len(evs))
				}
				return
			}
			if d.Verified || !strings.Contains(reason, tt.wantErr) {
				t.Fatalf("verified %v, reason %q; want refused with %q", d.Verified, reason, tt.wantErr)
			}
			t.Logf("refused: %s", reason)
		})
	}
}

// FuzzKeylessEnvelopeBundle: any envelope and annotations give a bundle or
// an error, bounded, never a panic.
func FuzzKeylessEnvelopeBundle(f *testing.F) {
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"AA=="}]}`),
		"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n", `{"SignedEntryTimestamp":"AA==","Payload":{"body":"e30=","integratedTime":1,"logIndex":0,"logID":"00"}}`, `{"SignedRFC3161Timestamp":"AA=="}`)
	f.Add([]byte(`{`), "", "{", "")
	f.Fuzz(func(t *testing.T, env []byte, cert, rekor, ts string) {
		ann := map[string]string{AnnCertificate: cert, AnnRekorBundle: rekor, AnnTimestamp: ts}
		b, _, err := KeylessEnvelopeBundle(env, ann)
		if (b == nil) == (err == nil) {
			t.Fatalf("bundle %v and error %v", b, err)
		}
	})
}
