package policyintent

import (
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/finding"
	rt "github.com/palisade-sec/palisade/internal/runtime"
)

// The cluster of these tests, worked out by hand:
//   - shop/web (Deployment web → ReplicaSet web-7d9f, app=web, 2 pods on
//     node 192.168.1.10 and .11): NetworkPolicy web-egress allows egress
//     only to app=db pods on TCP 5432 and DNS (UDP 53), nothing else;
//   - shop/api (a bare Pod, app=api): no policy;
//   - shop/db (StatefulSet db, app=db, container port "pg" 5432): policy
//     db-ingress allows ingress only from app=api on port "pg";
//   - Service shop/db (10.96.0.20:5432 → targetPort "pg");
//   - shop/hostnet (host network).
//
// So web → db is allowed by web's egress but denied by db's ingress; api
// → db is allowed; web → anything external is denied by egress; api →
// external is allowed; an external client → db is denied by db's ingress.
func cluster(extra ...*networkingv1.NetworkPolicy) *Snapshot { return clusterWith(nil, extra...) }

// clusterWith is the cluster with admin policies (AdminNetworkPolicies,
// a BaselineAdminNetworkPolicy) as YAML, decoded as the sensor's dynamic
// informer keeps them.
func clusterWith(admin []string, extra ...*networkingv1.NetworkPolicy) *Snapshot {
	var objs []*unstructured.Unstructured
	for _, y := range admin {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(y), &u.Object); err != nil {
			panic(err)
		}
		objs = append(objs, u)
	}
	return clusterWithObjects(objs, extra...)
}

// clusterWithObjects is the cluster with admin objects as given.
func clusterWithObjects(admin []*unstructured.Unstructured, extra ...*networkingv1.NetworkPolicy) *Snapshot {
	return clusterWithNodes(admin, nil, extra...)
}

// clusterWithNodes is the cluster with admin objects and Node objects.
func clusterWithNodes(admin []*unstructured.Unstructured, nodes []*corev1.Node, extra ...*networkingv1.NetworkPolicy) *Snapshot {
	ctrl := true
	pod := func(name, ip, host string, lbl map[string]string, owner *metav1.OwnerReference, ports ...corev1.ContainerPort) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, Labels: lbl},
			Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x", Ports: ports}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, HostIP: host}}
		if ip != "" {
			p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
		}
		if owner != nil {
			p.OwnerReferences = []metav1.OwnerReference{*owner}
		}
		return p
	}
	rs := &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-7d9f", Controller: &ctrl}
	sts := &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db", Controller: &ctrl}
	hostnet := pod("hostnet", "", "192.168.1.10", map[string]string{"app": "hostnet"}, nil)
	hostnet.Spec.HostNetwork = true
	pods := []*corev1.Pod{
		pod("web-7d9f-a", "10.244.1.5", "192.168.1.10", map[string]string{"app": "web", "pod-template-hash": "7d9f"}, rs),
		pod("web-7d9f-b", "10.244.2.5", "192.168.1.11", map[string]string{"app": "web", "pod-template-hash": "7d9f"}, rs),
		pod("api", "10.244.1.6", "192.168.1.10", map[string]string{"app": "api"}, nil),
		pod("db-0", "10.244.2.7", "192.168.1.11", map[string]string{"app": "db"}, sts, corev1.ContainerPort{Name: "pg", ContainerPort: 5432, Protocol: corev1.ProtocolTCP}),
		hostnet,
	}
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	p5432, p53, pg := intstr.FromInt32(5432), intstr.FromInt32(53), intstr.FromString("pg")
	policies := []*networkingv1.NetworkPolicy{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-egress"}, Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{
				{To: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}}}, Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &p5432}}},
				{Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &p53}}},
			}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db-ingress"}, Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Ingress: []networkingv1.NetworkPolicyIngressRule{
				{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}}}, Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &pg}}},
			}}},
	}
	policies = append(policies, extra...)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db"}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "db"}, ClusterIP: "10.96.0.20", ClusterIPs: []string{"10.96.0.20"},
		Ports: []corev1.ServicePort{{Port: 5432, Protocol: tcp, TargetPort: pg}}}}
	ns := []*corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}}
	return BuildWithNodes(pods, ns, policies, []*corev1.Service{svc}, admin, nodes)
}

