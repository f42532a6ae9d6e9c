package policyintent

import (
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	rt "github.com/palisade-sec/palisade/internal/runtime"
)

// TestNamespaceNotYetDelivered judges while a Namespace has not reached
// the namespace informer although its pods have (start-up, or a
// namespace just created). The cluster, worked out by hand: front/web
// (team=front) may egress only to pods of namespaces labelled team=back
// on TCP 5432 (NetworkPolicy front/web-egress); back/db (namespace
// back, team=back) listens on 5432. So web → db:5432 is allowed and web →
// db:5433 denied. Without back's Namespace object the model could only
// assume back carries no team label, and would deny web → db:5432: the
// judge must instead leave every connection undecided (counted) and say
// it waits for back's Namespace object, and judge both correctly once it
// has arrived.
func TestNamespaceNotYetDelivered(t *testing.T) {
	pods := []*corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "front", Name: "web", Labels: map[string]string{"app": "web"}},
			Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.1.5", PodIPs: []corev1.PodIP{{IP: "10.244.1.5"}}, HostIP: "192.168.1.10"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "back", Name: "db", Labels: map[string]string{"app": "db"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x",
				Ports: []corev1.ContainerPort{{ContainerPort: 5432, Protocol: corev1.ProtocolTCP}}}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.2.7", PodIPs: []corev1.PodIP{{IP: "10.244.2.7"}}, HostIP: "192.168.1.11"}},
	}
	ns := func(name, team string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name,
			Labels: map[string]string{"kubernetes.io/metadata.name": name, "team": team}}}
	}
	tcp, port := corev1.ProtocolTCP, intstr.FromInt32(5432)
	policies := []*networkingv1.NetworkPolicy{{ObjectMeta: metav1.ObjectMeta{Namespace: "front", Name: "web-egress"}, Spec: networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
		Egress: []networkingv1.NetworkPolicyEgressRule{{
			To:    []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "back"}}}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port}}}}}}}
	web := &rt.Pod{Namespace: "front", Name: "web"}
	flow := func(port uint16) rt.Flow {
		return rt.Flow{Pod: web, Outbound: true, Remote: netip.AddrPortFrom(netip.MustParseAddr("10.244.2.7"), port), Port: port}
	}

	var j Judge
	j.Set(Build(pods, []*corev1.Namespace{ns("front", "front")}, policies, nil, nil))
	for _, p := range []uint16{5432, 5433} {
		if v := j.Judge(flow(p)); v.Decided || v.Denied {
			t.Errorf("back's Namespace not delivered: web → db:%d %+v, want undecided", p, v)
		}
	}
	st := j.Stats()
	if st.Undecided != 2 || st.Denied != 0 || !strings.Contains(st.Reason, "policy model incomplete") ||
		!strings.Contains(st.Reason, "waiting for the Namespace objects of back,") || !strings.Contains(st.Reason, "front/web-egress") {
		t.Errorf("stats %+v: want 2 undecided, none denied, the reason naming namespace back and the policy", st)
	}

	j.Set(Build(pods, []*corev1.Namespace{ns("front", "front"), ns("back", "back")}, policies, nil, nil))
	if v := j.Judge(flow(5432)); !v.Decided || v.Denied {
		t.Errorf("back delivered: web → db:5432 %+v, want allowed", v)
	}
	if v := j.Judge(flow(5433)); !v.Decided || !v.Denied {
		t.Errorf("back delivered: web → db:5433 %+v, want denied", v)
	}
	if st := j.Stats(); st.Reason != "" || st.Denied != 1 {
		t.Errorf("back delivered: stats %+v, want no reason, 1 denied", st)
	}
}
