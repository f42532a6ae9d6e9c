package bench

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	rt "github.com/palisade-sec/palisade/internal/runtime"
	"github.com/palisade-sec/palisade/internal/runtime/policyintent"
)

// intentCluster is 1,000 pods (250 Deployments of 4 replicas) in 50
// namespaces, 300 NetworkPolicies (a default deny per namespace, then
// ingress between tiers) and 250 Services, each pod as the node sensor's
// informer keeps another node's pod (stripped to the model's fields).
func intentCluster() ([]*corev1.Pod, []*corev1.Namespace, []*networkingv1.NetworkPolicy, []*corev1.Service) {
	const namespaces, deployments, replicas, policies = 50, 250, 4, 300
	var nss []*corev1.Namespace
	for i := range namespaces {
		nss = append(nss, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ns-%02d", i), Labels: map[string]string{"tier": fmt.Sprint(i % 5)}}})
	}
	ctrl := true
	var pods []*corev1.Pod
	var svcs []*corev1.Service
	for d := range deployments {
		ns, name := fmt.Sprintf("ns-%02d", d%namespaces), fmt.Sprintf("w-%03d", d)
		lbl := map[string]string{"app": name, "role": fmt.Sprint("r", d%7), "pod-template-hash": "5d8f"}
		for r := range replicas {
			i := d*replicas + r
			ip := fmt.Sprintf("10.244.%d.%d", i/250, i%250+1)
			pods = append(pods, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-5d8f-%d", name, r), Namespace: ns, UID: types.UID(fmt.Sprintf("uid-%d", i)), Labels: lbl,
					OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: name + "-5d8f", Controller: &ctrl}}},
				Spec: corev1.PodSpec{NodeName: fmt.Sprintf("node-%d", i%10), Containers: []corev1.Container{{Name: "c",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(8000 + d%50), Protocol: corev1.ProtocolTCP}}}}},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, HostIP: fmt.Sprintf("192.168.1.%d", i%10+1)},
			})
		}
		svcs = append(svcs, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name}, ClusterIP: fmt.Sprintf("10.96.%d.%d", d/250, d%250+1), ClusterIPs: []string{fmt.Sprintf("10.96.%d.%d", d/250, d%250+1)},
			Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}}}})
	}
	var pols []*networkingv1.NetworkPolicy
	tcp := corev1.ProtocolTCP
	for i := range policies {
		ns := fmt.Sprintf("ns-%02d", i%namespaces)
		p := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%03d", i), Namespace: ns}}
		if i < namespaces {
			p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
			p.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}}}
		} else {
			named := intstr.FromString("http")
			p.Spec.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"role": fmt.Sprint("r", i%7)}}
			p.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": fmt.Sprint(i % 5)}},
				PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"role": fmt.Sprint("r", (i+1)%7)}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &named}}}}
		}
		pols = append(pols, p)
	}
	return pods, nss, pols, svcs
}

// intentAdminTiers are 3 AdminNetworkPolicies (Allow, Pass, Deny) and
// the baseline over intentCluster's namespaces, as the sensor's dynamic
// informer keeps them (stripped to kind, name and spec).
func intentAdminTiers() []*unstructured.Unstructured {
	sel := func(k, v string) map[string]any { return map[string]any{"matchLabels": map[string]any{k: v}} }
	anp := func(kind, name string, spec map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": kind,
			"metadata": map[string]any{"name": name}, "spec": spec}}
	}
	return []*unstructured.Unstructured{
		anp("AdminNetworkPolicy", "allow-monitoring", map[string]any{"priority": int64(1), "subject": map[string]any{"namespaces": map[string]any{}},
			"ingress": []any{map[string]any{"action": "Allow", "from": []any{map[string]any{"namespaces": sel("kubernetes.io/metadata.name", "monitoring")}},
				"ports": []any{map[string]any{"portNumber": map[string]any{"port": int64(9090)}}}}}}),
		anp("AdminNetworkPolicy", "pass-tier-0", map[string]any{"priority": int64(5), "subject": map[string]any{"namespaces": sel("tier", "0")},
			"egress": []any{map[string]any{"action": "Pass", "to": []any{map[string]any{"namespaces": sel("tier", "0")}}}}}),
		anp("AdminNetworkPolicy", "deny-metadata", map[string]any{"priority": int64(10), "subject": map[string]any{"namespaces": map[string]any{}},
			"egress": []any{map[string]any{"action": "Deny", "to": []any{map[string]any{"networks": []any{"169.254.169.254/32"}}}},
				map[string]any{"action": "Deny", "to": []any{map[string]any{"namespaces": sel("tier", "4")}},
					"ports": []any{map[string]any{"portRange": map[string]any{"start": int64(8000), "end": int64(8024)}}}}}}),
		anp("BaselineAdminNetworkPolicy", "default", map[string]any{"subject": map[string]any{"namespaces": map[string]any{}},
			"ingress": []any{map[string]any{"action": "Deny", "from": []any{map[string]any{"namespaces": map[string]any{}}}}}}),
	}
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkRuntimeIntent measures what policy intent costs the node
// sensor at 1,000 pods: the heap of the informers' stripped objects and
// of one snapshot (the model and address maps), the time to rebuild a
// snapshot, and the time to judge a connection, uncached (every
// iteration a new snapshot's first answer is not counted: the cache is
// emptied by Set) and cached; the sub-benchmark admin adds the admin
// tiers (intentAdminTiers).
func BenchmarkRuntimeIntent(b *testing.B) {
	b.Run("networkpolicies", func(b *testing.B) { benchmarkRuntimeIntent(b, nil) })
	b.Run("admin", func(b *testing.B) { benchmarkRuntimeIntent(b, intentAdminTiers) })
}

func benchmarkRuntimeIntent(b *testing.B, admin func() []*unstructured.Unstructured) {
	before := heapAlloc()
	pods, nss, pols, svcs := intentCluster()
	var tiers []*unstructured.Unstructured
	if admin != nil {
		tiers = admin()
	}
	objects := heapAlloc() - before
	start := time.Now()
	snap := policyintent.Build(pods, nss, pols, svcs, tiers)
	build := time.Since(start)
	withSnap := heapAlloc() - before - objects
	j := &policyintent.Judge{}
	j.Set(snap)
	src := &rt.Pod{Namespace: "ns-00", Name: "w-000-5d8f-0"}
	flows := make([]rt.Flow, 0, 1000)
	for i := range 1000 {
		flows = append(flows, rt.Flow{Pod: src, Outbound: true, Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 244, byte(i / 250), byte(i%250 + 1)}), uint16(8000+i%50)), Port: uint16(8000 + i%50)})
	}
	start = time.Now()
	for _, f := range flows {
		j.Judge(f)
	}
	uncached := time.Since(start) / time.Duration(len(flows))
	b.ResetTimer()
	for i := range b.N {
		j.Judge(flows[i%len(flows)])
	}
	b.StopTimer()
	st := j.Stats()
	if st.Reason != "" || (admin != nil && snap.AdminPolicies != 3) {
		b.Fatalf("snapshot not judged from: %q, %d admin policies", st.Reason, snap.AdminPolicies)
	}
	b.ReportMetric(float64(objects)/(1<<20), "objects-MiB")
	b.ReportMetric(float64(withSnap)/(1<<20), "snapshot-MiB")
	b.ReportMetric(float64(build.Milliseconds()), "build-ms")
	b.ReportMetric(float64(uncached.Microseconds()), "uncached-µs/judge")
	b.ReportMetric(float64(st.Denied)/float64(st.Judged), "denied-ratio")
	runtime.KeepAlive(snap)
	runtime.KeepAlive(pods)
}
