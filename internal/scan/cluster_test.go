package scan_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/palisade-sec/palisade/internal/cluster"
	"github.com/palisade-sec/palisade/internal/rules"
	"github.com/palisade-sec/palisade/internal/scan"
	"github.com/palisade-sec/palisade/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestClusterFoldsPodsOfCustomControllers: on a real API server, the Pods
// of a controller Palisade does not scan itself (a custom resource, here
// an Argo Rollout) are reported once, as their owner, like in a
// configuration scan; standalone Pods stay Pods.
func TestClusterFoldsPodsOfCustomControllers(t *testing.T) {
	env := testenv.Shared(t)
	ctx := context.Background()
	ns := env.CreateNamespace(ctx, t, "scan-fold-", nil).Name
	c := env.AdminClient(t)
	yes := true
	newPod := func(name string, owned bool) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1.0",
				SecurityContext: &corev1.SecurityContext{Privileged: &yes}}}}}
		if owned {
			p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "argoproj.io/v1alpha1", Kind: "Rollout", Name: "web",
				UID: types.UID("2c1f6a10-7e4b-4a57-9d1e-5b6f0c3a8e01"), Controller: &yes}}
		}
		return p
	}
	for _, p := range []*corev1.Pod{newPod("web-5f7c9-a", true), newPod("web-5f7c9-b", true), newPod("debug", false)} {
		if _, err := c.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	set, err := all.Select([]string{"pss/privileged"})
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := scan.Cluster(ctx, c, cluster.ReadOptions{Namespace: ns}, scan.Options{Rules: set})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range r.Findings {
		got = append(got, f.RuleID+" "+f.Object.String())
	}
	slices.Sort(got)
	want := []string{"pss/privileged Pod/" + ns + "/debug", "pss/privileged Rollout/" + ns + "/web"}
	if !slices.Equal(got, want) {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r.Summary.Total != 2 || r.Summary.NotUnderstood == nil || *r.Summary.NotUnderstood != 0 {
		t.Errorf("summary %+v", r.Summary)
	}
}
