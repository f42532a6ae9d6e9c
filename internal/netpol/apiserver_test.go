package netpol

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/palisade-sec/palisade/internal/cluster"
	"github.com/palisade-sec/palisade/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// dryRunApply creates the policies with server-side dry run, each in a
// fresh namespace standing for the policy's own.
func dryRunApply(ctx context.Context, t *testing.T, env *testenv.Env, client kubernetes.Interface, policies []*networkingv1.NetworkPolicy) {
	t.Helper()
	nsFor := map[string]string{}
	for _, p := range policies {
		ns, ok := nsFor[p.Namespace]
		if !ok {
			ns = env.CreateNamespace(ctx, t, "netpol-"+p.Namespace+"-", nil).Name
			nsFor[p.Namespace] = ns
		}
		cp := p.DeepCopy()
		cp.Namespace = ns
		if _, err := client.NetworkingV1().NetworkPolicies(ns).Create(ctx, cp, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Errorf("server-side dry run of generated policy %s/%s: %v", p.Namespace, p.Name, err)
		}
	}
}

// TestGeneratedPoliciesApplyCleanly applies generated policies (the shop
// example and random requirement sets) to a real kube-apiserver with
// server-side dry run: the API server's validation must accept every one.
func TestGeneratedPoliciesApplyCleanly(t *testing.T) {
	env := testenv.Shared(t)
	client := env.AdminClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	inv, _, err := LoadInventory(ctx, []string{"../../examples/netpol/shop"}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	req, err := ReadRequirements("../../examples/netpol/requirements.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Generate(inv, req)
	if err != nil {
		t.Fatal(err)
	}
	dryRunApply(ctx, t, env, client, plan.Policies)

	for seed := range 15 {
		rng := rand.New(rand.NewPCG(uint64(seed), 99))
		inv, req := randomCase(rng)
		plan, err := Generate(inv, req)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		dryRunApply(ctx, t, env, client, plan.Policies)
	}
}

// TestAnalyzeLiveCluster reads workloads and policies from a real API
// server and checks the connectivity, like 'netpol analyze --cluster'.
func TestAnalyzeLiveCluster(t *testing.T) {
	env := testenv.Shared(t)
	client := env.AdminClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := env.CreateNamespace(ctx, t, "netpol-live-", map[string]string{"team": "x"}).Name
	for _, name := range []string{"web", "db"} {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
		d.Spec.Template.Labels = map[string]string{"app": name}
		d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "c", Image: "example/" + name + ":1", Ports: []corev1.ContainerPort{{Name: "pg", ContainerPort: 5432}}}}
		if _, err := client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}}
	np.Spec.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}
	np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
		From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}},
		Ports: []networkingv1.NetworkPolicyPort{{Port: ptrIntStr("pg")}},
	}}
	if _, err := client.NetworkingV1().NetworkPolicies(ns).Create(ctx, np, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	snap, err := cluster.Read(ctx, client, cluster.ReadOptions{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	b := FromInventory(snap.Inventory)
	if len(b.Problems) > 0 {
		t.Fatalf("problems: %v", b.Problems)
	}
	c, err := Analyze(ctx, b.Model)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(c.Lines(), "\n")
	want := strings.ReplaceAll(`0.0.0.0-255.255.255.255[External] => NS/web[Deployment] : All Connections
NS/db[Deployment] => 0.0.0.0-255.255.255.255[External] : All Connections
NS/db[Deployment] => NS/web[Deployment] : All Connections
NS/web[Deployment] => 0.0.0.0-255.255.255.255[External] : All Connections
NS/web[Deployment] => NS/db[Deployment] : TCP 5432`, "NS", ns)
	if got != want {
		t.Errorf("live connectivity:\n%s\nwant:\n%s", got, want)
	}
}

func ptrIntStr(s string) *intstr.IntOrString {
	v := intstr.FromString(s)
	return &v
}
