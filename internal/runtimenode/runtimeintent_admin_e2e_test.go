package runtimenode

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/netpol"
	rt "github.com/palisade-sec/palisade/internal/runtime"
	"github.com/palisade-sec/palisade/internal/testenv"
)

var (
	crdGVR  = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	anpGVR  = schema.GroupVersionResource{Group: "policy.networking.k8s.io", Version: "v1alpha1", Resource: "adminnetworkpolicies"}
	banpGVR = schema.GroupVersionResource{Group: "policy.networking.k8s.io", Version: "v1alpha1", Resource: "baselineadminnetworkpolicies"}
)

// installAdminCRDs installs the AdminNetworkPolicy and
// BaselineAdminNetworkPolicy CRDs (testdata/crds) and waits until
// discovery serves both; at the test's end it deletes them and waits
// until discovery no longer does, so the package's other tests see a
// cluster without them.
func installAdminCRDs(ctx context.Context, t *testing.T, dyn dynamic.Interface, kube kubernetes.Interface) {
	t.Helper()
	installPolicyCRDs(ctx, t, dyn, kube, "testdata/crds/policy.networking.k8s.io_v1alpha1.yaml", anpGVR, banpGVR)
}

// installPolicyCRDs installs the CRDs of file (one CRD, or a List of
// them) and waits until discovery serves every one of gvrs; at the
// test's end it deletes them and waits until discovery serves none.
func installPolicyCRDs(ctx context.Context, t *testing.T, dyn dynamic.Interface, kube kubernetes.Interface, file string, gvrs ...schema.GroupVersionResource) {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	list := &unstructured.UnstructuredList{}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["kind"] == "List" {
		list.SetUnstructuredContent(doc)
	} else {
		list.Items = []unstructured.Unstructured{{Object: doc}}
	}
	gv := gvrs[0].GroupVersion().String()
	var names []string
	for i := range list.Items {
		crd := &list.Items[i]
		if _, err := dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
			t.Fatalf("CRD %s: %v", crd.GetName(), err)
		}
		names = append(names, crd.GetName())
	}
	served := func(ctx context.Context) (int, error) {
		res, err := kube.Discovery().ServerResourcesForGroupVersionWithContext(ctx, gv)
		if apierrors.IsNotFound(err) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		n := 0
		for _, r := range res.APIResources {
			if slices.ContainsFunc(gvrs, func(g schema.GroupVersionResource) bool { return g.Resource == r.Name }) {
				n++
			}
		}
		return n, nil
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for _, name := range names {
			if err := dyn.Resource(crdGVR).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("delete CRD %s: %v", name, err)
			}
		}
		if err := testenv.WaitFor(ctx, func(ctx context.Context) (bool, error) { n, err := served(ctx); return n == 0, err }); err != nil {
			t.Errorf("%s is still served after its CRDs were deleted: %v", gv, err)
		}
	})
	if err := testenv.WaitFor(ctx, func(ctx context.Context) (bool, error) { n, err := served(ctx); return n == len(gvrs), err }); err != nil {
		t.Fatalf("the CRDs are not served: %v", err)
	}
}

// sensorNamespace creates a namespace of its own for a test of the sensor
// on the shared API server and, at the test's end, deletes the pods and
// NetworkPolicies created in it. The namespace itself is only marked
// deleted (the test control plane has no controller-manager to empty it),
// and the sensors of later tests, or of the same test run again
// (-count=2), list pods and NetworkPolicies cluster-wide: a leftover pod
// would name their addresses and a leftover policy would judge their
// connections. The cleanup fails the test if anything is left.
func sensorNamespace(ctx context.Context, t *testing.T, env *testenv.Env, admin kubernetes.Interface) string {
	t.Helper()
	ns := env.CreateNamespace(ctx, t, "", nil).Name
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		// No kubelet confirms a pod's end: grace 0 removes it at once.
		now := metav1.DeleteOptions{GracePeriodSeconds: new(int64)}
		if err := admin.CoreV1().Pods(ns).DeleteCollection(ctx, now, metav1.ListOptions{}); err != nil {
			t.Errorf("delete the pods of %s: %v", ns, err)
		}
		if err := admin.NetworkingV1().NetworkPolicies(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
			t.Errorf("delete the NetworkPolicies of %s: %v", ns, err)
		}
		err := testenv.WaitFor(ctx, func(ctx context.Context) (bool, error) {
			pods, err := admin.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err
			}
			pols, err := admin.NetworkingV1().NetworkPolicies(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err
			}
			return len(pods.Items) == 0 && len(pols.Items) == 0, nil
		})
		if err != nil {
			t.Errorf("%s keeps pods or NetworkPolicies after its test: %v", ns, err)
		}
	})
	return ns
}

