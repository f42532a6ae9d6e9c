package agent_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/palisade-sec/palisade/internal/agent"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/testenv"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

// cmName is the webhook's policy ConfigMap, as deploy/admission names it.
const cmName = "palisade-admission-policy"

func admissionPolicyYAML(mode string) []byte {
	return []byte("apiVersion: palisade.io/v1alpha1\nkind: AdmissionPolicy\nmetadata:\n  name: fleet\nspec:\n  mode: " + mode + "\n")
}

// createPolicyConfigMap creates the webhook's ConfigMap in ns holding
// "local".
func createPolicyConfigMap(t *testing.T, ctx context.Context, client kubernetes.Interface, ns string) {
	t.Helper()
	if _, err := client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: cmName},
		Data: map[string]string{"policy.yaml": "local"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// policyInConfigMap is what the webhook would read.
func policyInConfigMap(t *testing.T, ctx context.Context, client kubernetes.Interface, ns string) string {
	t.Helper()
	cm, err := client.CoreV1().ConfigMaps(ns).Get(ctx, cmName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm.Data["policy.yaml"]
}

// TestAdmissionBundleReachesWebhookConfigMap: on the real hub and API
// server, the hub refuses an admission bundle the webhook could not load;
// a bundle that arrives before the webhook's ConfigMap exists is written
// once it does, even with the hub down; a fleet-wide one, then a
// cluster's own, reach the ConfigMap through the agent, the cluster's
// winning; an edit made in the cluster is undone.
func TestAdmissionBundleReachesWebhookConfigMap(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := env.AdminClient(t)
	ns := env.CreateNamespace(ctx, t, "", nil).Name
	p := newHubProc(t)
	policy := admissionPolicyYAML
	if _, err := p.h.PublishBundle(ctx, fleetapi.BundleAdmission, "fleet", "", policy("sometimes")); err == nil || !strings.Contains(err.Error(), "spec.mode") {
		t.Fatalf("publishing a policy the webhook would refuse: %v", err)
	}
	state := t.TempDir()
	a, _ := runAgent(t, ctx, p, "admission-edge", client, ns, state, func(c *agent.Config) {
		c.AdmissionPolicyConfigMap = ns + "/" + cmName
	})
	inCM := func() string { return policyInConfigMap(t, ctx, client, ns) }
	// The first bundle arrives before the ConfigMap exists: the write
	// fails, and is tried again at the next bundle check, hub or no hub.
	if _, err := p.h.PublishBundle(ctx, fleetapi.BundleAdmission, "fleet", "", policy("audit")); err != nil {
		t.Fatal(err)
	}
	if err := a.FetchBundles(ctx); err != nil {
		t.Fatal(err)
	}
	createPolicyConfigMap(t, ctx, client, ns)
	p.stop()
	if err := a.FetchBundles(ctx); err == nil {
		t.Fatal("fetched bundles from a stopped hub")
	}
	if got := inCM(); got != string(policy("audit")) {
		t.Fatalf("after the ConfigMap appeared, with the hub down: %q, want the cached audit policy", got)
	}
	p.start()
	for _, step := range []struct {
		cluster, mode string
	}{{"", "warn"}, {a.ClusterID(), "enforce"}} {
		if _, err := p.h.PublishBundle(ctx, fleetapi.BundleAdmission, "fleet", step.cluster, policy(step.mode)); err != nil {
			t.Fatal(err)
		}
		if err := a.FetchBundles(ctx); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the "+step.mode+" policy in the webhook's ConfigMap", time.Minute, func() bool { return inCM() == string(policy(step.mode)) })
	}
	// A fleet-wide version published later does not override the
	// cluster's own.
	if _, err := p.h.PublishBundle(ctx, fleetapi.BundleAdmission, "fleet", "", policy("audit")); err != nil {
		t.Fatal(err)
	}
	if err := a.FetchBundles(ctx); err != nil {
		t.Fatal(err)
	}
	if got := inCM(); got != string(policy("enforce")) {
		t.Fatalf("after a newer fleet-wide bundle the ConfigMap holds %q, want the cluster's enforce policy", got)
	}
	// An edit in the cluster is undone at the next bundle check.
	cm, err := client.CoreV1().ConfigMaps(ns).Get(ctx, cmName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["policy.yaml"] = string(policy("audit"))
	if _, err := client.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := a.FetchBundles(ctx); err != nil {
		t.Fatal(err)
	}
	if got := inCM(); got != string(policy("enforce")) {
		t.Fatalf("a local edit survived the bundle check: %q", got)
	}
	// The cluster's own bundle, damaged in the cache, does not give way
	// to the fleet's audit policy.
	p.stop()
	metas, _ := filepath.Glob(filepath.Join(state, "bundles", "admission--fleet@*.json"))
	if len(metas) != 1 {
		t.Fatalf("cluster admission bundle in the cache: %v", metas)
	}
	raw, err := os.ReadFile(metas[0])
	if err != nil {
		t.Fatal(err)
	}
	var meta fleetapi.Bundle
	if err := json.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "bundles", meta.SHA256+".bundle"), policy("audit"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = a.FetchBundles(ctx)
	if got := inCM(); got != string(policy("enforce")) {
		t.Fatalf("with the cluster's bundle damaged, the ConfigMap holds %q; want the cluster's enforce policy kept", got)
	}
}

// TestAdmissionBundlePublisherKey: an agent given a publisher key writes
// only admission policies that key signed — not an unsigned one nor one
// signed by another key, though the hub signed both bundles — and writes
// the policy YAML, not the signed document.
func TestAdmissionBundlePublisherKey(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := env.AdminClient(t)
	ns := env.CreateNamespace(ctx, t, "", nil).Name
	createPolicyConfigMap(t, ctx, client, ns)
	keyPEM, pubPEM, err := vulndb.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	otherPEM, _, _ := vulndb.GenerateKey()
	key, _ := vulndb.ParsePrivateKey(keyPEM)
	other, _ := vulndb.ParsePrivateKey(otherPEM)
	pubFile := filepath.Join(t.TempDir(), "publisher.pub")
	if err := os.WriteFile(pubFile, pubPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	p := newHubProc(t)
	a, _ := runAgent(t, ctx, p, "signed-edge", client, ns, "", func(c *agent.Config) {
		c.AdmissionPolicyConfigMap = ns + "/" + cmName
		c.AdmissionPolicyKeyFiles = []string{pubFile}
	})
	inCM := func() string { return policyInConfigMap(t, ctx, client, ns) }
	policy := admissionPolicyYAML("enforce")
	for _, tc := range []struct {
		name    string
		content []byte
		want    string
	}{
		{"unsigned", policy, "local"},
		{"signed by another key", fleetapi.SignAdmissionPolicy(policy, other), "local"},
		{"signed by the publisher", fleetapi.SignAdmissionPolicy(policy, key), string(policy)},
	} {
		if _, err := p.h.PublishBundle(ctx, fleetapi.BundleAdmission, "fleet", "", tc.content); err != nil {
			t.Fatalf("%s: publish: %v", tc.name, err)
		}
		if err := a.FetchBundles(ctx); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := inCM(); got != tc.want {
			t.Fatalf("%s: the ConfigMap holds %q, want %q", tc.name, got, tc.want)
		}
	}
}
