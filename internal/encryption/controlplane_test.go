package encryption_test

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/palisade-sec/palisade/internal/encryption"
	"github.com/palisade-sec/palisade/internal/encryption/etcdkv"
	"github.com/palisade-sec/palisade/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func createSecrets(t *testing.T, env *testenv.Env, ns string, names ...string) {
	t.Helper()
	c := env.AdminClient(t)
	for _, n := range names {
		_, err := c.CoreV1().Secrets(ns).Create(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: ns},
			StringData: map[string]string{"password": "hunter2-" + n}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// counts scans the real etcd and returns the storage counts of the
// namespace's Secrets.
func counts(t *testing.T, kv encryption.KV, ns string) (map[string]int, *encryption.Inventory) {
	t.Helper()
	inv, err := encryption.Scan(context.Background(), kv, encryption.ScanOptions{Resources: []string{"secrets"}, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, o := range inv.Resources[0].Objects {
		if o.Namespace == ns {
			out[o.Storage.Label()]++
		}
	}
	return out, inv
}

func only(inv *encryption.Inventory, ns string) []encryption.Object {
	var out []encryption.Object
	for _, o := range inv.Resources[0].Objects {
		if o.Namespace == ns {
			out = append(out, o)
		}
	}
	return out
}

func want(t *testing.T, step string, got, want map[string]int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: storage %v, want %v", step, got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: storage %v, want %v", step, got, want)
		}
	}
}