var (
	web     = &rt.Pod{Namespace: "shop", Name: "web-7d9f-a", Owner: "Deployment/web"}
	api     = &rt.Pod{Namespace: "shop", Name: "api", Owner: "Pod/api"}
	db      = &rt.Pod{Namespace: "shop", Name: "db-0", Owner: "StatefulSet/db"}
	hostnet = &rt.Pod{Namespace: "shop", Name: "hostnet"}
	stray   = &rt.Pod{Namespace: "shop", Name: "not-yet-known"}
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestJudge(t *testing.T) {
	for _, tc := range []struct {
		name                string
		f                   rt.Flow
		decided, denied     bool
		dst, why            string
		undecided, atSource uint64
	}{
		{"web to db pod: db's ingress denies", rt.Flow{Pod: web, Outbound: true, Remote: ap("10.244.2.7:5432"), Port: 5432}, true, true, "shop/db[StatefulSet]", "denied: NetworkPolicy shop/db-ingress selects shop/db[StatefulSet] for Ingress", 0, 0},
		{"api to db pod: allowed", rt.Flow{Pod: api, Outbound: true, Remote: ap("10.244.2.7:5432"), Port: 5432}, true, false, "shop/db[StatefulSet]", "", 0, 0},
		{"web to the internet: egress denies", rt.Flow{Pod: web, Outbound: true, Remote: ap("203.0.113.9:443"), Port: 443}, true, true, "203.0.113.9[External]", "TCP 443 is not allowed: NetworkPolicy shop/web-egress Egress rule #2 allows UDP 53", 0, 0},
		{"api to the internet: no policy", rt.Flow{Pod: api, Outbound: true, Remote: ap("203.0.113.9:443"), Port: 443}, true, false, "203.0.113.9[External]", "", 0, 0},
		{"web to the db Service: every backend denies", rt.Flow{Pod: web, Outbound: true, Remote: ap("10.96.0.20:5432"), Port: 5432}, true, true, "Service shop/db", "shop/db[StatefulSet] port 5432", 0, 0},
		{"api to the db Service: allowed", rt.Flow{Pod: api, Outbound: true, Remote: ap("10.96.0.20:5432"), Port: 5432}, true, false, "Service shop/db", "", 0, 0},
		{"web to an unknown address among pods: undecided", rt.Flow{Pod: web, Outbound: true, Remote: ap("10.244.1.99:80"), Port: 80}, false, false, "", "", 1, 0},
		{"web to another node: undecided", rt.Flow{Pod: web, Outbound: true, Remote: ap("192.168.1.11:22"), Port: 22}, false, false, "", "", 1, 0},
		{"web to its own node: allowed", rt.Flow{Pod: web, Outbound: true, Remote: ap("192.168.1.10:22"), Port: 22}, true, false, "", "", 0, 0},
		{"external client to db: ingress denies", rt.Flow{Pod: db, Remote: ap("198.51.100.4:40000"), Port: 5432}, true, true, "shop/db[StatefulSet]", "denied: NetworkPolicy shop/db-ingress", 0, 0},
		{"pod client to db: judged at its source", rt.Flow{Pod: db, Remote: ap("10.244.1.5:40000"), Port: 5432}, false, false, "", "", 0, 1},
		{"kubelet probe from db's node: allowed", rt.Flow{Pod: db, Remote: ap("192.168.1.11:40000"), Port: 5432}, true, false, "", "", 0, 0},
		{"loopback: no policy applies", rt.Flow{Pod: web, Outbound: true, Remote: ap("127.0.0.1:8080"), Port: 8080}, true, false, "", "", 0, 0},
		{"pod the informer has not reported: undecided", rt.Flow{Pod: stray, Outbound: true, Remote: ap("203.0.113.9:443"), Port: 443}, false, false, "", "", 1, 0},
		{"host-network pod: undecided", rt.Flow{Pod: hostnet, Outbound: true, Remote: ap("203.0.113.9:443"), Port: 443}, false, false, "", "", 1, 0},
		// UDP (a reply the pod received, Outbound, or a datagram delivered
		// to it as a new flow): the protocol is the policies' too.
		{"web UDP to the internet on 53: egress allows DNS", rt.Flow{Pod: web, Outbound: true, Remote: ap("203.0.113.9:53"), Port: 53, UDP: true}, true, false, "203.0.113.9[External]", "", 0, 0},
		{"web TCP to the internet on 53: egress allows UDP only", rt.Flow{Pod: web, Outbound: true, Remote: ap("203.0.113.9:53"), Port: 53}, true, true, "203.0.113.9[External]", "TCP 53 is not allowed", 0, 0},
		{"web UDP to the internet on 123: egress denies", rt.Flow{Pod: web, Outbound: true, Remote: ap("203.0.113.9:123"), Port: 123, UDP: true}, true, true, "203.0.113.9[External]", "UDP 123 is not allowed: NetworkPolicy shop/web-egress", 0, 0},
		{"UDP from a web pod to db: judged where delivered, db's ingress denies", rt.Flow{Pod: db, Remote: ap("10.244.1.5:40000"), Port: 5432, UDP: true}, true, true, "shop/db[StatefulSet]", "UDP 5432 is not allowed", 0, 0},
		{"UDP from api to web: no policy selects either for it", rt.Flow{Pod: web, Remote: ap("10.244.1.6:40000"), Port: 9000, UDP: true}, true, false, "shop/web-7d9f[ReplicaSet]", "", 0, 0},
		{"UDP from the db Service's address: replies only", rt.Flow{Pod: api, Remote: ap("10.96.0.20:5432"), Port: 40000, UDP: true}, true, true, "shop/api[Pod]", "sends replies only", 0, 0},
		{"web UDP to the db Service: no UDP port, undecided", rt.Flow{Pod: web, Outbound: true, Remote: ap("10.96.0.20:5432"), Port: 5432, UDP: true}, false, false, "", "", 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &Judge{}
			j.Set(cluster())
			v := j.Judge(tc.f)
			if v.Decided != tc.decided || v.Denied != tc.denied {
				t.Fatalf("verdict %+v, want decided %v denied %v", v, tc.decided, tc.denied)
			}
			if tc.dst != "" && v.Dst != tc.dst {
				t.Errorf("dst %q, want %q", v.Dst, tc.dst)
			}
			if !strings.Contains(v.Why, tc.why) {
				t.Errorf("why %q, want it to contain %q", v.Why, tc.why)
			}
			st := j.Stats()
			if st.Undecided != tc.undecided || st.AtSource != tc.atSource || st.Reason != "" {
				t.Errorf("stats %+v, want undecided %d atSource %d", st, tc.undecided, tc.atSource)
			}
		})
	}
}