// bindClusterRole creates role (renamed after ns) and binds it to the
// ServiceAccount ns/sa, and deletes both at the test's end.
func bindClusterRole(ctx context.Context, t *testing.T, admin kubernetes.Interface, role *rbacv1.ClusterRole, ns, sa string) {
	t.Helper()
	role = role.DeepCopy()
	role.Name = sa + "-" + ns
	if _, err := admin.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = admin.RbacV1().ClusterRoleBindings().Delete(context.Background(), role.Name, metav1.DeleteOptions{})
		_ = admin.RbacV1().ClusterRoles().Delete(context.Background(), role.Name, metav1.DeleteOptions{})
	})
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: ns}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// createRunningPod creates pod and gives it a running status with ip on
// the node at host, as the kubelet would.
func createRunningPod(ctx context.Context, t *testing.T, admin kubernetes.Interface, pod *corev1.Pod, ip, host string) {
	t.Helper()
	status := pod.Status
	created, err := admin.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status = status
	created.Status.Phase, created.Status.PodIP, created.Status.PodIPs, created.Status.HostIP = corev1.PodRunning, ip, []corev1.PodIP{{IP: ip}}, host
	if _, err := admin.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestRuntimePolicyIntentAdminTiers runs node sensors with policy intent
// on the real API server serving the AdminNetworkPolicy and
// BaselineAdminNetworkPolicy CRDs, as ServiceAccounts holding the
// ClusterRole of deploy/runtime/runtime.yaml, and feeds them recorded
// established connections of this node's pod web (namespace N) to pods
// on another node. The policies:
//
//   - NetworkPolicy web-egress: web may reach db on TCP 5432, api on 8080,
//     cache on 6379, nothing else;
//   - ANP N-allow-metrics (priority 1): web may reach metrics on TCP 9090;
//   - ANP N-pass-cache (priority 2): web's traffic to cache is passed to
//     the NetworkPolicies;
//   - ANP N-deny (priority 3): N's pods may reach neither db nor cache;
//   - BANP default: N's pods may not reach api.
//
// So web → db:5432 is reported (the ANP's Deny, although web-egress
// allows it), web → cache:6380 is reported (passed, then web-egress
// denies it), and web → cache:6379 (passed, then allowed), web →
// api:8080 (the baseline denies, but web-egress isolates web and allows
// it) and web → metrics:9090 (the ANP's Allow over web-egress) are not.
// Without the admin tiers the findings would be cache:6380 and
// metrics:9090. A second sensor whose role lacks the admin tiers judges
// nothing and says so: the API server refuses its list.
func TestRuntimePolicyIntentAdminTiers(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	admin := env.AdminClient(t)
	adminDyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	installAdminCRDs(ctx, t, adminDyn, admin)
	ns := sensorNamespace(ctx, t, env, admin)

	role := testenv.ManifestClusterRole(t, "../../deploy/runtime/runtime.yaml")
	bindClusterRole(ctx, t, admin, role, ns, "runtime")
	// The role as it was before the admin tiers: everything else.
	old := role.DeepCopy()
	old.Rules = slices.DeleteFunc(old.Rules, func(r rbacv1.PolicyRule) bool { return slices.Contains(r.APIGroups, "policy.networking.k8s.io") })
	if len(old.Rules) != len(role.Rules)-1 {
		t.Fatalf("deploy/runtime's role has %d rules for policy.networking.k8s.io, want 1", len(role.Rules)-len(old.Rules))
	}
	bindClusterRole(ctx, t, admin, old, ns, "runtime-old")

	subject := fmt.Sprintf(`{namespaces: {matchLabels: {kubernetes.io/metadata.name: %s}}}`, ns)
	peer := func(app string) string {
		return fmt.Sprintf(`{pods: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: %s}}, podSelector: {matchLabels: {app: %s}}}}`, ns, app)
	}
	policies := []struct {
		gvr  schema.GroupVersionResource
		yaml string
	}{
		{anpGVR, fmt.Sprintf(`{apiVersion: policy.networking.k8s.io/v1alpha1, kind: AdminNetworkPolicy, metadata: {name: %s-allow-metrics},
  spec: {priority: 1, subject: %s, egress: [{action: Allow, to: [%s], ports: [{portNumber: {port: 9090}}]}]}}`, ns, subject, peer("metrics"))},
		{anpGVR, fmt.Sprintf(`{apiVersion: policy.networking.k8s.io/v1alpha1, kind: AdminNetworkPolicy, metadata: {name: %s-pass-cache},
  spec: {priority: 2, subject: %s, egress: [{action: Pass, to: [%s]}]}}`, ns, subject, peer("cache"))},
		{anpGVR, fmt.Sprintf(`{apiVersion: policy.networking.k8s.io/v1alpha1, kind: AdminNetworkPolicy, metadata: {name: %s-deny},
  spec: {priority: 3, subject: %s, egress: [{name: no-db, action: Deny, to: [%s]}, {action: Deny, to: [%s]}]}}`, ns, subject, peer("db"), peer("cache"))},
		{banpGVR, fmt.Sprintf(`{apiVersion: policy.networking.k8s.io/v1alpha1, kind: BaselineAdminNetworkPolicy, metadata: {name: default},
  spec: {subject: %s, egress: [{action: Deny, to: [%s]}]}}`, subject, peer("api"))},
	}
	for _, p := range policies {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(p.yaml), &u.Object); err != nil {
			t.Fatal(err)
		}
		if _, err := adminDyn.Resource(p.gvr).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
		}
		t.Cleanup(func() { _ = adminDyn.Resource(p.gvr).Delete(context.Background(), u.GetName(), metav1.DeleteOptions{}) })
	}

	node := "n1-" + ns
	createIntentWorkloads(ctx, t, admin, ns, node, "10.244")

	ap := netip.MustParseAddrPort
	conns := []rt.Event{
		{Kind: rt.KindEstablished, Src: ap("10.244.1.5:40001"), Dst: ap("10.244.2.10:5432")}, // db: ANP Deny
		{Kind: rt.KindEstablished, Src: ap("10.244.1.5:40002"), Dst: ap("10.244.2.11:8080")}, // api: BANP Deny, NetworkPolicy allows
		{Kind: rt.KindEstablished, Src: ap("10.244.1.5:40003"), Dst: ap("10.244.2.12:6379")}, // cache: Pass, NetworkPolicy allows
		{Kind: rt.KindEstablished, Src: ap("10.244.1.5:40004"), Dst: ap("10.244.2.12:6380")}, // cache: Pass, NetworkPolicy denies
		{Kind: rt.KindEstablished, Src: ap("10.244.1.5:40005"), Dst: ap("10.244.2.13:9090")}, // metrics: ANP Allow
	}
	sensor := func(sa string, wantSnapshot bool) (*Node, func()) {
		return runRecordedSensor(ctx, t, env, admin, ns, node, sa, conns, wantSnapshot)
	}

	n, stop := sensor("runtime", true)
	findings := func() map[string]string {
		return intentFindings(ctx, t, admin, ns, "5432", "8080", "6379", "6380", "9090")
	}
	var got map[string]string
	err = testenv.WaitFor(ctx, func(context.Context) (bool, error) {
		st := n.State()
		got = findings()
		return st.IntentJudged == 5 && len(got) >= 2, nil
	})
	stop()
	if err != nil {
		t.Fatalf("state %+v, findings %v: %v", n.State(), got, err)
	}
	st := n.State()
	if st.IntentReason != "" || st.IntentDenied != 2 || st.IntentUndecided != 0 {
		t.Errorf("state %+v: want 5 judged, 2 denied, judging on", st)
	}
	if want := "NetworkPolicies and adminnetworkpolicies (policy.networking.k8s.io/v1alpha1), baselineadminnetworkpolicies (policy.networking.k8s.io/v1alpha1); 1 NetworkPolicies, 3 AdminNetworkPolicies, a BaselineAdminNetworkPolicy, 0 ClusterNetworkPolicies"; !strings.Contains(st.IntentPolicies, want) {
		// Other namespaces' NetworkPolicies count too: compare the tail.
		t.Errorf("IntentPolicies %q, want %q", st.IntentPolicies, want)
	}
	if len(got) != 2 || !strings.Contains(got["5432"], "AdminNetworkPolicy "+ns+"-deny (priority 3) Egress rule #1 \"no-db\": Deny") ||
		!strings.Contains(got["6380"], "NetworkPolicy "+ns+"/web-egress") || !strings.HasPrefix(got["6380"], rt.RuleIntent) {
		t.Errorf("findings %v: want PAL-RT-011 for db:5432 (the ANP's Deny) and cache:6380 (passed, web-egress denies)", got)
	}

	// Without list on the admin tiers: nothing judged, the refusal shown
	// (the same node, the first sensor stopped).
	n, stop = sensor("runtime-old", false)
	err = testenv.WaitFor(ctx, func(context.Context) (bool, error) {
		st := n.State()
		return st.IntentUndecided == 5 && strings.Contains(st.IntentReason, "forbidden"), nil
	})
	stop()
	st = n.State()
	if err != nil || st.IntentJudged != 0 || !strings.Contains(st.IntentReason, "policies not synced yet") || !strings.Contains(st.IntentReason, "adminnetworkpolicies") ||
		!strings.Contains(st.Gap(), "connections not judged") {
		t.Errorf("without the admin tiers' rule: state %+v, gap %q (%v): want nothing judged and the refusal as the reason", st, st.Gap(), err)
	}
}

