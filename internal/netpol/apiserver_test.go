package netpol

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/cluster"
	"github.com/palisade-sec/palisade/internal/finding"
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

// TestPodListFromAPIServer reads what a real kube-apiserver returns for
// GET .../pods, .../networkpolicies and /api/v1/namespaces (typed lists
// whose items have no apiVersion or kind) for a ReplicaSet's and a
// StatefulSet's pods and a standalone pod: the pods are analysed as their
// owners. With PALISADE_NETPOL_DUMP=DIR the responses are also written
// there (how testdata/scenarios/18-apiserver-typed-lists was made).
func TestPodListFromAPIServer(t *testing.T) {
	env := testenv.Shared(t)
	client := env.AdminClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := env.CreateNamespace(ctx, t, "netpol-pods-", map[string]string{"team": "shop"}).Name

	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-5d8c9f", Namespace: ns}}
	rs.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "pod-template-hash": "5d8c9f"}}
	rs.Spec.Template.Labels = rs.Spec.Selector.MatchLabels
	rs.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web", Image: "example/web:1"}}
	rsOut, err := client.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}}
	sts.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}
	sts.Spec.Template.Labels = map[string]string{"app": "db"}
	sts.Spec.Template.Spec.Containers = []corev1.Container{{Name: "pg", Image: "example/pg:17"}}
	stsOut, err := client.AppsV1().StatefulSets(ns).Create(ctx, sts, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	owner := func(kind, name string, uid string) []metav1.OwnerReference {
		return []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: name, UID: types.UID(uid), Controller: &yes, BlockOwnerDeletion: &yes}}
	}
	pods := []*corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Name: "web-5d8c9f-abcde", Labels: map[string]string{"app": "web", "pod-template-hash": "5d8c9f"}, OwnerReferences: owner("ReplicaSet", rsOut.Name, string(rsOut.UID))},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "example/web:1", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "web-5d8c9f-fghij", Labels: map[string]string{"app": "web", "pod-template-hash": "5d8c9f"}, OwnerReferences: owner("ReplicaSet", rsOut.Name, string(rsOut.UID))},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "example/web:1", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "db-0", Labels: map[string]string{"app": "db", "statefulset.kubernetes.io/pod-name": "db-0", "apps.kubernetes.io/pod-index": "0"}, OwnerReferences: owner("StatefulSet", stsOut.Name, string(stsOut.UID))},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "pg", Image: "example/pg:17", Ports: []corev1.ContainerPort{{Name: "pg", ContainerPort: 5432}}}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "db-1", Labels: map[string]string{"app": "db", "statefulset.kubernetes.io/pod-name": "db-1", "apps.kubernetes.io/pod-index": "1"}, OwnerReferences: owner("StatefulSet", stsOut.Name, string(stsOut.UID))},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "pg", Image: "example/pg:17", Ports: []corev1.ContainerPort{{Name: "pg", ContainerPort: 5432}}}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "debug", Labels: map[string]string{"run": "debug"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "debug", Image: "busybox"}}}},
	}
	for _, p := range pods {
		if _, err := client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}}
	np.Spec.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}
	np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
		From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "shop"}}, PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}},
		Ports: []networkingv1.NetworkPolicyPort{{Port: ptrIntStr("pg")}},
	}}
	if _, err := client.NetworkingV1().NetworkPolicies(ns).Create(ctx, np, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	var paths []string
	for file, path := range map[string]string{
		"pods.json":       "/api/v1/namespaces/" + ns + "/pods",
		"netpol.json":     "/apis/networking.k8s.io/v1/namespaces/" + ns + "/networkpolicies",
		"namespaces.json": "/api/v1/namespaces?fieldSelector=metadata.name%3D" + ns,
	} {
		paths = append(paths, filepath.Join(dir, file))
		body := rawGet(ctx, t, client, path)
		if !strings.Contains(string(body), `"kind":"`) || strings.Contains(string(body), `"items":[{"apiVersion"`) {
			t.Fatalf("%s: not a typed list with bare items: %.200s", path, body)
		}
		if err := os.WriteFile(paths[len(paths)-1], body, 0o600); err != nil {
			t.Fatal(err)
		}
		if out := os.Getenv("PALISADE_NETPOL_DUMP"); out != "" {
			if err := os.WriteFile(filepath.Join(out, file), []byte(strings.ReplaceAll(string(body), ns, "shop")), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	m, probs, err := Load(ctx, paths, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		if p.Level != finding.LevelNote || strings.Contains(p.Message, "not a Kubernetes object") {
			t.Errorf("problem: %s", p)
		}
	}
	c, err := Analyze(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(c.Lines(), "\n")
	want := strings.ReplaceAll(`0.0.0.0-255.255.255.255[External] => NS/debug[Pod] : All Connections
0.0.0.0-255.255.255.255[External] => NS/web-5d8c9f[ReplicaSet] : All Connections
NS/db[StatefulSet] => 0.0.0.0-255.255.255.255[External] : All Connections
NS/db[StatefulSet] => NS/debug[Pod] : All Connections
NS/db[StatefulSet] => NS/web-5d8c9f[ReplicaSet] : All Connections
NS/debug[Pod] => 0.0.0.0-255.255.255.255[External] : All Connections
NS/debug[Pod] => NS/web-5d8c9f[ReplicaSet] : All Connections
NS/web-5d8c9f[ReplicaSet] => 0.0.0.0-255.255.255.255[External] : All Connections
NS/web-5d8c9f[ReplicaSet] => NS/db[StatefulSet] : TCP 5432
NS/web-5d8c9f[ReplicaSet] => NS/debug[Pod] : All Connections`, "NS", ns)
	if got != want {
		t.Errorf("connectivity of the API server's lists:\n%s\nwant:\n%s", got, want)
	}
}

func rawGet(ctx context.Context, t *testing.T, client kubernetes.Interface, path string) []byte {
	t.Helper()
	p, query, _ := strings.Cut(path, "?")
	req := client.CoreV1().RESTClient().Get().AbsPath(p)
	if k, v, ok := strings.Cut(query, "="); ok {
		req = req.Param(k, strings.ReplaceAll(v, "%3D", "="))
	}
	body, err := req.DoRaw(ctx)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return body
}

// TestAnalyzeLiveClusterNetworkPolicies is 'netpol analyze --cluster' on a
// real API server serving ClusterNetworkPolicy (v1alpha2, the CRD of
// internal/runtimenode/testdata/crds): ReadClusterPolicies lists the
// policies and the Nodes, so a nodes peer is judged against the node's
// address; a role that may not list nodes leaves the same connection
// unknown, never allowed or denied.
func TestAnalyzeLiveClusterNetworkPolicies(t *testing.T) {
	env := testenv.Shared(t)
	client := env.AdminClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../runtimenode/testdata/crds/policy.networking.k8s.io_v1alpha2.yaml")
	if err != nil {
		t.Fatal(err)
	}
	crd := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(raw, &crd.Object); err != nil {
		t.Fatal(err)
	}
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	if _, err := dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dyn.Resource(crdGVR).Delete(context.Background(), crd.GetName(), metav1.DeleteOptions{}) })
	cnpGVR := ModelledResources["clusternetworkpolicies"].GroupVersionResource
	if err := testenv.WaitFor(ctx, func(ctx context.Context) (bool, error) {
		served, off := ServedPolicies(ctx, client.Discovery().ServerResourcesForGroupVersionWithContext)
		return off == "" && len(served) == 1, nil
	}); err != nil {
		t.Fatalf("ClusterNetworkPolicy not served: %v", err)
	}

	ns := env.CreateNamespace(ctx, t, "netpol-cnp-", nil).Name
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}}
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	d.Spec.Template.Labels = map[string]string{"app": "web"}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "c", Image: "example/web:1"}}
	if _, err := client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	node, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: ns + "-cp", Labels: map[string]string{"role": ns}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.CoreV1().Nodes().Delete(context.Background(), node.Name, metav1.DeleteOptions{}) })
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.0.2.77"}, {Type: corev1.NodeHostName, Address: node.Name}}
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cnp := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(`{apiVersion: policy.networking.k8s.io/v1alpha2, kind: ClusterNetworkPolicy, metadata: {name: `+ns+`},
  spec: {tier: Admin, priority: 7, subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: `+ns+`}}},
    egress: [{action: Deny, to: [{nodes: {matchLabels: {role: `+ns+`}}}], protocols: [{tcp: {destinationPort: {number: 6443}}}]}]}}`), &cnp.Object); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(cnpGVR).Create(ctx, cnp, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dyn.Resource(cnpGVR).Delete(context.Background(), cnp.GetName(), metav1.DeleteOptions{}) })

	analyse := func(kube kubernetes.Interface, dyn dynamic.Interface) (lines []string, probs []finding.Problem) {
		snap, err := cluster.Read(ctx, client, cluster.ReadOptions{Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		probs = ReadClusterPolicies(ctx, kube, dyn, snap.Inventory)
		b := FromInventory(snap.Inventory)
		c, err := Analyze(ctx, b.Model)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range c.Lines() {
			if strings.HasPrefix(l, ns+"/web[Deployment] => 192.0.2.77") || strings.HasPrefix(l, ns+"/web[Deployment] => 0.0.0.0-255") {
				lines = append(lines, l)
			}
		}
		return lines, append(probs, b.Problems...)
	}
	lines, probs := analyse(client, dyn)
	for _, p := range probs {
		if p.Level != finding.LevelNote {
			t.Errorf("problem: %s", p)
		}
	}
	if want := ns + "/web[Deployment] => 192.0.2.77-192.0.2.77[External] : SCTP 1-65535,TCP 1-6442,6444-65535,UDP 1-65535"; !slices.Contains(lines, want) {
		t.Errorf("with the nodes: %q, want %q", lines, want)
	}

	// A reader that may list the policies but not the nodes.
	sa := "reader"
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: ns + "-reader"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"policy.networking.k8s.io"}, Resources: []string{"clusternetworkpolicies"}, Verbs: []string{"list"}}}}
	if _, err := client.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: ns}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := env.ServiceAccountConfig(ctx, t, ns, sa)
	saDyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lines, probs = analyse(testenv.NewClient(t, cfg), saDyn)
	var msgs []string
	for _, p := range probs {
		msgs = append(msgs, string(p.Level)+": "+p.Message)
	}
	if want := ns + "/web[Deployment] => 0.0.0.0-255.255.255.255[External] : SCTP 1-65535,TCP 1-6442,6444-65535,UDP 1-65535 (unknown: TCP 6443)"; !slices.Equal(lines, []string{want}) {
		t.Errorf("without the nodes: %q, want %q", lines, want)
	}
	if all := strings.Join(msgs, "\n"); !strings.Contains(all, "note: cannot list nodes") || !strings.Contains(all, "warning: ClusterNetworkPolicy "+ns+" (Admin tier, priority 7) Egress rule #1: cannot judge: nodes peer needs node addresses") {
		t.Errorf("problems:\n%s", all)
	}
}
