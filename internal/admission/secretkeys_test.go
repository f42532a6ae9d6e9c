package admission

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/testenv"
	"github.com/palisade-sec/palisade/internal/testregistry"
)

// TestSecretKeysOnAPIServer: verifyImages keys named k8s://namespace/name
// are read through the real API server by a webhook service account that
// may get those Secrets only (a Role with resourceNames); an image signed
// with that key is admitted, an unsigned one denied; a key in a Secret the
// account may not read or a missing field are errors that say what to
// grant or fix, naming the policy's line and field.
func TestSecretKeysOnAPIServer(t *testing.T) {
	env := testenv.Shared(t)
	reg := testregistry.Start(t, testregistry.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := env.AdminClient(t)
	ns := env.CreateNamespace(ctx, t, "", nil).Name
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, pub := range map[string]*ecdsa.PublicKey{"release-key": &key.PublicKey, "not-granted": &other.PublicKey} {
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Data: map[string][]byte{"cosign.pub": []byte(publicPEM(t, pub)), "other.pub": []byte(publicPEM(t, &other.PublicKey))}}
		if _, err := admin.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "palisade-admission-keys", Namespace: ns},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}, ResourceNames: []string{"release-key"}}}}
	if _, err := admin.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "palisade-admission-keys", Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "palisade-admission", Namespace: ns}}}
	if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	webhook := testenv.NewClient(t, env.ServiceAccountConfig(ctx, t, ns, "palisade-admission"))

	repo := reg.Host + "/shop/app"
	signed := pushImage(t, repo+":signed")
	sign(t, key, repo, signed, signed)
	unsigned := pushImage(t, repo+":unsigned")
	policy := func(keyRef string) string {
		return policyHeader + fmt.Sprintf(`spec:
  rules: [pss-baseline]
  images:
    registry: {timeout: 2s}
    verifyImages:
    - name: shop
      images: ["%s/shop/*"]
      signers:
      - name: release
        key: %s
`, reg.Host, keyRef)
	}
	// RBAC settles asynchronously in the authorizer cache: wait for the
	// grant before judging.
	if err := testenv.WaitFor(ctx, func(ctx context.Context) (bool, error) {
		_, err := KubeSecrets{Client: webhook}.SecretData(ctx, ns, "release-key")
		return err == nil, nil
	}); err != nil {
		t.Fatalf("the grant never took effect: %v", err)
	}

	ts := newTestServer(t, policy("k8s://"+ns+"/release-key"), Options{Client: webhook})
	for _, tt := range []struct {
		image   string
		allowed bool
	}{{repo + "@" + signed, true}, {repo + "@" + unsigned, false}} {
		resp, _, body := ts.post(t, EndpointValidate, reviewFor(t, pod("p", container("a", tt.image)), podGVK, "prod", reviewOpts{}))
		if resp.Allowed != tt.allowed {
			t.Errorf("%s: allowed %v, want %v: %s", tt.image, resp.Allowed, tt.allowed, body)
		}
	}

	for _, tt := range []struct{ ref, want string }{
		{"k8s://" + ns + "/not-granted", "grant get on secrets with resourceNames [not-granted] in namespace " + ns},
		// Not granted either: the API server answers forbidden before it
		// would say whether it exists.
		{"k8s://" + ns + "/absent", "grant get on secrets with resourceNames [absent]"},
		{"k8s://" + ns + "/release-key/missing.pub", `secret has no field "missing.pub"`},
		{"k8s://" + ns + "/release-key/other.pub", ""},
	} {
		path := writePolicy(t, policy(tt.ref))
		st, _, err := fileState{}.changed(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = parsePolicy(ctx, path, st.data, KubeSecrets{Client: webhook})
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.ref, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "spec.images.verifyImages[0] (shop): signers[0].key") {
			t.Errorf("%s: error %v, want %q naming the field", tt.ref, err, tt.want)
		}
	}
	// Without a client (no cluster connection) such keys are refused.
	if _, err := LoadPolicy(ctx, writePolicy(t, policy("k8s://"+ns+"/release-key"))); err == nil || !strings.Contains(err.Error(), "not readable here") {
		t.Errorf("k8s:// key without a client: %v", err)
	}
}
