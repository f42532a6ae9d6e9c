// Package setup prepares the admission benchmark: three signed images in
// a local registry, the policy (20 rules, allow-list, digests, signatures),
// a serving certificate and its CA, and a review of a Deployment with
// three containers.
package setup

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/palisade-sec/palisade/internal/admission/cosign"
)

// Prepare writes policy.yaml, cosign.pub, ca.crt, tls.crt, tls.key and
// review.json to dir, after pushing and signing the images in registry.
func Prepare(ctx context.Context, registryHost, dir string) error {
	registry := &registryHost
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	var images []string
	for i, n := range []string{"web", "sidecar", "agent"} {
		img, err := random.Image(1024, 1)
		if err != nil {
			return err
		}
		ref := fmt.Sprintf("%s/bench/%s:1.%d", *registry, n, i)
		r, err := name.ParseReference(ref)
		if err != nil {
			return err
		}
		if err := remote.Write(r, img, remote.WithContext(ctx)); err != nil {
			return fmt.Errorf("push %s: %w", ref, err)
		}
		d, _ := img.Digest()
		payload := cosign.Payload(r.Context().Name(), d.String())
		sig, err := cosign.Sign(key, payload)
		if err != nil {
			return err
		}
		if err := cosign.Attach(ctx, r.Context(), d.String(), []cosign.Signature{{Payload: payload, Signature: sig}}); err != nil {
			return err
		}
		images = append(images, ref)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err := write(dir, "cosign.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})); err != nil {
		return err
	}
	// 20 rules: every Pod Security control (19) and the read-only root
	// file system; plus the allow-list, digest and signature checks.
	policy := fmt.Sprintf(`apiVersion: palisade.io/v1alpha1
kind: AdmissionPolicy
metadata:
  name: bench
spec:
  mode: enforce
  podSecurity: {level: restricted}
  rules: [pss-restricted, hardening/read-only-root-fs]
  images:
    allowedRegistries: ["%[1]s"]
    resolveDigests: true
    registry: {timeout: 2s, cacheTTL: 1h, insecure: ["%[1]s"]}
    signatures:
      images: ["%[1]s/*"]
      keys: [{name: bench, file: cosign.pub}]
`, *registry)
	if err := write(dir, "policy.yaml", []byte(policy)); err != nil {
		return err
	}
	if err := writeCerts(dir); err != nil {
		return err
	}
	review, err := reviewJSON(images)
	if err != nil {
		return err
	}
	return write(dir, "review.json", review)
}

func write(dir, name string, data []byte) error {
	return os.WriteFile(filepath.Join(dir, name), data, 0o600)
}

func writeCerts(dir string) error {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench-ca"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	for n, b := range map[string]*pem.Block{
		"ca.crt":  {Type: "CERTIFICATE", Bytes: caDER},
		"tls.crt": {Type: "CERTIFICATE", Bytes: der},
		"tls.key": {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := write(dir, n, pem.EncodeToMemory(b)); err != nil {
			return err
		}
	}
	return nil
}

// reviewJSON is a CREATE of a compliant Deployment with three containers.
func reviewJSON(images []string) ([]byte, error) {
	var containers []any
	for i, img := range images {
		containers = append(containers, map[string]any{
			"name": fmt.Sprintf("c%d", i), "image": img,
			"ports":     []any{map[string]any{"containerPort": 8080 + i, "protocol": "TCP"}},
			"resources": map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "64Mi"}, "limits": map[string]any{"memory": "128Mi"}},
			"securityContext": map[string]any{"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "runAsNonRoot": true,
				"capabilities": map[string]any{"drop": []any{"ALL"}}, "seccompProfile": map[string]any{"type": "RuntimeDefault"}},
		})
	}
	obj := map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "bench", "namespace": "prod", "labels": map[string]any{"app": "bench"}},
		"spec": map[string]any{
			"replicas": 3, "selector": map[string]any{"matchLabels": map[string]any{"app": "bench"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "bench"}},
				"spec":     map[string]any{"containers": containers, "automountServiceAccountToken": false},
			},
		},
	}
	return json.Marshal(map[string]any{
		"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
		"request": map[string]any{
			"uid": "bench", "kind": map[string]any{"group": "apps", "version": "v1", "kind": "Deployment"},
			"resource":  map[string]any{"group": "apps", "version": "v1", "resource": "deployments"},
			"namespace": "prod", "name": "bench", "operation": "CREATE",
			"userInfo": map[string]any{"username": "alice", "groups": []any{"system:authenticated"}},
			"object":   obj,
		},
	})
}
