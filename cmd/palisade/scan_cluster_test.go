package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/palisade-sec/palisade/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestScanClusterCommand runs 'palisade scan cluster' against the real API
// server through a kubeconfig file, as a user would.
func TestScanClusterCommand(t *testing.T) {
	env := testenv.Shared(t)
	ctx := context.Background()
	ns := env.CreateNamespace(ctx, t, "cli-scan-", nil).Name
	c := env.AdminClient(t)
	yes := true
	_, err := c.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: ns},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "nginx", SecurityContext: &corev1.SecurityContext{Privileged: &yes}}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := env.KubeconfigFor(t, env.Config)

	out, stderr, code := palisade(t, "", "scan", "cluster", "--kubeconfig", kubeconfig, "-n", ns, "-o", "json")
	if code != exitFindings {
		t.Fatalf("exit %d, want 1; stderr %s", code, stderr)
	}
	var doc struct {
		Findings []struct {
			RuleID string `json:"ruleID"`
			Object struct{ Kind, Namespace, Name string }
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, f := range doc.Findings {
		found[f.Object.Kind+"/"+f.Object.Name+" "+f.RuleID] = true
	}
	for _, want := range []string{"Pod/bad pss/privileged", "Pod/bad hardening/latest-tag", "Namespace/" + ns + " cluster/namespace-no-pss-enforce"} {
		if !found[want] {
			t.Errorf("missing %s in %v", want, found)
		}
	}

	// The same rules and messages as scan config, in every format.
	for _, format := range []string{"table", "yaml", "sarif", "junit"} {
		if _, stderr, code := palisade(t, "", "scan", "cluster", "--kubeconfig", kubeconfig, "-n", ns, "-o", format); code != exitFindings {
			t.Errorf("-o %s: exit %d: %s", format, code, stderr)
		}
	}
	if _, _, code := palisade(t, "", "scan", "cluster", "--kubeconfig", kubeconfig, "-n", ns, "--fail-on", "none"); code != exitClean {
		t.Errorf("--fail-on none: exit %d", code)
	}
	if _, stderr, code := palisade(t, "", "scan", "cluster", "--kubeconfig", kubeconfig, "-n", ns, "-A"); code != exitError || !strings.Contains(stderr, "cannot be used together") {
		t.Errorf("-n with -A: exit %d %s", code, stderr)
	}
	bad := env.KubeconfigFor(t, &rest.Config{Host: "https://127.0.0.1:1", TLSClientConfig: rest.TLSClientConfig{Insecure: true}})
	if _, stderr, code := palisade(t, "", "scan", "cluster", "--kubeconfig", bad); code != exitError || !strings.Contains(stderr, "cannot reach the Kubernetes API") {
		t.Errorf("unreachable: exit %d %s", code, stderr)
	}
	if _, stderr, code := palisade(t, "", "scan", "cluster", "--kubeconfig", kubeconfig, "--context", "missing"); code != exitError || !strings.Contains(stderr, "missing") {
		t.Errorf("unknown context: exit %d %s", code, stderr)
	}
}
