package testenv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func TestMain(m *testing.M) { Main(m) }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSharedReportsPinnedVersion(t *testing.T) {
	env := Shared(t)
	v, err := env.AdminClient(t).Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("server version: %v", err)
	}
	if v.GitVersion != KubeVersion {
		t.Fatalf("discovery reports %q, want %q", v.GitVersion, KubeVersion)
	}
}

func TestSharedNamespaceAndPod(t *testing.T) {
	env := Shared(t)
	ctx := testCtx(t)
	ns := env.CreateNamespace(ctx, t, "pods-", map[string]string{"palisade.test/purpose": "pods"})
	if !strings.HasPrefix(ns.Name, "pods-") || ns.Labels["palisade.test/purpose"] != "pods" {
		t.Fatalf("namespace %s labels %v: want generated name with prefix pods- and the label", ns.Name, ns.Labels)
	}
	client := env.AdminClient(t)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}},
	}
	// Accepted because the ServiceAccount admission plugin is off; it stays
	// Pending forever since nothing schedules or runs it.
	if _, err := client.CoreV1().Pods(ns.Name).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod: %v", err)
	}
	got, err := client.CoreV1().Pods(ns.Name).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get pod: %v", err)
	}
	if got.Status.Phase != corev1.PodPending && got.Status.Phase != "" {
		t.Fatalf("pod phase %q, want Pending", got.Status.Phase)
	}
}

func TestAdminKubeconfigFile(t *testing.T) {
	env := Shared(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", env.KubeconfigPath)
	if err != nil {
		t.Fatalf("load admin kubeconfig: %v", err)
	}
	if _, err := NewClient(t, cfg).CoreV1().Namespaces().Get(testCtx(t), "kube-system", metav1.GetOptions{}); err != nil {
		t.Fatalf("get kube-system with admin kubeconfig: %v", err)
	}
}

func TestRestrictedUserIsForbiddenUntilBound(t *testing.T) {
	env := Shared(t)
	ctx := testCtx(t)
	ns := env.CreateNamespace(ctx, t, "rbac-", nil)

	// Through a kubeconfig file, as a CLI under test would get it.
	cfg, err := clientcmd.BuildConfigFromFlags("", env.KubeconfigFor(t, env.UserConfig(t, "alice", "auditors")))
	if err != nil {
		t.Fatalf("load alice kubeconfig: %v", err)
	}
	alice := NewClient(t, cfg)
	_, err = alice.CoreV1().Pods(ns.Name).List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("alice listing pods without bindings: got %v, want Forbidden", err)
	}

	admin := env.AdminClient(t)
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list"}}},
	}
	if _, err := admin.RbacV1().Roles(ns.Name).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create role: %v", err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "auditors-read-pods"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-reader"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "auditors"}},
	}
	if _, err := admin.RbacV1().RoleBindings(ns.Name).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create role binding: %v", err)
	}
	// The RBAC authorizer reads from informers, so the grant is eventually
	// visible.
	err = WaitFor(ctx, func(ctx context.Context) (bool, error) {
		_, err := alice.CoreV1().Pods(ns.Name).List(ctx, metav1.ListOptions{})
		if apierrors.IsForbidden(err) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		t.Fatalf("alice listing pods after binding: %v", err)
	}
	if _, err := alice.CoreV1().Secrets(ns.Name).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("alice listing secrets: got %v, want Forbidden", err)
	}
}