func TestJudgeCacheAndSnapshots(t *testing.T) {
	j := &Judge{}
	f := rt.Flow{Pod: web, Outbound: true, Remote: ap("203.0.113.9:443"), Port: 443}
	if v := j.Judge(f); v.Decided {
		t.Fatalf("before any snapshot: %+v, want undecided", v)
	}
	if st := j.Stats(); st.Undecided != 1 || st.Reason != "policies not synced yet" {
		t.Fatalf("stats before sync %+v", st)
	}
	j.Set(cluster())
	// The other pod of the same workload shares the cached answer.
	other := f
	other.Pod = &rt.Pod{Namespace: "shop", Name: "web-7d9f-b"}
	for _, g := range []rt.Flow{f, f, other} {
		if v := j.Judge(g); !v.Denied {
			t.Fatalf("%+v: %+v, want denied", g, v)
		}
	}
	if st := j.Stats(); st.Judged != 3 || st.CacheHits != 2 || st.Denied != 3 {
		t.Fatalf("stats %+v, want 3 judged, 2 from the cache, 3 denied", st)
	}
	// A new snapshot with a policy allowing the internet: the cached
	// denial must not survive it.
	allow := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-internet"}, Spec: networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
		Egress:      []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}}}}}}}
	j.Set(cluster(allow))
	if v := j.Judge(f); !v.Decided || v.Denied {
		t.Fatalf("after the allowing policy: %+v, want allowed", v)
	}
	// A policy the model cannot compile makes the model untrustworthy:
	// every connection is undecided, and the reason is shown.
	bad := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "bad"}, Spec: networkingv1.NetworkPolicySpec{
		PolicyTypes: []networkingv1.PolicyType{"Sideways"}}}
	j.Set(cluster(bad))
	if v := j.Judge(f); v.Decided {
		t.Fatalf("with a policy not understood: %+v, want undecided", v)
	}
	if st := j.Stats(); !strings.Contains(st.Reason, "policy model incomplete") || !strings.Contains(st.Reason, "shop/bad") {
		t.Fatalf("reason %q", st.Reason)
	}
	j.Set(cluster())
	j.Disable("AdminNetworkPolicies are served but not watched")
	if v := j.Judge(f); v.Decided || j.Stats().Reason != "AdminNetworkPolicies are served but not watched" {
		t.Fatalf("disabled: %+v %+v", v, j.Stats())
	}
}

