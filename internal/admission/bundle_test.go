package admission

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

func TestValidateBundlePolicy(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pemKey := strings.ReplaceAll(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), "\n", "\n          ")
	for _, tc := range []struct {
		name, policy, err string
	}{
		{"enforce", policyHeader + "spec:\n  mode: enforce\n", ""},
		{"inline key", policyHeader + "spec:\n  images:\n    signatures:\n      keys:\n      - name: k\n        pem: |\n          " + pemKey + "\n", ""},
		{"key file", policyHeader + "spec:\n  images:\n    signatures:\n      keys:\n      - name: k\n        file: /etc/palisade/cosign.pub\n", "put the key inline"},
		{"relative key file", policyHeader + "spec:\n  images:\n    signatures:\n      keys:\n      - name: k\n        file: cosign.pub\n", "put the key inline"},
		{"bad mode", policyHeader + "spec:\n  mode: sometimes\n", "bundle.yaml:6: spec.mode"},
		{"not a policy", "apiVersion: v1\nkind: ConfigMap\n", "no object with apiVersion"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateBundlePolicy(context.Background(), "bundle.yaml", []byte(tc.policy))
			if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("ValidateBundlePolicy: %v, want %q", err, tc.err)
			}
		})
	}
}