// Regression guard for the etcd build: with an etcd lacking
// RequestWatchProgress (3.4 without progress notifications), a watch on an
// idle resource fails after ~3s with "Too large resource version".
func TestIdleWatchStaysHealthy(t *testing.T) {
	env := Shared(t)
	ctx := testCtx(t)
	ns := env.CreateNamespace(ctx, t, "watch-", nil)
	client := env.AdminClient(t)
	list, err := client.CoreV1().ConfigMaps(ns.Name).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list configmaps: %v", err)
	}
	w, err := client.CoreV1().ConfigMaps(ns.Name).Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatalf("watch configmaps: %v", err)
	}
	defer w.Stop()

	idle := time.After(4 * time.Second)
	for waiting := true; waiting; {
		select {
		case ev, ok := <-w.ResultChan():
			t.Fatalf("idle watch produced %v (open=%v): %+v", ev.Type, ok, ev.Object)
		case <-idle:
			waiting = false
		}
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "after-idle"}}
	if _, err := client.CoreV1().ConfigMaps(ns.Name).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create configmap: %v", err)
	}
	select {
	case ev := <-w.ResultChan():
		if ev.Type != watch.Added {
			t.Fatalf("after idle: got %v %+v, want ADDED", ev.Type, ev.Object)
		}
	case <-ctx.Done():
		t.Fatal("no event after idle period")
	}
}

func whoAmI(ctx context.Context, t *testing.T, c kubernetes.Interface) authenticationv1.UserInfo {
	t.Helper()
	r, err := c.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("self subject review: %v", err)
	}
	return r.Status.UserInfo
}

func TestServiceAccountAndAdminTokens(t *testing.T) {
	env := Shared(t)
	ctx := testCtx(t)
	ns := env.CreateNamespace(ctx, t, "", nil)

	sa := NewClient(t, env.ServiceAccountConfig(ctx, t, ns.Name, "scanner"))
	if got, want := whoAmI(ctx, t, sa).Username, "system:serviceaccount:"+ns.Name+":scanner"; got != want {
		t.Fatalf("service account token authenticates as %q, want %q", got, want)
	}
	if _, err := sa.CoreV1().Pods(ns.Name).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("unbound service account listing pods: got %v, want Forbidden", err)
	}

	admin := NewClient(t, env.TokenConfig(env.AdminToken))
	if got := whoAmI(ctx, t, admin).Username; got != "palisade-token-admin" {
		t.Fatalf("admin token authenticates as %q", got)
	}
}

func TestEncryptionAtRestAndKeyRotation(t *testing.T) {
	key1, key2 := NewEncryptionKey("key1"), NewEncryptionKey("key2")
	env := Start(t, Options{Encryption: &EncryptionConfig{Resources: []EncryptionResources{{
		Resources: []string{"secrets"},
		Providers: []EncryptionProvider{{Type: ProviderAESCBC, Keys: []EncryptionKey{key1}}, {Type: ProviderIdentity}},
	}}}})
	ctx := testCtx(t)
	ns := env.CreateNamespace(ctx, t, "enc-", nil)
	client := env.AdminClient(t)

	const plaintext = "hunter2-very-secret"
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db"}, StringData: map[string]string{"password": plaintext}}
	if _, err := client.CoreV1().Secrets(ns.Name).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create secret: %v", err)
	}
	assertStored := func(prefix string) {
		t.Helper()
		raw, found, err := env.EtcdGet(ctx, StorageKey("secrets", ns.Name, "db"))
		if err != nil || !found {
			t.Fatalf("read secret from etcd: found=%v err=%v", found, err)
		}
		if !bytes.HasPrefix(raw, []byte(prefix)) {
			t.Fatalf("stored secret starts with %q, want prefix %q", raw[:min(len(raw), 40)], prefix)
		}
		if bytes.Contains(raw, []byte(plaintext)) {
			t.Fatal("plaintext visible in etcd")
		}
	}
	assertStored(EncryptedPrefix(ProviderAESCBC, "key1"))

	// Control: ConfigMaps are not covered, so they are stored in the clear.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg"}, Data: map[string]string{"k": plaintext}}
	if _, err := client.CoreV1().ConfigMaps(ns.Name).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create configmap: %v", err)
	}
	if raw, _, err := env.EtcdGet(ctx, StorageKey("configmaps", ns.Name, "cfg")); err != nil || !bytes.Contains(raw, []byte(plaintext)) {
		t.Fatalf("configmap should be stored unencrypted (err=%v)", err)
	}

	// Rotation: key2 (aesgcm) writes, key1 still decrypts old data.
	env.RestartAPIServer(t, func(o *Options) {
		o.Encryption = &EncryptionConfig{Resources: []EncryptionResources{{
			Resources: []string{"secrets"},
			Providers: []EncryptionProvider{
				{Type: ProviderAESGCM, Keys: []EncryptionKey{key2}},
				{Type: ProviderAESCBC, Keys: []EncryptionKey{key1}},
			},
		}}}
	})
	got, err := client.CoreV1().Secrets(ns.Name).Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("read old secret after rotation: %v", err)
	}
	if string(got.Data["password"]) != plaintext {
		t.Fatalf("secret after rotation = %q", got.Data["password"])
	}
	assertStored(EncryptedPrefix(ProviderAESCBC, "key1")) // not rewritten yet
	if _, err := client.CoreV1().Secrets(ns.Name).Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("rewrite secret: %v", err)
	}
	assertStored(EncryptedPrefix(ProviderAESGCM, "key2"))
}