// TestDetectorRecordedConnections feeds recorded established and accept
// events through the runtime pipeline's detector with the real judge.
func TestDetectorRecordedConnections(t *testing.T) {
	j := &Judge{}
	j.Set(cluster())
	d := &rt.Detector{Intent: j}
	in := func(p *rt.Pod) rt.Attribution {
		return rt.Attribution{Runtime: "containerd", ContainerID: strings.Repeat("ab", 32), Pod: p}
	}
	for _, tc := range []struct {
		name string
		e    rt.Event
		want string
	}{
		{"established to a denied destination", rt.Event{Kind: rt.KindEstablished, Src: ap("10.244.1.5:40000"), Dst: ap("203.0.113.9:443"), Attribution: in(web)}, rt.RuleIntent},
		{"connect attempt to the same destination", rt.Event{Kind: rt.KindConnect, Dst: ap("203.0.113.9:443"), Attribution: in(web)}, ""},
		{"datagram to the same destination", rt.Event{Kind: rt.KindUDPSend, Dst: ap("203.0.113.9:443"), Attribution: in(web)}, ""},
		{"established and allowed", rt.Event{Kind: rt.KindEstablished, Src: ap("10.244.1.6:40000"), Dst: ap("10.96.0.20:5432"), Attribution: in(api)}, ""},
		{"accepted from outside, denied", rt.Event{Kind: rt.KindAccept, Src: ap("10.244.2.7:5432"), Dst: ap("198.51.100.4:40000"), Attribution: in(db)}, rt.RuleIntent},
		{"host process", rt.Event{Kind: rt.KindEstablished, Dst: ap("203.0.113.9:443"), Attribution: rt.Attribution{Host: true}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := d.Evaluate(&tc.e)
			var got []string
			for _, f := range fs {
				got = append(got, f.RuleID)
			}
			if strings.Join(got, ",") != tc.want {
				t.Fatalf("findings %v, want %q", got, tc.want)
			}
			if tc.want != "" && (fs[0].Object.String() == "" || !strings.Contains(fs[0].Message, "policy enforcement is missing or broken") || fs[0].Severity != finding.SeverityHigh) {
				t.Errorf("finding %+v", fs[0])
			}
		})
	}
}

// The admin tiers of TestJudgeAdminTiers, on the cluster above:
//   - ANP allow-web-partner (priority 1): web may reach 198.51.100.0/24 on
//     TCP 443, which web's NetworkPolicy denies;
//   - ANP pass-dns (priority 5): web's UDP 53 anywhere is passed to the
//     NetworkPolicies (which allow it);
//   - ANP deny-shop-udp (priority 20): shop's pods may send no UDP;
//   - ANP deny-shop-testnet (priority 30): shop's pods may not reach
//     203.0.113.0/24, which api (no NetworkPolicy) otherwise may;
//   - BANP default: shop's pods may not reach 192.0.2.0/24 (api has no
//     egress NetworkPolicy, so the baseline decides for it; web's
//     NetworkPolicy isolates it, so the baseline does not).
var adminTiers = []string{`
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: allow-web-partner}
spec:
  priority: 1
  subject: {pods: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}, podSelector: {matchLabels: {app: web}}}}
  egress:
  - {name: partner, action: Allow, to: [{networks: [198.51.100.0/24]}], ports: [{portNumber: {protocol: TCP, port: 443}}]}
`, `
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: pass-dns}
spec:
  priority: 5
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}
  egress:
  - {action: Pass, to: [{networks: [0.0.0.0/0]}], ports: [{portNumber: {protocol: UDP, port: 53}}]}
`, `
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: deny-shop-udp}
spec:
  priority: 20
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}
  egress:
  - {action: Deny, to: [{networks: [0.0.0.0/0]}], ports: [{portRange: {protocol: UDP, start: 1, end: 65535}}]}
`, `
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: deny-shop-testnet}
spec:
  priority: 30
  subject: {namespaces: {}}
  egress:
  - {action: Deny, to: [{networks: [203.0.113.0/24]}]}
`, `
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  egress:
  - {action: Deny, to: [{networks: [192.0.2.0/24]}]}
`}

