package testenv

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// NewClient returns a typed clientset for cfg, failing the test on error.
func NewClient(t testing.TB, cfg *rest.Config) *kubernetes.Clientset {
	t.Helper()
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("testenv: new clientset for %s: %v", cfg.Host, err)
	}
	return c
}

// AdminClient returns a clientset with the admin (system:masters) identity.
func (e *Env) AdminClient(t testing.TB) *kubernetes.Clientset {
	t.Helper()
	return NewClient(t, e.Config)
}

// WaitFor polls cond every 100ms until it returns true, returns an error, or
// ctx ends. There is no default timeout: pass a ctx with a deadline (the
// test's t.Context() plus context.WithTimeout) so a wrong expectation fails
// instead of hanging.
func WaitFor(ctx context.Context, cond func(context.Context) (bool, error)) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		done, err := cond(ctx)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("condition not met: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// CreateNamespace creates a namespace with the given labels. An empty name,
// or one ending in "-", is a prefix for a generated unique name: namespaces
// are never finalized here (no controller-manager), so reusing names across
// tests would collide with Terminating leftovers. The namespace is deleted
// (left Terminating) at cleanup.
func (e *Env) CreateNamespace(ctx context.Context, t testing.TB, name string, labels map[string]string) *corev1.Namespace {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Labels: labels}}
	switch {
	case name == "":
		ns.GenerateName = "test-"
	case strings.HasSuffix(name, "-"):
		ns.GenerateName = name
	default:
		ns.Name = name
	}
	client := e.AdminClient(t)
	created, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("testenv: create namespace %q: %v", name, err)
	}
	t.Cleanup(func() {
		// Best effort with a fresh context: the test's may be cancelled,
		// and a stopped dedicated instance makes this fail harmlessly.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := client.CoreV1().Namespaces().Delete(ctx, created.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Logf("testenv: delete namespace %s: %v", created.Name, err)
		}
	})
	return created
}

// UserConfig returns a rest.Config authenticating as user with groups via a
// client certificate signed by the instance's CA; pair it with RBAC objects
// for least-privilege tests (a user without bindings gets Forbidden).
func (e *Env) UserConfig(t testing.TB, user string, groups ...string) *rest.Config {
	t.Helper()
	certPEM, keyPEM, err := e.CA.IssueClient(user, groups...)
	if err != nil {
		t.Fatalf("testenv: client certificate for %q: %v", user, err)
	}
	return e.configWith(func(c *rest.Config) {
		c.CertData = certPEM
		c.KeyData = keyPEM
	})
}

// TokenConfig returns a rest.Config authenticating with a bearer token (a
// static token from Options.Tokens, [Env.AdminToken], or a service-account
// token).
func (e *Env) TokenConfig(token string) *rest.Config {
	return e.configWith(func(c *rest.Config) { c.BearerToken = token })
}

// configWith copies the admin config without its credentials and applies set.
func (e *Env) configWith(set func(*rest.Config)) *rest.Config {
	c := rest.AnonymousClientConfig(e.Config)
	c.QPS, c.Burst = e.Config.QPS, e.Config.Burst
	set(c)
	return c
}

// ServiceAccountConfig creates the ServiceAccount namespace/name if needed,
// requests a token for it (TokenRequest, 1h) and returns a rest.Config using
// it. The apiserver signs the token with the instance's service-account key.
func (e *Env) ServiceAccountConfig(ctx context.Context, t testing.TB, namespace, name string) *rest.Config {
	t.Helper()
	client := e.AdminClient(t)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	if _, err := client.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("testenv: create service account %s/%s: %v", namespace, name, err)
	}
	expiry := int64(3600)
	tr, err := client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("testenv: token for service account %s/%s: %v", namespace, name, err)
	}
	return e.TokenConfig(tr.Status.Token)
}

// KubeconfigFor writes cfg as a kubeconfig file in the test's temp dir and
// returns its path, for code under test that takes --kubeconfig. Combine
// with UserConfig, TokenConfig or ServiceAccountConfig.
func (e *Env) KubeconfigFor(t testing.TB, cfg *rest.Config) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := WriteKubeconfig(p, cfg); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return p
}

// WriteKubeconfig writes a single-context kubeconfig for cfg (server, CA,
// client certificate or bearer token, all inline) to path.
func WriteKubeconfig(path string, cfg *rest.Config) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["testenv"] = &clientcmdapi.Cluster{
		Server:                   cfg.Host,
		CertificateAuthorityData: cfg.CAData,
	}
	kc.AuthInfos["user"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData,
		ClientKeyData:         cfg.KeyData,
		Token:                 cfg.BearerToken,
	}
	kc.Contexts["testenv"] = &clientcmdapi.Context{Cluster: "testenv", AuthInfo: "user"}
	kc.CurrentContext = "testenv"
	data, err := clientcmd.Write(*kc)
	if err != nil {
		return fmt.Errorf("encode kubeconfig: %w", err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}

// EtcdGet reads the raw value stored under key in etcd (bypassing the
// apiserver, so encryption at rest is visible), through etcd's JSON gRPC
// gateway: this keeps the etcd client library out of the main module. found
// is false when the key does not exist.
func (e *Env) EtcdGet(ctx context.Context, key string) (value []byte, found bool, err error) {
	body, err := json.Marshal(map[string]string{"key": base64.StdEncoding.EncodeToString([]byte(key))})
	if err != nil {
		return nil, false, fmt.Errorf("encode etcd range request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.EtcdEndpoint+"/v3/kv/range", bytes.NewReader(body))
	if err != nil {
		return nil, false, fmt.Errorf("etcd range %q: %w", key, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, false, fmt.Errorf("etcd range %q: %w", key, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, false, fmt.Errorf("etcd range %q: read response: %w", key, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, false, fmt.Errorf("etcd range %q: HTTP %d: %s", key, resp.StatusCode, raw)
	}
	var out struct {
		Kvs []struct {
			Value []byte `json:"value"` // base64 in JSON; decoded by encoding/json
		} `json:"kvs"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, false, fmt.Errorf("etcd range %q: decode response: %w", key, err)
	}
	if len(out.Kvs) == 0 {
		return nil, false, nil
	}
	return out.Kvs[0].Value, true, nil
}

// StorageKey returns the etcd key of a namespaced object of the given
// resource, e.g. StorageKey("secrets", "ns", "name").
func StorageKey(resource, namespace, name string) string {
	return EtcdPrefix + "/" + resource + "/" + namespace + "/" + name
}
