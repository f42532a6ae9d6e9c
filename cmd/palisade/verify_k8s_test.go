package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/admission/cosign"
	"github.com/palisade-sec/palisade/internal/testenv"
	"github.com/palisade-sec/palisade/internal/testregistry"
)

// TestVerifyImageSecretKeys: `verify image` reads k8s://namespace/secret
// keys (in --key and in a policy) through the real API server with the
// kubeconfig's identity, here a ServiceAccount that may get one named
// Secret only; a missing Secret, a missing field and a Secret it may not
// read are clear errors (exit 2) naming the key.
func TestVerifyImageSecretKeys(t *testing.T) {
	env := testenv.Shared(t)
	reg := testregistry.Start(t, testregistry.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := env.AdminClient(t)
	ns := env.CreateNamespace(ctx, t, "", nil).Name
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pemOf := func(k *ecdsa.PrivateKey) []byte {
		der, err := x509.MarshalPKIXPublicKey(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	for secret, k := range map[string]*ecdsa.PrivateKey{"release-key": key, "not-granted": key} {
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secret, Namespace: ns},
			Data: map[string][]byte{"cosign.pub": pemOf(k), "other.pub": pemOf(other)}}
		if _, err := admin.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "verify-keys", Namespace: ns},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}, ResourceNames: []string{"release-key"}}}}
	if _, err := admin.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "verify-keys", Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "ci", Namespace: ns}}}
	if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sa := env.ServiceAccountConfig(ctx, t, ns, "ci")
	kubeconfig := env.KubeconfigFor(t, sa)
	// RBAC settles asynchronously in the authorizer cache: wait for the
	// grant before judging.
	client := testenv.NewClient(t, sa)
	if err := testenv.WaitFor(ctx, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().Secrets(ns).Get(ctx, "release-key", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		t.Fatalf("the grant never took effect: %v", err)
	}

	img, _ := random.Image(128, 1)
	ref, _ := name.ParseReference(reg.Host+"/app:signed", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	h, _ := img.Digest()
	signed := reg.Host + "/app@" + h.String()
	payload := cosign.Payload(ref.Context().Name(), h.String())
	sig, _ := cosign.Sign(key, payload)
	if err := cosign.Attach(ctx, ref.Context(), h.String(), []cosign.Signature{{Payload: payload, Signature: sig}}); err != nil {
		t.Fatal(err)
	}
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policy, []byte(`apiVersion: palisade.io/v1alpha1
kind: ImageVerificationPolicy
metadata: {name: test}
spec:
  verifyImages:
  - name: app
    images: ["`+reg.Host+`/app"]
    signers:
    - name: release
      key: k8s://`+ns+`/release-key
`), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"verify", "image", "--insecure-registry=" + reg.Host, "--kubeconfig", kubeconfig}
	for _, tt := range []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"verified with --key k8s://", []string{"--key", "k8s://" + ns + "/release-key", signed}, 0, "verified signature"},
		{"verified with a policy's k8s:// key", []string{"--policy", policy, signed}, 0, "signed by release"},
		{"a field holding another key", []string{"--key", "k8s://" + ns + "/release-key/other.pub", signed}, 1, "none valid for a trusted key"},
		{"missing field", []string{"--key", "k8s://" + ns + "/release-key/missing.pub", signed}, 2, `secret has no field "missing.pub"`},
		{"forbidden Secret", []string{"--key", "k8s://" + ns + "/not-granted", signed}, 2, "grant get on secrets with resourceNames [not-granted] in namespace " + ns},
		// Not granted either: the API server answers forbidden before it
		// would say whether the Secret exists.
		{"missing Secret", []string{"--key", "k8s://" + ns + "/absent", signed}, 2, "grant get on secrets with resourceNames [absent]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := palisade(t, "", append(append([]string(nil), base...), tt.args...)...)
			if code != tt.wantCode || !strings.Contains(out+errOut, tt.want) {
				t.Fatalf("exit %d (want %d), want %q in:\n%s\n%s", code, tt.wantCode, tt.want, out, errOut)
			}
		})
	}
	t.Run("missing Secret, readable namespace", func(t *testing.T) {
		// With get on every Secret of the namespace, a missing one is
		// reported as not found.
		out, errOut, code := palisade(t, "", append(append([]string(nil), "verify", "image", "--insecure-registry="+reg.Host, "--kubeconfig", env.KubeconfigFor(t, env.Config)), "--key", "k8s://"+ns+"/absent", signed)...)
		if code != 2 || !strings.Contains(out+errOut, "not found") || !strings.Contains(out+errOut, ns+"/absent") {
			t.Fatalf("exit %d:\n%s\n%s", code, out, errOut)
		}
	})
}