// TestJudgeAdminTiers: with the admin tiers, connections are judged as
// `palisade netpol analyze` judges them: an ANP Deny denies what no
// NetworkPolicy restricts, an ANP Allow allows what a NetworkPolicy
// denies, Pass hands over to the NetworkPolicies, and the baseline
// decides only where no NetworkPolicy isolates the pod. Each case's
// verdict differs from the NetworkPolicies' alone (the last column).
func TestJudgeAdminTiers(t *testing.T) {
	for _, tc := range []struct {
		name          string
		f             rt.Flow
		denied        bool
		why           string
		deniedWithout bool
	}{
		{"ANP Deny: api to the test network", rt.Flow{Pod: api, Outbound: true, Remote: ap("203.0.113.9:443"), Port: 443}, true, "AdminNetworkPolicy deny-shop-testnet (priority 30) Egress rule #1: Deny", false},
		{"ANP Allow over a NetworkPolicy's denial: web to the partner", rt.Flow{Pod: web, Outbound: true, Remote: ap("198.51.100.4:443"), Port: 443}, false, "", true},
		{"ANP Allow is for its port only", rt.Flow{Pod: web, Outbound: true, Remote: ap("198.51.100.4:80"), Port: 80}, true, "web-egress", true},
		{"Pass, then the NetworkPolicy allows web's DNS", rt.Flow{Pod: web, Outbound: true, Remote: ap("198.51.100.53:53"), Port: 53, UDP: true}, false, "", false},
		{"ANP Deny after no Pass: api's UDP", rt.Flow{Pod: api, Outbound: true, Remote: ap("198.51.100.53:53"), Port: 53, UDP: true}, true, "AdminNetworkPolicy deny-shop-udp", false},
		{"BANP Deny where no NetworkPolicy isolates: api", rt.Flow{Pod: api, Outbound: true, Remote: ap("192.0.2.1:80"), Port: 80}, true, "BaselineAdminNetworkPolicy default Egress rule #1: Deny", false},
		{"BANP Deny, but web's NetworkPolicy isolates it and allows DNS", rt.Flow{Pod: web, Outbound: true, Remote: ap("192.0.2.1:53"), Port: 53, UDP: true}, false, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, with := range []bool{true, false} {
				var snap *Snapshot
				want := tc.denied
				if with {
					snap = clusterWith(adminTiers)
				} else {
					snap, want = cluster(), tc.deniedWithout
				}
				j := &Judge{}
				j.Set(snap)
				v := j.Judge(tc.f)
				if !v.Decided || v.Denied != want {
					t.Fatalf("admin tiers %v: verdict %+v, want denied %v (stats %+v)", with, v, want, j.Stats())
				}
				if with && !strings.Contains(v.Why, tc.why) {
					t.Errorf("why %q, want it to contain %q", v.Why, tc.why)
				}
			}
		})
	}
	// Cases where the tiers change nothing are not worth a row; the
	// counts say what the snapshot holds.
	if s := clusterWith(adminTiers); s.AdminPolicies != 4 || !s.Baseline || s.incomplete != "" {
		t.Errorf("snapshot: %d admin policies, baseline %v, incomplete %q", s.AdminPolicies, s.Baseline, s.incomplete)
	}
}

// TestAdminTierNotUnderstood: an admin policy the model cannot read
// (another version, an unknown field, a rule outside the API's bounds) leaves nothing judged, with the reason:
// leaving it out could turn a denied connection into an allowed one.
func TestAdminTierNotUnderstood(t *testing.T) {
	for _, tc := range []struct{ name, yaml, reason string }{
		{"domain names in a Deny rule", `
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: to-names}
spec:
  priority: 3
  subject: {namespaces: {}}
  egress:
  - {action: Deny, to: [{domainNames: [example.com]}]}
`, "to-names: spec.egress[0]: to[0].domainNames: only Allow rules may name domains"},
		{"a ClusterNetworkPolicy of another version", `
apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: future}
spec: {tier: Admin, priority: 3, subject: {namespaces: {}}}
`, "is not policy.networking.k8s.io/v1alpha2"},
		{"another version", `
apiVersion: policy.networking.k8s.io/v1alpha9
kind: AdminNetworkPolicy
metadata: {name: future}
spec: {priority: 3, subject: {namespaces: {}}}
`, "is not policy.networking.k8s.io/v1alpha1"},
		{"an unknown field", `
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: newer}
spec: {priority: 3, subject: {namespaces: {}}, tier: Emergency}
`, "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &Judge{}
			j.Set(clusterWith([]string{tc.yaml}))
			if v := j.Judge(rt.Flow{Pod: api, Outbound: true, Remote: ap("203.0.113.9:443"), Port: 443}); v.Decided {
				t.Fatalf("verdict %+v, want undecided", v)
			}
			if st := j.Stats(); st.Undecided != 1 || !strings.Contains(st.Reason, tc.reason) {
				t.Errorf("stats %+v, want the reason to contain %q", st, tc.reason)
			}
		})
	}
}

