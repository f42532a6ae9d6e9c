package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/encryption"
	"github.com/palisade-sec/palisade/internal/testenv"
)

// TestClusterEncryptionCommand: a real API server with aescbc enabled after
// Secrets were written; the command reads etcd, reports the plaintext ones
// and the rewrite command, rewrites them through the kubeconfig with
// --rewrite, and verifies again.
func TestClusterEncryptionCommand(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	ctx := context.Background()
	ns := env.CreateNamespace(ctx, t, "cli-enc-", nil).Name
	c := env.AdminClient(t)
	mk := func(name string) {
		if _, err := c.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			StringData: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mk("before")
	env.RestartAPIServer(t, func(o *testenv.Options) {
		o.Encryption = &testenv.EncryptionConfig{Resources: []testenv.EncryptionResources{{Resources: []string{"secrets"},
			Providers: []testenv.EncryptionProvider{{Type: testenv.ProviderSecretbox, Keys: []testenv.EncryptionKey{testenv.NewEncryptionKey("sb1")}}, {Type: testenv.ProviderIdentity}}}}}
	})
	mk("after")
	encConfig := filepath.Join(env.Dir, "encryption.yaml")
	kubeconfig := env.KubeconfigFor(t, env.Config)
	args := []string{"cluster", "encryption", "--etcd-endpoints", env.EtcdEndpoint, "--encryption-config", encConfig, "--kubeconfig", kubeconfig}

	out, stderr, code := palisade(t, "", args...)
	if code != exitFindings {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"verification: etcd", "secretbox:sb1", "encryption/plaintext-at-rest", "Secret/" + ns + "/before",
		"kubectl get secrets -A -o json | kubectl replace -f -"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Secret/"+ns+"/after") {
		t.Errorf("the encrypted Secret is reported:\n%s", out)
	}

	out, stderr, code = palisade(t, "", append(args, "--rewrite", "-o", "json")...)
	if code != exitClean {
		t.Fatalf("--rewrite: exit %d: %s\n%s", code, stderr, out)
	}
	if !strings.Contains(stderr, "rewrote") || strings.Contains(out, "plaintext-at-rest") {
		t.Errorf("after --rewrite: %s\n%s", stderr, out)
	}
	// The JSON report, as an agent reads it (--encryption-report): verified
	// from etcd, with the provider that encrypted every Secret.
	if at, err := encryption.ReadReport(strings.NewReader(out)); err != nil || at.Status != encryption.StatusVerified || at.Level != encryption.LevelEtcd || at.Provider != "secretbox" {
		t.Errorf("report read back: %+v %v", at, err)
	}
	raw, _, err := env.EtcdGet(ctx, testenv.StorageKey("secrets", ns, "before"))
	if err != nil || !strings.HasPrefix(string(raw), "k8s:enc:secretbox:v1:sb1:") {
		t.Errorf("stored value after rewrite: %.30q %v", raw, err)
	}
}

// TestClusterEncryptionFallback: without etcd access the command says so,
// reports only what the configuration shows, and never a plaintext object.
func TestClusterEncryptionFallback(t *testing.T) {
	// The API server configuration found on a host tree (--root).
	root := fixtureHost(t, "kubeadm/good")
	out, stderr, code := palisade(t, "", "cluster", "encryption", "--root", root)
	if code != exitFindings {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"verification: configuration only", "no etcd access", "encryption/not-verified"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "plaintext-at-rest") || strings.Contains(out, "verification: etcd") {
		t.Errorf("claims more than verified:\n%s", out)
	}
	js, _, _ := palisade(t, "", "cluster", "encryption", "--root", root, "-o", "json")
	if at, err := encryption.ReadReport(strings.NewReader(js)); err != nil || at.Status != encryption.StatusConfigured || at.Level != encryption.LevelConfig {
		t.Errorf("configuration-only report read back: %+v %v", at, err)
	}

	// A host whose API server has no encryption configuration.
	bad := fixtureHost(t, "kubeadm/bad")
	out, _, _ = palisade(t, "", "cluster", "encryption", "--root", bad)
	if !strings.Contains(out, "verification: API server flags only") || !strings.Contains(out, "encryption/not-configured") {
		t.Errorf("no-encryption host:\n%s", out)
	}

	// A readable configuration file given directly, with weaknesses.
	p := filepath.Join(t.TempDir(), "enc.yaml")
	if err := os.WriteFile(p, []byte("kind: EncryptionConfiguration\napiVersion: apiserver.config.k8s.io/v1\nresources:\n- resources: [secrets]\n  providers: [{identity: {}}, {aescbc: {keys: [{name: key-2020-01-01, secret: a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=}]}}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, _ = palisade(t, "", "cluster", "encryption", "--encryption-config", p)
	if !strings.Contains(out, "encryption/identity-first") {
		t.Errorf("config review:\n%s", out)
	}
	if _, stderr, code := palisade(t, "", "cluster", "encryption", "--encryption-config", p, "--rewrite"); code != exitError || !strings.Contains(stderr, "--rewrite needs --etcd-endpoints") {
		t.Errorf("--rewrite without etcd: exit %d %s", code, stderr)
	}

	// Unreachable etcd: a clear error and exit 2, after the dial timeout
	// given (the message names it; the default is 5s). Not timed: a
	// loaded machine may take longer than the timeout to get there.
	_, stderr, code = palisade(t, "", "cluster", "encryption", "--etcd-endpoints", "http://127.0.0.1:1", "--etcd-dial-timeout", "1s", "--encryption-config", p)
	if code != exitError || !strings.Contains(stderr, "etcd http://127.0.0.1:1: no answer within 1s") {
		t.Errorf("unreachable etcd: exit %d: %s", code, stderr)
	}
}
