package testenv

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// These run without the control-plane binaries.

func TestEncryptionConfigMarshal(t *testing.T) {
	cfg := &EncryptionConfig{Resources: []EncryptionResources{{
		Resources: []string{"secrets", "configmaps"},
		Providers: []EncryptionProvider{
			{Type: ProviderSecretbox, Keys: []EncryptionKey{{Name: "k", Secret: []byte("0123456789abcdef0123456789abcdef")}}},
			{Type: ProviderIdentity},
		},
	}}}
	data, err := cfg.marshal()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Kind      string `json:"kind"`
		Resources []struct {
			Resources []string                     `json:"resources"`
			Providers []map[string]json.RawMessage `json:"providers"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("unmarshal %s: %v", data, err)
	}
	if doc.Kind != "EncryptionConfiguration" || len(doc.Resources) != 1 || len(doc.Resources[0].Providers) != 2 {
		t.Fatalf("unexpected document: %s", data)
	}
	if got := string(doc.Resources[0].Providers[0]["secretbox"]); !strings.Contains(got, `"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="`) {
		t.Fatalf("secretbox key not base64-encoded: %s", got)
	}
	if _, ok := doc.Resources[0].Providers[1]["identity"]; !ok {
		t.Fatalf("identity provider missing: %s", data)
	}

	bad := &EncryptionConfig{Resources: []EncryptionResources{{Resources: []string{"secrets"}, Providers: []EncryptionProvider{{Type: ProviderAESCBC}}}}}
	if _, err := bad.marshal(); err == nil {
		t.Fatal("aescbc without keys accepted")
	}
}

func TestTokenFileQuotesGroups(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tokens.csv")
	err := writeTokenFile(p, []StaticToken{
		{Token: "t1", User: "alice", Groups: []string{"a", "b"}},
		{Token: "t2", User: "bob", UID: "42"},
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := "t1,alice,alice,\"a,b\"\nt2,bob,42\n"; string(data) != want {
		t.Fatalf("token file = %q, want %q", data, want)
	}
	if err := writeTokenFile(p, []StaticToken{{User: "x"}}); err == nil {
		t.Fatal("token without value accepted")
	}
}

func TestCAIssuesUsableCertificates(t *testing.T) {
	ca, err := NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)

	certPEM, _, err := ca.IssueClient("alice", "devs", "qa")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "alice" || !slices.Equal(slices.Sorted(slices.Values(cert.Subject.Organization)), []string{"devs", "qa"}) {
		t.Fatalf("subject = %v", cert.Subject)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("client cert does not verify: %v", err)
	}

	pair, err := ca.TLSServing()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1", "localhost", "::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: host}); err != nil {
			t.Fatalf("serving cert does not verify for %s: %v", host, err)
		}
	}
}

func TestBinDirDefault(t *testing.T) {
	t.Setenv(EnvBinDir, "")
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	if got, want := BinDir(), "/x/cache/palisade/kube/"+KubeVersion; got != want {
		t.Fatalf("BinDir() = %q, want %q", got, want)
	}
	t.Setenv(EnvBinDir, "/custom")
	if got := BinDir(); got != "/custom" {
		t.Fatalf("BinDir() with %s = %q", EnvBinDir, got)
	}
}