// runRecordedSensor runs a node sensor with policy intent as the
// ServiceAccount ns/sa on node until stop, fed the recorded events conns
// (attributed to the pod rtCID), and returns it; its events wait until
// its pod index has that pod and, with wantSnapshot, it has judged from
// a snapshot (or until ctx ends). Events of ns written earlier are
// deleted first: they are not this sensor's.
func runRecordedSensor(ctx context.Context, t *testing.T, env *testenv.Env, admin kubernetes.Interface, ns, node, sa string, conns []rt.Event, wantSnapshot bool) (*Node, func()) {
	t.Helper()
	n, _, stop := runRecordedSensorMore(ctx, t, env, admin, ns, node, sa, conns, wantSnapshot)
	return n, stop
}

// runRecordedSensorMore is runRecordedSensor that also returns a function
// feeding the sensor more recorded events (attributed to the same pod).
func runRecordedSensorMore(ctx context.Context, t *testing.T, env *testenv.Env, admin kubernetes.Interface, ns, node, sa string, conns []rt.Event, wantSnapshot bool) (*Node, func(...rt.Event), func()) {
	t.Helper()
	root := t.TempDir()
	cg := fakeCgroup(t, root)
	evs := slices.Clone(conns)
	for i := range evs {
		evs[i].CgroupID = cg
	}
	cfg := env.ServiceAccountConfig(ctx, t, ns, sa)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.CoreV1().Events(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	more := make(chan rt.Event)
	src := &recordedSource{events: evs, state: rt.State{Mode: "ok", Decoded: uint64(len(evs))}, more: more}
	n, err := New(Config{Client: testenv.NewClient(t, cfg), Dynamic: dyn, Node: node, Namespace: ns, CgroupRoot: root, StateEvery: 50 * time.Millisecond,
		PolicyIntent: true, IntentEvery: 50 * time.Millisecond, Ledger: "", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Open: func(context.Context, rt.Options) (Source, error) { return src, nil }})
	if err != nil {
		t.Fatal(err)
	}
	src.before = func(ctx context.Context) {
		for ctx.Err() == nil {
			// The judge's snapshot holds the Node objects, or none were
			// listed (with none, a snapshot judges as one without), or
			// their list was refused (RBAC: for good). Not nodesIn alone:
			// it is set before the snapshot with the Nodes is built and
			// handed to the judge, and under -race at load 30 the events
			// judged in between found no Nodes.
			s := n.intent.judge.Snapshot()
			e := n.intent.nodesErr.Load()
			none := n.intent.nodesIn.Load() && len(n.intent.nodes.GetStore().ListKeys()) == 0
			nodes := s != nil && s.NodesKnown || none || e != nil && strings.Contains(*e, "forbidden")
			if _, ok := n.pods.LookupPod(ctx, rtCID, ""); ok && (n.intent.built.Load() > 0 && nodes || !wantSnapshot) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.Run(runCtx) }()
	feed := func(evs ...rt.Event) {
		for _, e := range evs {
			e.CgroupID = cg
			select {
			case more <- e:
			case <-runCtx.Done():
				return
			}
		}
	}
	var once sync.Once
	return n, feed, func() {
		once.Do(func() {
			stop()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
}

// intentFindings reads the findings the sensors reported as Events of ns
// and returns, for each destination port of ports named in a message
// (":port ("), the finding's rule and message.
func intentFindings(ctx context.Context, t *testing.T, admin kubernetes.Interface, ns string, ports ...string) map[string]string {
	t.Helper()
	list, err := admin.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, ev := range list.Items {
		rep, err := ReportFromEvent(&ev)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range rep.Findings {
			for _, dst := range ports {
				if strings.Contains(f.F.Message, ":"+dst+" (") {
					out[dst] = f.F.RuleID + ": " + f.F.Message
				}
			}
		}
	}
	return out
}

// TestRuntimePolicyIntentClusterNetworkPolicies is
// TestRuntimePolicyIntentAdminTiers with ClusterNetworkPolicies
// (policy.networking.k8s.io/v1alpha2, the CRD of testdata/crds), on the
// real API server, as ServiceAccounts holding deploy/runtime's
// ClusterRole. The policies:
//
//   - NetworkPolicy web-egress: web may reach db on TCP 5432, api on 8080,
//     cache on 6379, nothing else (no external address);
//   - Admin N-accept-metrics (priority 1): web may reach metrics on 9090;
//   - Admin N-pass-cache (priority 2): web's traffic to cache is passed;
//   - Admin N-deny (priority 3): N's pods may reach neither db nor cache;
//   - Admin N-names (priority 4): N's pods may reach *.example.com on
//     TCP 443 (domain names: the sensor cannot tell an address's name);
//   - Baseline N-deny-api (priority 0): N's pods may not reach api.
//
// Reported: db:5432 (the Admin Deny over web-egress) and cache:6380
// (passed, web-egress denies). Not reported: cache:6379, api:8080 (the
// baseline yields to web-egress), metrics:9090 (Accept). Undecided, not
// reported: 203.0.113.5:443, which web-egress denies but which could be
// one of *.example.com's addresses. A role without the new rule judges
// nothing and names the refusal.
func TestRuntimePolicyIntentClusterNetworkPolicies(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	env, admin, adminDyn, ns, cnpGVR := clusterPolicySetup(ctx, t, "clusternetworkpolicies")

	subject := fmt.Sprintf(`{namespaces: {matchLabels: {kubernetes.io/metadata.name: %s}}}`, ns)
	peer := func(app string) string {
		return fmt.Sprintf(`{pods: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: %s}}, podSelector: {matchLabels: {app: %s}}}}`, ns, app)
	}
	cnp := func(name, tier string, priority int, egress string) string {
		return fmt.Sprintf(`{apiVersion: policy.networking.k8s.io/v1alpha2, kind: ClusterNetworkPolicy, metadata: {name: %s-%s},
  spec: {tier: %s, priority: %d, subject: %s, egress: %s}}`, ns, name, tier, priority, subject, egress)
	}
	for _, y := range []string{
		cnp("accept-metrics", "Admin", 1, fmt.Sprintf(`[{action: Accept, to: [%s], protocols: [{tcp: {destinationPort: {number: 9090}}}]}]`, peer("metrics"))),
		cnp("pass-cache", "Admin", 2, fmt.Sprintf(`[{action: Pass, to: [%s]}]`, peer("cache"))),
		cnp("deny", "Admin", 3, fmt.Sprintf(`[{name: no-db, action: Deny, to: [%s]}, {action: Deny, to: [%s]}]`, peer("db"), peer("cache"))),
		cnp("names", "Admin", 4, `[{action: Accept, to: [{domainNames: ["*.example.com"]}], protocols: [{tcp: {destinationPort: {number: 443}}}]}]`),
		cnp("deny-api", "Baseline", 0, fmt.Sprintf(`[{action: Deny, to: [%s]}]`, peer("api"))),
	} {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(y), &u.Object); err != nil {
			t.Fatal(err)
		}
		if _, err := adminDyn.Resource(cnpGVR).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
		}
		t.Cleanup(func() {
			_ = adminDyn.Resource(cnpGVR).Delete(context.Background(), u.GetName(), metav1.DeleteOptions{})
		})
	}

	// Addresses of their own: TestRuntimePolicyIntentAdminTiers's pods
	// may still be listed.
	node := "n1-" + ns
	createIntentWorkloads(ctx, t, admin, ns, node, "10.245")
	ap := netip.MustParseAddrPort
	conns := []rt.Event{
		{Kind: rt.KindEstablished, Src: ap("10.245.1.5:40001"), Dst: ap("10.245.2.10:5432")}, // db: Admin Deny
		{Kind: rt.KindEstablished, Src: ap("10.245.1.5:40002"), Dst: ap("10.245.2.11:8080")}, // api: Baseline Deny, NetworkPolicy allows
		{Kind: rt.KindEstablished, Src: ap("10.245.1.5:40003"), Dst: ap("10.245.2.12:6379")}, // cache: Pass, NetworkPolicy allows
		{Kind: rt.KindEstablished, Src: ap("10.245.1.5:40004"), Dst: ap("10.245.2.12:6380")}, // cache: Pass, NetworkPolicy denies
		{Kind: rt.KindEstablished, Src: ap("10.245.1.5:40005"), Dst: ap("10.245.2.13:9090")}, // metrics: Accept
		{Kind: rt.KindEstablished, Src: ap("10.245.1.5:40006"), Dst: ap("203.0.113.5:443")},  // maybe *.example.com: undecided
	}

	n, stop := runRecordedSensor(ctx, t, env, admin, ns, node, "runtime", conns, true)
	ports := []string{"5432", "8080", "6379", "6380", "9090", "443"}
	var got map[string]string
	err := testenv.WaitFor(ctx, func(context.Context) (bool, error) {
		st := n.State()
		got = intentFindings(ctx, t, admin, ns, ports...)
		return st.IntentJudged == 5 && st.IntentUndecided == 1 && len(got) >= 2, nil
	})
	stop()
	if err != nil {
		t.Fatalf("state %+v, findings %v: %v", n.State(), got, err)
	}
	st := n.State()
	if st.IntentReason != "" || st.IntentDenied != 2 {
		t.Errorf("state %+v: want 5 judged, 2 denied, 1 undecided, judging on", st)
	}
	if want := "NetworkPolicies and clusternetworkpolicies (policy.networking.k8s.io/v1alpha2); "; !strings.HasPrefix(st.IntentPolicies, want) || !strings.Contains(st.IntentPolicies, ", 5 ClusterNetworkPolicies; ") {
		t.Errorf("IntentPolicies %q, want it to start with %q and count 5 ClusterNetworkPolicies", st.IntentPolicies, want)
	}
	if len(got) != 2 || !strings.Contains(got["5432"], "ClusterNetworkPolicy "+ns+"-deny (Admin tier, priority 3) Egress rule #1 \"no-db\": Deny") ||
		!strings.Contains(got["6380"], "NetworkPolicy "+ns+"/web-egress") || !strings.HasPrefix(got["6380"], rt.RuleIntent) {
		t.Errorf("findings %v: want PAL-RT-011 for db:5432 (the Admin Deny) and cache:6380 (passed, web-egress denies), nothing for the rest", got)
	}

	n, stop = runRecordedSensor(ctx, t, env, admin, ns, node, "runtime-old", conns, false)
	err = testenv.WaitFor(ctx, func(context.Context) (bool, error) {
		st := n.State()
		return st.IntentUndecided == 6 && strings.Contains(st.IntentReason, "forbidden"), nil
	})
	stop()
	st = n.State()
	if err != nil || st.IntentJudged != 0 || !strings.Contains(st.IntentReason, "clusternetworkpolicies") {
		t.Errorf("without the rule for clusternetworkpolicies: state %+v (%v): want nothing judged and the refusal as the reason", st, err)
	}
}

// clusterPolicySetup serves the ClusterNetworkPolicy CRD, creates a
// namespace and binds in it the ServiceAccount runtime to deploy/runtime's
// ClusterRole and runtime-old to that role without its one rule for
// resource (as a role from before that rule).
func clusterPolicySetup(ctx context.Context, t *testing.T, resource string) (*testenv.Env, kubernetes.Interface, dynamic.Interface, string, schema.GroupVersionResource) {
	t.Helper()
	env := testenv.Shared(t)
	admin := env.AdminClient(t)
	adminDyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	cnpGVR := netpol.ModelledResources["clusternetworkpolicies"].GroupVersionResource
	installPolicyCRDs(ctx, t, adminDyn, admin, "testdata/crds/policy.networking.k8s.io_v1alpha2.yaml", cnpGVR)
	ns := sensorNamespace(ctx, t, env, admin)
	role := testenv.ManifestClusterRole(t, "../../deploy/runtime/runtime.yaml")
	bindClusterRole(ctx, t, admin, role, ns, "runtime")
	old := role.DeepCopy()
	old.Rules = slices.DeleteFunc(old.Rules, func(r rbacv1.PolicyRule) bool { return slices.Contains(r.Resources, resource) })
	if len(old.Rules) != len(role.Rules)-1 {
		t.Fatalf("deploy/runtime's role has %d rules for %s, want 1", len(role.Rules)-len(old.Rules), resource)
	}
	bindClusterRole(ctx, t, admin, old, ns, "runtime-old")
	return env, admin, adminDyn, ns, cnpGVR
}

// createIntentWorkloads creates in ns the NetworkPolicy web-egress (web
// may reach db on TCP 5432, api on 8080, cache on 6379, nothing else),
// the pod web (container rtCID) running on node at NET.1.5 and the pods
// db, api, cache and metrics on another node at NET.2.10-13.
func createIntentWorkloads(ctx context.Context, t *testing.T, admin kubernetes.Interface, ns, node, net string) {
	t.Helper()
	tcp := corev1.ProtocolTCP
	port := func(n int32) *intstr.IntOrString { p := intstr.FromInt32(n); return &p }
	to := func(app string, p int32) networkingv1.NetworkPolicyEgressRule {
		return networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: port(p)}}}
	}
	if _, err := admin.NetworkingV1().NetworkPolicies(ns).Create(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "web-egress"}, Spec: networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
		Egress:      []networkingv1.NetworkPolicyEgressRule{to("db", 5432), to("api", 8080), to("cache", 6379)}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	web := runtimePod("", "web-7d9f-x2", rtCID, false)
	web.Namespace, web.Spec.NodeName, web.Labels["app"] = ns, node, "web"
	web.OwnerReferences[0].APIVersion, web.OwnerReferences[0].UID = "apps/v1", "5f0c1e6a-0000-4000-8000-000000000002"
	createRunningPod(ctx, t, admin, web, net+".1.5", "192.168.1.10")
	for i, app := range []string{"db", "api", "cache", "metrics"} {
		createRunningPod(ctx, t, admin, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: app + "-0", Labels: map[string]string{"app": app}},
			Spec: corev1.PodSpec{NodeName: "n2-" + ns, Containers: []corev1.Container{{Name: app, Image: "registry.example/" + app + ":1"}}}},
			fmt.Sprintf("%s.2.%d", net, 10+i), "192.168.1.11")
	}
}