func TestAuditLogWebhookAndStaticTokens(t *testing.T) {
	// The webhook runs before the instance exists, so it cannot use the
	// instance's CA; it is an httptest TLS server with its own, which the
	// webhook kubeconfig trusts.
	var mu sync.Mutex
	var webhookUsers []string
	hook := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var list struct {
			Items []struct {
				User struct {
					Username string `json:"username"`
				} `json:"user"`
			} `json:"items"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &list); err == nil {
			mu.Lock()
			for _, it := range list.Items {
				webhookUsers = append(webhookUsers, it.User.Username)
			}
			mu.Unlock()
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(hook.Close)
	hookCA := bytesPEM(hook.Certificate().Raw)

	env := Start(t, Options{
		Audit:  &AuditOptions{WebhookKubeconfig: AuditWebhookKubeconfig(hook.URL, hookCA)},
		Tokens: []StaticToken{{Token: "bob-token", User: "bob", Groups: []string{"devs", "qa"}}},
	})
	ctx := testCtx(t)
	bob := NewClient(t, env.TokenConfig("bob-token"))
	info := whoAmI(ctx, t, bob)
	if info.Username != "bob" || !slices.Contains(info.Groups, "devs") || !slices.Contains(info.Groups, "qa") {
		t.Fatalf("static token user = %+v, want bob in devs and qa", info)
	}
	_, err := bob.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("bob listing secrets: got %v, want Forbidden", err)
	}

	if env.AuditLogPath == "" {
		t.Fatal("AuditLogPath empty with auditing on")
	}
	err = WaitFor(ctx, func(context.Context) (bool, error) {
		return auditLogHas(t, env.AuditLogPath, "bob", "secrets"), nil
	})
	if err != nil {
		t.Fatalf("no audit event for bob listing secrets in %s: %v", env.AuditLogPath, err)
	}
	err = WaitFor(ctx, func(context.Context) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(webhookUsers, "bob"), nil
	})
	if err != nil {
		t.Fatalf("audit webhook never received an event for bob: %v", err)
	}
}

func auditLogHas(t *testing.T, path, user, resource string) bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev struct {
			User struct {
				Username string `json:"username"`
			} `json:"user"`
			ObjectRef struct {
				Resource string `json:"resource"`
			} `json:"objectRef"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.User.Username == user && ev.ObjectRef.Resource == resource {
			return true
		}
	}
	return false
}

func TestLaunchFailureQuotesLog(t *testing.T) {
	Require(t)
	ctx := testCtx(t)
	env, err := Launch(ctx, Options{ExtraAPIServerFlags: []string{"--no-such-flag=1"}})
	if err == nil {
		env.Stop()
		t.Fatal("Launch with a bogus flag succeeded")
	}
	if !strings.Contains(err.Error(), "no-such-flag") {
		t.Fatalf("error does not quote the apiserver log: %v", err)
	}
	if errors.Is(err, ErrBinariesNotFound) {
		t.Fatalf("wrong error class: %v", err)
	}
}

func bytesPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
