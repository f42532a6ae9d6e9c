package netpol

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/testenv"
)

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
