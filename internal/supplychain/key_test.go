package supplychain

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

// TestParsePublicKeyNamesWhatItGot: a file that is not a public key is
// refused with what it is (a private key, a certificate, another block),
// never with an ASN.1 dump; and a private key's bytes are never echoed.
// An openssl EC key file's leading "EC PARAMETERS" block is skipped.
func TestParsePublicKeyNamesWhatItGot(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkix8, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"}, NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ec.PublicKey, ec)
	if err != nil {
		t.Fatal(err)
	}
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blk := func(typ string, b []byte) string { return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b})) }
	params := blk("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07})
	tests := []struct {
		name, data string
		want       string // "" for success
	}{
		{"public key", blk("PUBLIC KEY", pubDER), ""},
		{"openssl parameters then public key", params + blk("PUBLIC KEY", pubDER), ""},
		{"PKCS#8 private key", blk("PRIVATE KEY", pkix8), `"PRIVATE KEY" is a private key`},
		{"openssl EC private key", params + blk("EC PRIVATE KEY", sec1), `"EC PRIVATE KEY" is a private key`},
		{"cosign private key", blk("ENCRYPTED SIGSTORE PRIVATE KEY", []byte(edPriv)), "is a private key"},
		{"certificate", blk("CERTIFICATE", cert), "is a certificate, not a key"},
		{"other block", blk("X509 CRL", []byte{1, 2, 3}), `PEM block "X509 CRL", want "PUBLIC KEY"`},
		{"not PEM", "hello", "no PEM block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParsePublicKey([]byte(tt.data))
			if tt.want == "" {
				if err != nil || k == nil {
					t.Fatalf("ParsePublicKey: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "asn1") {
				t.Errorf("err = %v: an ASN.1 error, not what the file is", err)
			}
		})
	}
}

// FuzzParsePublicKey: any input is a supported public key or an error;
// never a panic.
func FuzzParsePublicKey(f *testing.F) {
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePublicKey(data)
		if (k == nil) == (err == nil) {
			t.Fatalf("key %v, err %v", k, err)
		}
	})
}