// clusterTiers are adminTiers written as ClusterNetworkPolicies
// (v1alpha2): the same verdicts are expected of them.
var clusterTiers = []string{`
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: allow-web-partner}
spec:
  tier: Admin
  priority: 1
  subject: {pods: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}, podSelector: {matchLabels: {app: web}}}}
  egress:
  - {name: partner, action: Accept, to: [{networks: [198.51.100.0/24]}], protocols: [{tcp: {destinationPort: {number: 443}}}]}
`, `
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: pass-dns}
spec:
  tier: Admin
  priority: 5
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}
  egress:
  - {action: Pass, to: [{networks: [0.0.0.0/0]}], protocols: [{udp: {destinationPort: {number: 53}}}]}
`, `
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: deny-shop-udp}
spec:
  tier: Admin
  priority: 20
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}
  egress:
  - {action: Deny, to: [{networks: [0.0.0.0/0]}], protocols: [{udp: {destinationPort: {range: {start: 1, end: 65535}}}}]}
`, `
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: deny-shop-testnet}
spec:
  tier: Admin
  priority: 30
  subject: {namespaces: {}}
  egress:
  - {action: Deny, to: [{networks: [203.0.113.0/24]}]}
`, `
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: baseline}
spec:
  tier: Baseline
  priority: 0
  subject: {namespaces: {}}
  egress:
  - {action: Deny, to: [{networks: [192.0.2.0/24]}]}
`}

// TestJudgeClusterNetworkPolicies: the admin tiers of TestJudgeAdminTiers
// as ClusterNetworkPolicies give the same verdicts; a rule naming domains
// or nodes (the sensor has no Node objects) leaves undecided the
// connections to external addresses whose verdict it could change, and
// only those.
func TestJudgeClusterNetworkPolicies(t *testing.T) {
	names := `
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: allowlist}
spec:
  tier: Admin
  priority: 25
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: api}}}}
  egress:
  - {action: Accept, to: [{domainNames: ["*.example.com"]}], protocols: [{tcp: {destinationPort: {number: 443}}}]}
  - {action: Deny, to: [{nodes: {matchLabels: {role: control-plane}}}], protocols: [{tcp: {destinationPort: {number: 6443}}}]}
`
	for _, tc := range []struct {
		name            string
		f               rt.Flow
		decided, denied bool
		why             string
	}{
		{"Deny: api to the test network", rt.Flow{Pod: api, Outbound: true, Remote: ap("203.0.113.9:80"), Port: 80}, true, true, "ClusterNetworkPolicy deny-shop-testnet (Admin tier, priority 30) Egress rule #1: Deny"},
		{"Accept over a NetworkPolicy's denial: web to the partner", rt.Flow{Pod: web, Outbound: true, Remote: ap("198.51.100.4:443"), Port: 443}, true, false, ""},
		{"Accept is for its port only", rt.Flow{Pod: web, Outbound: true, Remote: ap("198.51.100.4:80"), Port: 80}, true, true, "web-egress"},
		{"Pass, then the NetworkPolicy allows web's DNS", rt.Flow{Pod: web, Outbound: true, Remote: ap("198.51.100.53:53"), Port: 53, UDP: true}, true, false, ""},
		{"Deny after no Pass: api's UDP", rt.Flow{Pod: api, Outbound: true, Remote: ap("198.51.100.53:53"), Port: 53, UDP: true}, true, true, "ClusterNetworkPolicy deny-shop-udp"},
		{"Baseline Deny where no NetworkPolicy isolates: api", rt.Flow{Pod: api, Outbound: true, Remote: ap("192.0.2.1:80"), Port: 80}, true, true, "ClusterNetworkPolicy baseline (Baseline tier, priority 0) Egress rule #1: Deny"},
		{"Baseline Deny, but web's NetworkPolicy isolates it", rt.Flow{Pod: web, Outbound: true, Remote: ap("192.0.2.1:53"), Port: 53, UDP: true}, true, false, ""},
		{"a name could be the test network's: undecided", rt.Flow{Pod: api, Outbound: true, Remote: ap("203.0.113.7:443"), Port: 443}, false, false, ""},
		{"a node could be the partner: undecided", rt.Flow{Pod: api, Outbound: true, Remote: ap("198.51.100.9:6443"), Port: 6443}, false, false, ""},
		{"names and nodes change nothing there: decided", rt.Flow{Pod: api, Outbound: true, Remote: ap("198.51.100.9:8443"), Port: 8443}, true, false, ""},
		{"pods are never names or nodes: decided", rt.Flow{Pod: api, Outbound: true, Remote: ap("10.244.2.7:5432"), Port: 5432}, true, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &Judge{}
			j.Set(clusterWith(append(append([]string{}, clusterTiers...), names)))
			v := j.Judge(tc.f)
			if v.Decided != tc.decided || v.Denied != tc.denied {
				t.Fatalf("verdict %+v, want decided %v, denied %v (stats %+v)", v, tc.decided, tc.denied, j.Stats())
			}
			if !strings.Contains(v.Why, tc.why) {
				t.Errorf("why %q, want it to contain %q", v.Why, tc.why)
			}
			if st := j.Stats(); st.Reason != "" {
				t.Errorf("stats %+v: judging is off", st)
			}
		})
	}
	if s := clusterWith(clusterTiers); s.ClusterPolicies != 5 || s.AdminPolicies != 0 || s.Baseline || s.incomplete != "" {
		t.Errorf("snapshot: %d cluster policies, %d admin, baseline %v, incomplete %q", s.ClusterPolicies, s.AdminPolicies, s.Baseline, s.incomplete)
	}
	// Both versions at once: the API does not say how they compose.
	if s := clusterWith(append(append([]string{}, clusterTiers...), adminTiers...)); !strings.Contains(s.incomplete, "does not define how the two versions compose") {
		t.Errorf("both versions: incomplete %q", s.incomplete)
	}
}

