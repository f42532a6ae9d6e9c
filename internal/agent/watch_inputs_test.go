package agent

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/palisade-sec/palisade/internal/rules"
	"github.com/palisade-sec/palisade/internal/testenv"
)

// TestWatcherReadsRuleInputs runs the agent's informers on a real API
// server with exactly the ClusterRole of deploy/agent/agent.yaml: they
// must sync (list and watch are allowed on every kind watched), and the
// rules about ConfigMaps, disruption budgets, autoscalers and Ingresses
// must report the live objects, the credential masked; a changed
// ConfigMap is evaluated alone, and its cached copy keeps no setting.
func TestWatcherReadsRuleInputs(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := env.AdminClient(t)
	ns := env.CreateNamespace(ctx, t, "", nil).Name

	role := testenv.ManifestClusterRole(t, "../../deploy/agent/agent.yaml")
	for _, r := range role.Rules {
		if len(r.ResourceNames) > 0 || strings.Join(r.Verbs, ",") != "get,list,watch" && strings.Join(r.Verbs, ",") != "list,watch" {
			t.Errorf("agent rule %+v: want only get, list and watch", r)
		}
		for _, res := range r.Resources {
			if res == "secrets" || res == "*" {
				t.Errorf("agent role reads %s", res)
			}
		}
	}
	role.Name = "agent-inputs-" + ns
	if _, err := admin.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "agent", Namespace: ns}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	labels := map[string]string{"app": "api"}
	two := int32(2)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(admin.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns},
		Spec: appsv1.DeploymentSpec{Replicas: &two, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1"}}}}}}, metav1.CreateOptions{}))
	must(admin.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app-config", Namespace: ns},
		Data: map[string]string{"LOG_LEVEL": "debug", "DB_PASSWORD": "hunter2-prod-7731"}}, metav1.CreateOptions{}))
	must(admin.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "clean", Namespace: ns},
		Data: map[string]string{"LOG_LEVEL": "info"}}, metav1.CreateOptions{}))
	zero := intstr.FromInt32(0)
	must(admin.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &zero, Selector: &metav1.LabelSelector{MatchLabels: labels}}}, metav1.CreateOptions{}))
	must(admin.AutoscalingV2().HorizontalPodAutoscalers(ns).Create(ctx, &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "gone", Namespace: ns},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "gone"},
			MinReplicas: &two, MaxReplicas: 4}}, metav1.CreateOptions{}))
	must(admin.NetworkingV1().Ingresses(ns).Create(ctx, &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: networkingv1.IngressSpec{DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "missing",
			Port: networkingv1.ServiceBackendPort{Number: 80}}}}}, metav1.CreateOptions{}))

	client := testenv.NewClient(t, env.ServiceAccountConfig(ctx, t, ns, "agent"))
	w, err := newWatcher(client, ns, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.start(ctx); err != nil {
		t.Fatalf("informers with the shipped role: %v", err)
	}
	set, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	opts := evalOptions{Rules: set}
	ev, err := w.evaluate(ctx, true, nil, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	has := func(ev *evaluation, kind, name, ruleID string) bool {
		for _, f := range ev.byObject[objectKey(kind, ns, name)].Findings {
			if f.RuleID == ruleID {
				if strings.Contains(f.Message, "hunter2-prod-7731") {
					t.Errorf("finding shows the credential: %s", f.Message)
				}
				return true
			}
		}
		return false
	}
	for _, want := range []struct{ kind, name, rule string }{
		{"ConfigMap", "app-config", "hardening/configmap-secret"},
		{"PodDisruptionBudget", "api", "reliability/pdb-blocks-eviction"},
		{"HorizontalPodAutoscaler", "gone", "reliability/hpa-target-missing"},
		{"Ingress", "web", "reliability/ingress-missing-service"},
	} {
		if !has(ev, want.kind, want.name, want.rule) {
			t.Errorf("%s/%s: no %s finding; findings: %+v", want.kind, want.name, want.rule, ev.byObject[objectKey(want.kind, ns, want.name)])
		}
	}
	if of, ok := ev.byObject[objectKey("ConfigMap", ns, "clean")]; !ok || len(of.Findings) != 0 {
		t.Errorf("clean ConfigMap: %+v (present %v), want evaluated and clean", of, ok)
	}
	obj, ok, _ := w.factory.Core().V1().ConfigMaps().Informer().GetStore().GetByKey(ns + "/app-config")
	if cm, _ := obj.(*corev1.ConfigMap); !ok || cm == nil || len(cm.Data) != 1 || cm.Data["LOG_LEVEL"] != "" {
		t.Errorf("cached ConfigMap keeps %+v, want only its credential key", obj)
	}

	// A ConfigMap's change is evaluated alone, not as a full evaluation.
	w.pending()
	must(admin.CoreV1().ConfigMaps(ns).Update(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "clean", Namespace: ns},
		Data: map[string]string{"API_TOKEN": "tok-8c1f3e9a7b2d4c6e"}}, metav1.UpdateOptions{}))
	var dirty map[string]bool
	var full bool
	if err := testenv.WaitFor(ctx, func(context.Context) (bool, error) {
		d, f, _, _ := w.pending()
		for k := range d {
			if dirty == nil {
				dirty = map[string]bool{}
			}
			dirty[k] = true
		}
		full = full || f
		return dirty[objectKey("ConfigMap", ns, "clean")], nil
	}); err != nil {
		t.Fatalf("the ConfigMap's update did not arrive: %v", err)
	}
	if full {
		t.Error("a ConfigMap's change asked for a full evaluation")
	}
	ev, err = w.evaluate(ctx, false, dirty, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !has(ev, "ConfigMap", "clean", "hardening/configmap-secret") {
		t.Errorf("updated ConfigMap: no finding; %+v", ev.byObject)
	}
}
