package bench

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/netpol"
	"github.com/palisade-sec/palisade/internal/workload"
)

// netpolCluster builds 1,000 workloads in 50 namespaces with 300 policies:
// per namespace a default deny, and per chosen workload an ingress policy
// from a neighbour tier, cross-namespace peers, named ports and ipBlocks.
func netpolCluster() *workload.Inventory {
	inv := workload.NewInventory()
	const namespaces, workloads, policies = 50, 1000, 300
	for i := range namespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ns-%02d", i), Labels: map[string]string{"tier": fmt.Sprint(i % 5)}}}
		inv.Add(ns, finding.ObjectRef{Kind: "Namespace", Name: ns.Name}, nil)
	}
	for i := range workloads {
		ns := fmt.Sprintf("ns-%02d", i%namespaces)
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("w-%04d", i), Namespace: ns}}
		d.Spec.Template.Labels = map[string]string{"app": d.Name, "role": fmt.Sprint("r", i%7)}
		d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "c", Image: "x", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(8000 + i%50), Protocol: corev1.ProtocolTCP}}}}
		inv.Add(d, finding.ObjectRef{Kind: "Deployment", Namespace: ns, Name: d.Name}, nil)
	}
	tcp := corev1.ProtocolTCP
	for i := range policies {
		ns := fmt.Sprintf("ns-%02d", i%namespaces)
		p := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%03d", i), Namespace: ns}}
		switch {
		case i < namespaces:
			p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
			p.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}}}
		default:
			named, port := intstr.FromString("http"), intstr.FromInt32(int32(9000+i))
			end := int32(9100 + i)
			p.Spec.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"role": fmt.Sprint("r", i%7)}}
			p.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{
				{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": fmt.Sprint(i % 5)}}, PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": fmt.Sprint("r", (i+1)%7)}}}},
					Ports: []networkingv1.NetworkPolicyPort{{Port: &named}, {Protocol: &tcp, Port: &port, EndPort: &end}}},
				{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: fmt.Sprintf("10.%d.0.0/16", i%256), Except: []string{fmt.Sprintf("10.%d.1.0/24", i%256)}}}}},
			}
		}
		inv.Add(p, finding.ObjectRef{Kind: "NetworkPolicy", Namespace: ns, Name: p.Name}, nil)
	}
	return inv
}

// BenchmarkNetpolAnalyze1000 is the full connectivity analysis (model
// build, selector resolution, every pair and every external range) of
// 1,000 workloads in 50 namespaces with 300 policies.
func BenchmarkNetpolAnalyze1000(b *testing.B) {
	inv := netpolCluster()
	b.ReportAllocs()
	var conns int
	var peak uint64
	for b.Loop() {
		m := netpol.FromInventory(inv).Model
		c, err := netpol.Analyze(context.Background(), m)
		if err != nil {
			b.Fatal(err)
		}
		conns = len(c.Connections)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	b.ReportMetric(float64(conns), "connections")
	b.ReportMetric(float64(peak)/(1<<20), "heap-MiB")
}