// nodesPolicy is an Admin tier ClusterNetworkPolicy with nodes peers:
// shop's pods may not reach the control plane's nodes on TCP 6443 and
// may reach the workers' kubelets (TCP 10250).
const nodesPolicy = `
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: nodes}
spec:
  tier: Admin
  priority: 25
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}
  egress:
  - {name: no-apiserver, action: Deny, to: [{nodes: {matchLabels: {role: control-plane}}}], protocols: [{tcp: {destinationPort: {number: 6443}}}]}
  - {name: kubelets, action: Accept, to: [{nodes: {matchLabels: {role: worker}}}], protocols: [{tcp: {destinationPort: {number: 10250}}}]}
`

// node is a Node object as the sensor's informer keeps it.
func node(name, role string, addrs ...corev1.NodeAddress) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"role": role, "kubernetes.io/hostname": name}},
		Status: corev1.NodeStatus{Addresses: addrs}}
}

// clusterNodes are the test cluster's nodes: cp-1 (control plane,
// 192.168.1.1, 198.51.100.9 and fd00::1, and a host name), w-1 and w-2
// (workers: web-7d9f-a's and db-0's nodes). role relabels cp-1; drop
// leaves a node out (deleted).
func clusterNodes(cpRole, drop string) []*corev1.Node {
	var out []*corev1.Node
	for _, n := range []*corev1.Node{
		node("cp-1", cpRole, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "192.168.1.1"}, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "198.51.100.9"},
			corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "fd00::1"}, corev1.NodeAddress{Type: corev1.NodeHostName, Address: "cp-1"}),
		node("w-1", "worker", corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "192.168.1.10"}),
		node("w-2", "worker", corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "192.168.1.11"}),
	} {
		if n.Name != drop {
			out = append(out, n)
		}
	}
	return out
}

