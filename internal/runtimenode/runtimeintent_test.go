package runtimenode

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	runtimeobj "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	rt "github.com/palisade-sec/palisade/internal/runtime"
)

// TestRuntimeNodePolicyIntent runs a node sensor with policy intent on a
// cluster where shop/web (on this node) may reach nothing but DNS, and a
// pod on another node (shop/db) whose address only the cluster-wide
// informer knows. Recorded events: web established a connection to db
// (denied by web's egress: PAL-RT-011 on web's pod), a connect attempt to
// the same address (not judged: an attempt proves nothing), and an
// established connection to an address in the pod network no pod holds
// (undecided, counted in the state).
func TestRuntimeNodePolicyIntent(t *testing.T) {
	root := t.TempDir()
	cg := fakeCgroup(t, root)
	web := runtimePod(rtPodUID, "web-7d9f-x2", rtCID, false)
	web.Labels["app"] = "web"
	web.Status.PodIP, web.Status.HostIP = "10.244.1.5", "192.168.1.10"
	ctrl := true
	db := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db-0", UID: types.UID("db-uid"), Labels: map[string]string{"app": "db"},
		OwnerReferences: []metav1.OwnerReference{{Kind: "StatefulSet", Name: "db", Controller: &ctrl}}},
		Spec:   corev1.PodSpec{NodeName: "n2", Containers: []corev1.Container{{Name: "db", Image: "postgres", Ports: []corev1.ContainerPort{{Name: "pg", ContainerPort: 5432}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.2.7", HostIP: "192.168.1.11"}}
	udp := corev1.ProtocolUDP
	dns := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-dns-only"}, Spec: networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
		Egress:      []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp}}}}}}
	client := fake.NewClientset(web, db, dns, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}})

	ap := netip.MustParseAddrPort
	events := []rt.Event{
		{Kind: rt.KindEstablished, CgroupID: cg, Src: ap("10.244.1.5:40112"), Dst: ap("10.244.2.7:5432")},
		{Kind: rt.KindConnect, TGID: 4190, CgroupID: cg, Dst: ap("10.244.2.7:5432")},
		{Kind: rt.KindEstablished, CgroupID: cg, Src: ap("10.244.1.5:40113"), Dst: ap("10.244.2.99:80")},
	}
	src := &recordedSource{events: events, state: rt.State{Mode: "ok", Decoded: uint64(len(events))}}
	n, err := New(Config{Client: client, Node: "n1", CgroupRoot: root, StateEvery: 20 * time.Millisecond,
		PolicyIntent: true, IntentEvery: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Open: func(context.Context, rt.Options) (Source, error) { return src, nil }})
	if err != nil {
		t.Fatal(err)
	}
	src.before = func(ctx context.Context) {
		for ; ctx.Err() == nil; time.Sleep(10 * time.Millisecond) {
			if _, ok := n.pods.LookupPod(ctx, rtCID, ""); ok && n.intent.built.Load() > 0 {
				return
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	waitUntil(t, "the intent finding and a state with the judged connections", func() bool {
		fs, states, _ := runtimeEvents(t, client)
		return len(fs) >= 1 && len(states) > 0 && latest(states).IntentJudged+latest(states).IntentUndecided >= 2
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	fs, states, _ := runtimeEvents(t, client)
	if len(fs) != 1 || fs[0].F.RuleID != rt.RuleIntent || fs[0].F.Object.String() != "Pod/shop/web-7d9f-x2" ||
		!strings.Contains(fs[0].F.Message, "10.244.2.7:5432 (shop/db[StatefulSet])") || !strings.Contains(fs[0].F.Message, "NetworkPolicy shop/web-dns-only") {
		t.Fatalf("findings %+v, want one PAL-RT-011 on web naming db and web's policy", fs)
	}
	last := latest(states)
	if last.IntentJudged != 1 || last.IntentDenied != 1 || last.IntentUndecided != 1 || last.IntentReason != "" {
		t.Errorf("state %+v, want 1 judged and denied, 1 undecided", last)
	}
	// The node's own pod index is fed from the cluster-wide informer
	// without the other node's pods.
	if _, ok := n.pods.LookupPod(context.Background(), "", "db-uid"); ok {
		t.Error("the pod index holds another node's pod")
	}
}

// TestStripPodForIntent: another node's pod keeps only what the policy
// model reads; the node's own keeps the runtime view and its addresses.
func TestStripPodForIntent(t *testing.T) {
	p := runtimePod(rtPodUID, "web-7d9f-x2", rtCID, true)
	p.Status.PodIP, p.Status.HostIP = "10.244.1.5", "192.168.1.10"
	p.Annotations = map[string]string{"big": strings.Repeat("x", 4096)}
	p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
	p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "b"}}
	strip := stripPodForIntent("n1")
	own, _ := strip(p.DeepCopy())
	if q := own.(*corev1.Pod); q.Status.PodIP != "10.244.1.5" || q.Spec.SecurityContext == nil || len(q.Status.ContainerStatuses) != 1 {
		t.Errorf("own node's pod %+v", q)
	}
	other, _ := stripPodForIntent("n9")(p.DeepCopy())
	q := other.(*corev1.Pod)
	if q.Status.PodIP != "10.244.1.5" || q.Status.HostIP != "192.168.1.10" || q.Labels["pod-template-hash"] != "7d9f" || len(q.OwnerReferences) != 1 ||
		len(q.Spec.Containers) != 1 || q.Spec.Containers[0].Ports[0].Name != "http" || q.Spec.Containers[0].Env != nil || q.Annotations != nil || q.Spec.SecurityContext != nil {
		t.Errorf("other node's pod %+v", q)
	}
}

// TestRuntimeNodePolicyIntentForbidden: when the sensor may not list what
// policy intent needs (a ClusterRole without namespaces), nothing is
// judged and the state says why, with the API server's refusal: a gap,
// never a silent pass.
func TestRuntimeNodePolicyIntentForbidden(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("list", "namespaces", func(k8stesting.Action) (bool, runtimeobj.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, "", errors.New("RBAC: not allowed"))
	})
	cg := fakeCgroup(t, t.TempDir())
	src := &recordedSource{events: []rt.Event{{Kind: rt.KindEstablished, CgroupID: cg, Dst: netip.MustParseAddrPort("203.0.113.9:443")}}, state: rt.State{Mode: "ok", Decoded: 1}}
	n, err := New(Config{Client: client, Node: "n1", CgroupRoot: t.TempDir(), StateEvery: 20 * time.Millisecond,
		PolicyIntent: true, IntentEvery: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Open: func(context.Context, rt.Options) (Source, error) { return src, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	waitUntil(t, "a state naming the refusal", func() bool {
		_, states, _ := runtimeEvents(t, client)
		return len(states) > 0 && strings.Contains(latest(states).IntentReason, "forbidden")
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	_, states, _ := runtimeEvents(t, client)
	last := latest(states)
	if !strings.HasPrefix(last.IntentReason, "policies not synced yet: ") || !strings.Contains(last.Gap(), "connections not judged against the NetworkPolicies") || last.IntentJudged != 0 {
		t.Errorf("state %+v, gap %q", last, last.Gap())
	}
}

// latest is the newest of the states written (the API lists Events by
// name, not by time).
func latest(states []fleetapi.RuntimeSensorState) fleetapi.RuntimeSensorState {
	l := states[0]
	for _, s := range states[1:] {
		if s.UpdatedAt.After(l.UpdatedAt) {
			l = s
		}
	}
	return l
}

// TestAdminTiersDiscovery: what the node sensor does with each answer of
// the API server's discovery about the admin tiers, and what its state
// says. Recorded answers (the fake discovery), the objects through a
// dynamic client; the real API server with the CRDs is
// TestRuntimePolicyIntentAdminTiers.
func TestAdminTiersDiscovery(t *testing.T) {
	anp := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
		"metadata": map[string]any{"name": "deny-all", "managedFields": []any{map[string]any{"manager": "kubectl"}}},
		"spec": map[string]any{"priority": int64(10), "subject": map[string]any{"namespaces": map[string]any{}},
			"egress": []any{map[string]any{"action": "Deny", "to": []any{map[string]any{"networks": []any{"0.0.0.0/0"}}}}}},
		"status": map[string]any{"conditions": []any{}}}}
	cnp := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
		"metadata": map[string]any{"name": "accept-all"},
		"spec": map[string]any{"tier": "Admin", "priority": int64(5), "subject": map[string]any{"namespaces": map[string]any{}},
			"egress": []any{map[string]any{"action": "Accept", "to": []any{map[string]any{"namespaces": map[string]any{}}}}}}}}
	served := func(gv string, names ...string) *metav1.APIResourceList {
		l := &metav1.APIResourceList{GroupVersion: gv}
		for _, n := range names {
			l.APIResources = append(l.APIResources, metav1.APIResource{Name: n}, metav1.APIResource{Name: n + "/status"})
		}
		return l
	}
	for _, tc := range []struct {
		name      string
		resources []*metav1.APIResourceList
		noDynamic bool
		failing   bool
		// then, if set, is discovery's answer after the first snapshot.
		then                           []*metav1.APIResourceList
		reason, tiers                  string
		adminInSnapshot, cnpInSnapshot int
		// incomplete is the reason the snapshot cannot be judged from.
		incomplete string
	}{
		{name: "not served", tiers: "NetworkPolicies only: the API server serves no AdminNetworkPolicies"},
		{name: "served and watched", resources: []*metav1.APIResourceList{served("policy.networking.k8s.io/v1alpha1", "adminnetworkpolicies", "baselineadminnetworkpolicies")},
			tiers: "NetworkPolicies and adminnetworkpolicies (policy.networking.k8s.io/v1alpha1), baselineadminnetworkpolicies (policy.networking.k8s.io/v1alpha1); 0 NetworkPolicies, 1 AdminNetworkPolicies, no BaselineAdminNetworkPolicy, 0 ClusterNetworkPolicies", adminInSnapshot: 1},
		{name: "both versions served", resources: []*metav1.APIResourceList{served("policy.networking.k8s.io/v1alpha1", "adminnetworkpolicies", "baselineadminnetworkpolicies"),
			served("policy.networking.k8s.io/v1alpha2", "clusternetworkpolicies")},
			tiers:           "NetworkPolicies and adminnetworkpolicies (policy.networking.k8s.io/v1alpha1), baselineadminnetworkpolicies (policy.networking.k8s.io/v1alpha1), clusternetworkpolicies (policy.networking.k8s.io/v1alpha2); 0 NetworkPolicies, 1 AdminNetworkPolicies, no BaselineAdminNetworkPolicy, 1 ClusterNetworkPolicies",
			adminInSnapshot: 1, cnpInSnapshot: 1, incomplete: "does not define how the two versions compose"},
		{name: "served, no client to watch them", resources: []*metav1.APIResourceList{served("policy.networking.k8s.io/v1alpha1", "adminnetworkpolicies")}, noDynamic: true,
			reason: "the API server serves adminnetworkpolicies (policy.networking.k8s.io/v1alpha1), which the sensor has no client to watch"},
		{name: "a version the model does not read", resources: []*metav1.APIResourceList{served("policy.networking.k8s.io/v1beta1", "clusternetworkpolicies")},
			reason: "the API server serves policy.networking.k8s.io/v1beta1 clusternetworkpolicies, which the model does not read"},
		{name: "discovery fails", failing: true, reason: "cannot tell whether the API server serves policy.networking.k8s.io/v1alpha1"},
		{name: "the CRD installed later", then: []*metav1.APIResourceList{served("policy.networking.k8s.io/v1alpha1", "adminnetworkpolicies")},
			tiers: "NetworkPolicies and adminnetworkpolicies (policy.networking.k8s.io/v1alpha1); 0 NetworkPolicies, 1 AdminNetworkPolicies", adminInSnapshot: 1},
		{name: "the CRD removed", resources: []*metav1.APIResourceList{served("policy.networking.k8s.io/v1alpha1", "adminnetworkpolicies")}, then: []*metav1.APIResourceList{},
			tiers: "NetworkPolicies only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset()
			client.Resources = tc.resources
			if tc.failing {
				client.PrependReactor("get", "resource", func(k8stesting.Action) (bool, runtimeobj.Object, error) {
					return true, nil, errors.New("connection refused")
				})
			}
			var dyn dynamic.Interface
			if !tc.noDynamic {
				dyn = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtimeobj.NewScheme(), map[schema.GroupVersionResource]string{
					{Group: "policy.networking.k8s.io", Version: "v1alpha1", Resource: "adminnetworkpolicies"}:         "AdminNetworkPolicyList",
					{Group: "policy.networking.k8s.io", Version: "v1alpha1", Resource: "baselineadminnetworkpolicies"}: "BaselineAdminNetworkPolicyList",
					{Group: "policy.networking.k8s.io", Version: "v1alpha2", Resource: "clusternetworkpolicies"}:       "ClusterNetworkPolicyList",
				}, anp.DeepCopy(), cnp.DeepCopy())
			}
			n, err := New(Config{Client: client, Dynamic: dyn, Node: "n1", PolicyIntent: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			f := informers.NewSharedInformerFactory(client, 0)
			w, err := n.startIntent(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			w.every, w.discoverEvery = 5*time.Millisecond, time.Hour
			f.Start(ctx.Done())
			done := make(chan struct{})
			go func() { defer close(done); w.run(ctx) }()
			settled := func() bool {
				return (tc.reason != "" && w.judge.Stats().Reason != "") || w.built.Load() > 0
			}
			waitUntil(t, "a snapshot or a reason", settled)
			if tc.then != nil {
				client.Resources = tc.then
				built := w.built.Load()
				w.syncAdmin(ctx)
				waitUntil(t, "the snapshot after discovery changed", func() bool { return w.built.Load() > built })
			}
			cancel()
			<-done
			want := tc.reason
			if tc.incomplete != "" {
				want = "policy model incomplete: 1 policies not understood (AdminNetworkPolicy deny-all and 0 other v1alpha1 admin policies beside 1 ClusterNetworkPolicies (policy.networking.k8s.io/v1alpha2): the network-policy-api " + tc.incomplete
			}
			if got := w.reason(w.judge.Stats().Reason); !strings.Contains(got, want) || (want == "") != (got == "") {
				t.Errorf("reason %q, want %q", got, want)
			}
			if got := w.policiesNote(); !strings.HasPrefix(got, tc.tiers) || (tc.tiers == "") != (got == "") {
				t.Errorf("IntentPolicies %q, want it to start with %q", got, tc.tiers)
			}
			if s := w.judge.Snapshot(); tc.reason == "" && (s == nil || s.AdminPolicies != tc.adminInSnapshot || s.ClusterPolicies != tc.cnpInSnapshot) {
				t.Errorf("snapshot %+v, want %d AdminNetworkPolicies and %d ClusterNetworkPolicies", s, tc.adminInSnapshot, tc.cnpInSnapshot)
			}
			w.mu.Lock()
			defer w.mu.Unlock()
			for _, a := range w.admin {
				for _, o := range a.inf.GetStore().List() {
					if u := o.(*unstructured.Unstructured); u.GetManagedFields() != nil || u.Object["status"] != nil || (u.GetKind() != "AdminNetworkPolicy" && u.GetKind() != "ClusterNetworkPolicy") {
						t.Errorf("kept %v, want it stripped to the model's fields", u.Object)
					}
				}
			}
		})
	}
}
