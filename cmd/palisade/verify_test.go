package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/palisade-sec/palisade/internal/admission/cosign"
	"github.com/palisade-sec/palisade/internal/testregistry"
)

func writeKey(t *testing.T, dir, file string, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, file)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestVerifyImageCommand checks the exit codes and outputs of palisade
// verify image against the real registry: 0 verified, 1 a requirement
// failed, 2 nothing attached, no rule, or a usage error.
func TestVerifyImageCommand(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keyFile := writeKey(t, dir, "cosign.pub", key.Public())
	otherFile := writeKey(t, dir, "other.pub", other.Public())

	push := func(tag string) string {
		img, _ := random.Image(128, 1)
		ref, _ := name.ParseReference(reg.Host+"/app:"+tag, name.Insecure)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		return reg.Host + "/app@" + d.String()
	}
	signed, unsigned := push("signed"), push("unsigned")
	d, _ := name.NewDigest(signed, name.Insecure)
	payload := cosign.Payload(d.Context().Name(), d.DigestStr())
	sig, _ := cosign.Sign(key, payload)
	if err := cosign.Attach(context.Background(), d.Context(), d.DigestStr(), []cosign.Signature{{Payload: payload, Signature: sig}}); err != nil {
		t.Fatal(err)
	}
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte(`apiVersion: palisade.io/v1alpha1
kind: ImageVerificationPolicy
metadata: {name: test}
spec:
  verifyImages:
  - name: app
    images: ["`+reg.Host+`/app"]
    signers:
    - name: release
      key: cosign.pub
`), 0o600); err != nil {
		t.Fatal(err)
	}
	insecure := "--insecure-registry=" + reg.Host
	for _, tt := range []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"verified with --key", []string{"verify", "image", insecure, "--key", keyFile, signed}, 0, "verified signature: signed by key"},
		{"verified with a policy", []string{"verify", "image", insecure, "--policy", policy, signed}, 0, "signed by release"},
		{"another key", []string{"verify", "image", insecure, "--key", otherFile, signed}, 1, "none valid for a trusted key"},
		{"nothing attached", []string{"verify", "image", insecure, "--key", keyFile, unsigned}, 2, "nothing to verify"},
		{"no rule for the image", []string{"verify", "image", insecure, "--policy", policy, reg.Host + "/elsewhere@" + d.DigestStr()}, 2, "no verifyImages rule"},
		{"no signer", []string{"verify", "image", insecure, signed}, 2, "give --policy, or signers"},
		{"KMS key offline", []string{"verify", "image", insecure, "--key", "awskms:///alias/x", signed}, 2, "export the public key once"},
		{"keyless without a trusted root", []string{"verify", "image", insecure, "--certificate-identity", "a@b", "--certificate-oidc-issuer", "https://x", signed}, 2, "no trusted root"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := palisade(t, "", tt.args...)
			if code != tt.wantCode || !strings.Contains(out+errOut, tt.want) {
				t.Fatalf("exit %d (want %d), want %q in:\n%s\n%s", code, tt.wantCode, tt.want, out, errOut)
			}
		})
	}
	t.Run("json and sarif", func(t *testing.T) {
		out, _, code := palisade(t, "", "verify", "image", insecure, "--key", otherFile, "-o", "json", signed)
		var rep struct {
			Findings []struct{ RuleID string } `json:"findings"`
		}
		if code != 1 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Findings) != 1 || rep.Findings[0].RuleID != "supplychain/signature" {
			t.Fatalf("exit %d: %s", code, out)
		}
		out, _, code = palisade(t, "", "verify", "image", insecure, "--key", otherFile, "-o", "sarif", signed)
		if code != 1 || !strings.Contains(out, `"ruleId": "supplychain/signature"`) {
			t.Fatalf("exit %d: %s", code, out)
		}
	})
}
