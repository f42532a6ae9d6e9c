package supplychain

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// loopingCAs returns two CA certificates that issued each other: a chain
// built from them never ends.
func loopingCAs(t *testing.T) (a, b []byte) {
	t.Helper()
	keyA, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keyB, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := func(cn string, serial int64) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour),
			NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	}
	ta, tb := tmpl("loop A", 1), tmpl("loop B", 2)
	a, err := x509.CreateCertificate(rand.Reader, ta, tb, &keyA.PublicKey, keyB)
	if err != nil {
		t.Fatal(err)
	}
	b, err = x509.CreateCertificate(rand.Reader, tb, ta, &keyB.PublicKey, keyA)
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

// TestLoopingCertificateChain: a certificate chain in the evidence that
// loops (two CAs that issued each other, repeated a thousand times after
// the leaf) is never followed: only the trusted root says which CAs are
// trusted, so the verdict is the leaf's against the root, reached without
// walking the loop; in a legacy chain annotation such a chain is refused
// by its length.
func TestLoopingCertificateChain(t *testing.T) {
	ts := newTestSigstore(t)
	stmt := statement(t, testDigest, slsaV1, provenance("https://github.com/acme/shop"))
	raw := ts.keylessBundle(t, stmt, keylessOpts{Subject: ghSubject, Issuer: ghIssuer, Claims: ghClaims("https://github.com/acme/shop")})
	var pb protobundle.Bundle
	if err := protojson.Unmarshal(raw, &pb); err != nil {
		t.Fatal(err)
	}
	a, b := loopingCAs(t)
	chain := []*protocommon.X509Certificate{{RawBytes: pb.GetVerificationMaterial().GetCertificate().GetRawBytes()}}
	for range 500 {
		chain = append(chain, &protocommon.X509Certificate{RawBytes: a}, &protocommon.X509Certificate{RawBytes: b})
	}
	pb.MediaType = "application/vnd.dev.sigstore.bundle+json;version=0.2"
	pb.VerificationMaterial.Content = &protobundle.VerificationMaterial_X509CertificateChain{X509CertificateChain: &protocommon.X509CertificateChain{Certificates: chain}}
	data, err := protojson.Marshal(&pb)
	if err != nil {
		t.Fatal(err)
	}
	bndl, err := ParseBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	ev := Evidence{Kind: KindAttestation, Format: FormatBundle, Source: "test", Bundle: bndl, PredicateType: slsaV1}
	signer := Signer{Name: "GitHub release", Identity: ghIdentity()}
	for _, tt := range []struct {
		name    string
		root    *TrustedRoot
		wantErr string
	}{
		{"the leaf chains to the trusted root: verified, the loop ignored", ts.trusted, ""},
		{"a root without the leaf's CA: refused", ts.untrusting, "certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := (&Verifier{Root: tt.root}).Check(&ev, signer, testDigest)
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
	t.Run("legacy chain annotation", func(t *testing.T) {
		ann := ts.LegacyKeylessSignature(t, []byte(`{}`), keylessOpts{Subject: ghSubject, Issuer: ghIssuer})
		var loop strings.Builder
		for range 10 {
			for _, der := range [][]byte{a, b} {
				loop.WriteString(string(pemCert(der)))
			}
		}
		ann[AnnChain] = loop.String()
		if _, err := KeylessMessageBundle([]byte(`{}`), []byte("sig"), ann); err == nil || !strings.Contains(err.Error(), "at most 8 PEM certificates") {
			t.Fatalf("error %v", err)
		}
	})
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