// TestJudgeNodesPeers: with the Node objects, nodes peers select their
// nodes' addresses (InternalIP, ExternalIP, IPv4 and IPv6), so the
// connections they could change are decided; a connection to another
// node's address is decided where the verdict does not depend on whether
// NetworkPolicies' ipBlocks apply to node addresses (implementation-
// defined), undecided where it does; relabelling or deleting a node
// changes the verdicts; without Node objects they stay undecided.
func TestJudgeNodesPeers(t *testing.T) {
	for _, tc := range []struct {
		name            string
		nodes           []*corev1.Node
		f               rt.Flow
		decided, denied bool
		why             string
	}{
		{"Deny: api to the control plane's ExternalIP", clusterNodes("control-plane", ""), rt.Flow{Pod: api, Outbound: true, Remote: ap("198.51.100.9:6443"), Port: 6443}, true, true, `ClusterNetworkPolicy nodes (Admin tier, priority 25) Egress rule #1 "no-apiserver": Deny`},
		{"Deny: api to the control plane's InternalIP", clusterNodes("control-plane", ""), rt.Flow{Pod: api, Outbound: true, Remote: ap("192.168.1.1:6443"), Port: 6443}, true, true, `"no-apiserver": Deny`},
		{"Deny: api to the control plane's IPv6 address", clusterNodes("control-plane", ""), rt.Flow{Pod: api, Outbound: true, Remote: ap("[fd00::1]:6443"), Port: 6443}, true, true, `"no-apiserver": Deny`},
		{"Deny over web's NetworkPolicy", clusterNodes("control-plane", ""), rt.Flow{Pod: web, Outbound: true, Remote: ap("192.168.1.1:6443"), Port: 6443}, true, true, `"no-apiserver": Deny`},
		{"the Deny is for its port only", clusterNodes("control-plane", ""), rt.Flow{Pod: api, Outbound: true, Remote: ap("198.51.100.9:443"), Port: 443}, true, false, ""},
		{"not a node's address: decided", clusterNodes("control-plane", ""), rt.Flow{Pod: api, Outbound: true, Remote: ap("198.51.100.10:6443"), Port: 6443}, true, false, ""},
		{"Accept to another worker over web's NetworkPolicy", clusterNodes("control-plane", ""), rt.Flow{Pod: web, Outbound: true, Remote: ap("192.168.1.11:10250"), Port: 10250}, true, false, ""},
		{"web's NetworkPolicy and a node's address: ipBlocks may or may not apply", clusterNodes("control-plane", ""), rt.Flow{Pod: web, Outbound: true, Remote: ap("192.168.1.11:8080"), Port: 8080}, false, false, ""},
		{"web's rule for every destination covers nodes too", clusterNodes("control-plane", ""), rt.Flow{Pod: web, Outbound: true, Remote: ap("192.168.1.11:53"), Port: 53, UDP: true}, true, false, ""},
		{"api is not isolated: another node's address is allowed", clusterNodes("control-plane", ""), rt.Flow{Pod: api, Outbound: true, Remote: ap("192.168.1.11:8080"), Port: 8080}, true, false, ""},
		{"own node: always allowed", clusterNodes("control-plane", ""), rt.Flow{Pod: web, Outbound: true, Remote: ap("192.168.1.10:8080"), Port: 8080}, true, false, ""},
		{"relabelled a worker: Accept", clusterNodes("worker", ""), rt.Flow{Pod: web, Outbound: true, Remote: ap("198.51.100.9:10250"), Port: 10250}, true, false, ""},
		{"relabelled a worker: no Deny", clusterNodes("worker", ""), rt.Flow{Pod: api, Outbound: true, Remote: ap("198.51.100.9:6443"), Port: 6443}, true, false, ""},
		{"deleted: an external address", clusterNodes("control-plane", "cp-1"), rt.Flow{Pod: api, Outbound: true, Remote: ap("198.51.100.9:6443"), Port: 6443}, true, false, ""},
		{"deleted: web's NetworkPolicy denies an external address", clusterNodes("control-plane", "cp-1"), rt.Flow{Pod: web, Outbound: true, Remote: ap("198.51.100.9:6443"), Port: 6443}, true, true, "web-egress"},
		{"no Node objects: undecided", nil, rt.Flow{Pod: api, Outbound: true, Remote: ap("198.51.100.9:6443"), Port: 6443}, false, false, ""},
		{"no Node objects: any external address could be a node's", nil, rt.Flow{Pod: api, Outbound: true, Remote: ap("198.51.100.10:6443"), Port: 6443}, false, false, ""},
		{"no Node objects: other nodes stay undecided", nil, rt.Flow{Pod: api, Outbound: true, Remote: ap("192.168.1.11:8080"), Port: 8080}, false, false, ""},
		{"inbound from another node: undecided", clusterNodes("control-plane", ""), rt.Flow{Pod: db, Remote: ap("192.168.1.1:40000"), Port: 5432}, false, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(nodesPolicy), &u.Object); err != nil {
				t.Fatal(err)
			}
			s := clusterWithNodes([]*unstructured.Unstructured{u}, tc.nodes)
			if s.incomplete != "" || s.NodesKnown != (tc.nodes != nil) || s.Nodes != len(tc.nodes) {
				t.Fatalf("snapshot: incomplete %q, nodes known %v, %d nodes", s.incomplete, s.NodesKnown, s.Nodes)
			}
			j := &Judge{}
			j.Set(s)
			v := j.Judge(tc.f)
			if v.Decided != tc.decided || v.Denied != tc.denied {
				t.Fatalf("verdict %+v, want decided %v, denied %v", v, tc.decided, tc.denied)
			}
			if !strings.Contains(v.Why, tc.why) {
				t.Errorf("why %q, want it to contain %q", v.Why, tc.why)
			}
		})
	}
}