// TestEncryptionLifecycle runs a real API server and etcd through the life
// of encryption at rest: none, enabled (old objects stay plaintext until
// rewritten), and a key rotation, verifying every step from the raw etcd
// values, per key.
func TestEncryptionLifecycle(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	ctx := context.Background()
	ns := env.CreateNamespace(ctx, t, "enc-", nil).Name
	kv, err := etcdkv.Dial(ctx, etcdkv.Options{Endpoints: []string{env.EtcdEndpoint}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = kv.Close() }()
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	secrets, _ := encryption.GroupVersionResource("secrets")

	// (1) No encryption: everything plaintext, and the raw value really
	// holds the secret in clear.
	createSecrets(t, env, ns, "old-1", "old-2", "old-3")
	got, _ := counts(t, kv, ns)
	want(t, "no encryption", got, map[string]int{"plaintext": 3})
	raw, _, err := env.EtcdGet(ctx, testenv.StorageKey("secrets", ns, "old-1"))
	if err != nil || !strings.Contains(string(raw), "hunter2-old-1") {
		t.Fatalf("raw value does not hold the plaintext: %v", err)
	}

	// (2) aescbc enabled: new Secrets encrypted with key1, old ones still
	// plaintext until rewritten.
	key1, key2 := testenv.NewEncryptionKey("key1"), testenv.NewEncryptionKey("key2")
	enc := func(keys ...testenv.EncryptionKey) *testenv.EncryptionConfig {
		return &testenv.EncryptionConfig{Resources: []testenv.EncryptionResources{{Resources: []string{"secrets"},
			Providers: []testenv.EncryptionProvider{{Type: testenv.ProviderAESCBC, Keys: keys}, {Type: testenv.ProviderIdentity}}}}}
	}
	env.RestartAPIServer(t, func(o *testenv.Options) { o.Encryption = enc(key1) })
	createSecrets(t, env, ns, "new-1", "new-2")
	got, inv := counts(t, kv, ns)
	want(t, "aescbc enabled", got, map[string]int{"plaintext": 3, "aescbc:key1": 2})
	cfg, err := encryption.LoadConfig(filepath.Join(env.Dir, "encryption.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r := (&encryption.Assessment{Inventory: inv, Config: cfg}).Report(encryption.ReviewOptions{})
	plain := 0
	for _, f := range r.Findings {
		if f.RuleID == encryption.RulePlaintext && f.Object.Namespace == ns {
			plain++
			if !strings.Contains(f.Message, "although encryption is enabled") {
				t.Errorf("message: %s", f.Message)
			}
		}
	}
	if plain != 3 {
		t.Errorf("%d plaintext findings in %s, want 3", plain, ns)
	}
	w := cfg.WriteStorage("secrets")
	res := encryption.Rewrite(ctx, dyn, secrets, only(inv, ns)[:0:0])
	if res.Rewritten != 0 {
		t.Fatal("rewrote nothing-to-do")
	}
	var stale []encryption.Object
	for _, o := range inv.Resources[0].Stale(&w) {
		if o.Namespace == ns {
			stale = append(stale, o)
		}
	}
	if res = encryption.Rewrite(ctx, dyn, secrets, stale); res.Rewritten != 3 || len(res.Errors) != 0 {
		t.Fatalf("rewrite: %+v", res)
	}
	got, _ = counts(t, kv, ns)
	want(t, "after rewrite", got, map[string]int{"aescbc:key1": 5})

	// (3) Rotation: key2 first (key1 still readable), restart, rewrite:
	// every object moves from key1 to key2.
	env.RestartAPIServer(t, func(o *testenv.Options) { o.Encryption = enc(key2, key1) })
	createSecrets(t, env, ns, "rotated-1")
	got, inv = counts(t, kv, ns)
	want(t, "key2 added", got, map[string]int{"aescbc:key1": 5, "aescbc:key2": 1})
	if cfg, err = encryption.LoadConfig(filepath.Join(env.Dir, "encryption.yaml")); err != nil {
		t.Fatal(err)
	}
	w = cfg.WriteStorage("secrets")
	stale = nil
	for _, o := range inv.Resources[0].Stale(&w) {
		if o.Namespace == ns {
			stale = append(stale, o)
		}
	}
	if res = encryption.Rewrite(ctx, dyn, secrets, stale); res.Rewritten != 5 {
		t.Fatalf("rotation rewrite: %+v", res)
	}
	got, _ = counts(t, kv, ns)
	want(t, "after rotation", got, map[string]int{"aescbc:key2": 6})

	// A Secret deleted between scan and rewrite is counted as gone.
	if err := env.AdminClient(t).CoreV1().Secrets(ns).Delete(ctx, "rotated-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if res = encryption.Rewrite(ctx, dyn, secrets, []encryption.Object{{Namespace: ns, Name: "rotated-1"}}); res.Gone != 1 {
		t.Errorf("deleted object: %+v", res)
	}
}

// TestEtcdUnreachable: wrong scheme, closed port, TLS against a plain
// endpoint and a TLS server that never answers all fail fast and say what
// is wrong.
func TestEtcdUnreachable(t *testing.T) {
	env := testenv.Shared(t)
	ctx := context.Background()
	dir := t.TempDir()
	caCert := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caCert, env.CA.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := env.CA.IssueClient("etcd-client")
	if err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(dir, "c.crt"), filepath.Join(dir, "c.key")
	_ = os.WriteFile(cert, certPEM, 0o600)
	_ = os.WriteFile(key, keyPEM, 0o600)

	// A TLS listener that accepts and then says nothing.
	tlsCert, err := env.CA.TLSServing("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{tlsCert}})
	if err != nil {
		t.Fatal(err)
	}
	// It holds every connection until the test ends, so only the dial
	// timeout can end a Dial to it.
	silent := make(chan struct{})
	defer func() { close(silent); _ = ln.Close() }()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) { <-silent; _ = c.Close() }(c)
		}
	}()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	_ = closed.Close()

	plainHost := strings.TrimPrefix(env.EtcdEndpoint, "http://")
	tests := []struct {
		name string
		opts etcdkv.Options
		want string
	}{
		{"no scheme", etcdkv.Options{Endpoints: []string{plainHost}}, "not an http:// or https:// URL"},
		{"cert without key", etcdkv.Options{Endpoints: []string{"https://" + plainHost}, CertFile: cert}, "must be given together"},
		{"TLS flags on http", etcdkv.Options{Endpoints: []string{env.EtcdEndpoint}, CAFile: caCert}, "use https:// URLs"},
		{"missing CA file", etcdkv.Options{Endpoints: []string{"https://" + plainHost}, CAFile: filepath.Join(dir, "nope")}, "--etcd-cacert"},
		{"closed port", etcdkv.Options{Endpoints: []string{"http://" + closedAddr}, DialTimeout: 2 * time.Second}, "etcd http://" + closedAddr},
		{"TLS to plain etcd", etcdkv.Options{Endpoints: []string{"https://" + plainHost}, CAFile: caCert, CertFile: cert, KeyFile: key, DialTimeout: 2 * time.Second}, "check the URL"},
		{"silent TLS server", etcdkv.Options{Endpoints: []string{"https://" + ln.Addr().String()}, CAFile: caCert, CertFile: cert, KeyFile: key, DialTimeout: 2 * time.Second}, "check the URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A Dial that ignored its 2 s timeout would run until this
			// context ends (the silent server never hangs up): a bound far
			// above the timeout, so a slow or loaded machine does not fail.
			dctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			start := time.Now()
			kv, err := etcdkv.Dial(dctx, tt.opts)
			if err == nil {
				_ = kv.Close()
				t.Fatal("connected")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
			if d := time.Since(start); d > time.Minute {
				t.Errorf("took %s: the dial timeout did not end it", d)
			}
		})
	}
}
