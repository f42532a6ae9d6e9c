package runtimenode

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	rt "github.com/palisade-sec/palisade/internal/runtime"
	"github.com/palisade-sec/palisade/internal/runtime/policyintent"
	"github.com/palisade-sec/palisade/internal/testenv"
)

// createNode creates a Node with labels and gives it addresses, as the
// kubelet would.
func createNode(ctx context.Context, t *testing.T, admin kubernetes.Interface, name string, labels map[string]string, addrs ...corev1.NodeAddress) {
	t.Helper()
	n, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	n.Status.Addresses = addrs
	if _, err := admin.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// intentMessages are the PAL-RT-011 findings' messages the sensors
// reported as Events of ns.
func intentMessages(ctx context.Context, t *testing.T, admin kubernetes.Interface, ns string) []string {
	t.Helper()
	list, err := admin.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range list.Items {
		rep, err := ReportFromEvent(&ev)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range rep.Findings {
			if f.F.RuleID == rt.RuleIntent {
				out = append(out, f.F.Message)
			}
		}
	}
	return out
}

// TestRuntimePolicyIntentNodes runs a node sensor with policy intent on
// the real API server, as a ServiceAccount holding deploy/runtime's
// ClusterRole, with Nodes and an Admin tier ClusterNetworkPolicy whose
// egress rules have nodes peers: N's pods may not reach the control
// plane's nodes (role=control-plane) on TCP 6443, and may reach every
// other node of the test on 6443. web (namespace N) is isolated for
// egress by the NetworkPolicy web-egress (pods only). Recorded
// connections of web, fed through the user-space pipeline:
//
//   - to cp's ExternalIP on 6443: denied by the nodes rule, reported;
//   - to worker w's InternalIP on 6443: accepted, not reported;
//   - to w on 8080: no admin rule decides, and whether web-egress's
//     ipBlocks apply to a node's address is up to the network plugin:
//     undecided.
//
// Then, with the same sensor running: cp relabelled a worker, the same
// connection is allowed; a new control-plane Node cp2, a connection to
// it is denied and reported; w deleted, its address is external and
// web-egress denies it (reported, naming web-egress). A sensor whose
// role lacks the nodes rule judges everything else and leaves the
// connections a nodes peer could change undecided, saying why.
func TestRuntimePolicyIntentNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	env, admin, adminDyn, ns, cnpGVR := clusterPolicySetup(ctx, t, "nodes")

	ip := func(typ corev1.NodeAddressType, a string) corev1.NodeAddress {
		return corev1.NodeAddress{Type: typ, Address: a}
	}
	labels := func(role string) map[string]string { return map[string]string{"role": role, "palisade-test": ns} }
	cp, w, cp2 := "cp-"+ns, "w-"+ns, "cp2-"+ns
	createNode(ctx, t, admin, cp, labels("control-plane"), ip(corev1.NodeInternalIP, "172.31.7.1"), ip(corev1.NodeExternalIP, "198.18.7.1"), ip(corev1.NodeHostName, cp))
	createNode(ctx, t, admin, w, labels("worker"), ip(corev1.NodeInternalIP, "172.31.7.2"))

	y := fmt.Sprintf(`{apiVersion: policy.networking.k8s.io/v1alpha2, kind: ClusterNetworkPolicy, metadata: {name: %[1]s-nodes},
  spec: {tier: Admin, priority: 1, subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: %[1]s}}}, egress: [
    {name: no-apiserver, action: Deny, to: [{nodes: {matchLabels: {role: control-plane, palisade-test: %[1]s}}}], protocols: [{tcp: {destinationPort: {number: 6443}}}]},
    {name: nodes-api, action: Accept, to: [{nodes: {matchLabels: {palisade-test: %[1]s}}}], protocols: [{tcp: {destinationPort: {number: 6443}}}]}]}}`, ns)
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(y), &u.Object); err != nil {
		t.Fatal(err)
	}
	if _, err := adminDyn.Resource(cnpGVR).Create(ctx, u, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = adminDyn.Resource(cnpGVR).Delete(context.Background(), u.GetName(), metav1.DeleteOptions{})
	})

	node := "n1-" + ns
	createIntentWorkloads(ctx, t, admin, ns, node, "10.246")
	ap := netip.MustParseAddrPort
	conn := func(port uint16, dst string) rt.Event {
		return rt.Event{Kind: rt.KindEstablished, Src: netip.AddrPortFrom(netip.MustParseAddr("10.246.1.5"), port), Dst: ap(dst)}
	}
	conns := []rt.Event{
		conn(40001, "198.18.7.1:6443"),  // cp: Deny
		conn(40002, "172.31.7.2:6443"),  // w: Accept
		conn(40003, "172.31.7.2:8080"),  // w: up to the network plugin
		conn(40004, "10.246.2.10:5432"), // db: web-egress allows
	}
	n, feed, stop := runRecordedSensorMore(ctx, t, env, admin, ns, node, "runtime", conns, true)
	defer stop()
	var msgs []string
	wait := func(what string, cond func(fleetapi.RuntimeSensorState) bool) {
		t.Helper()
		err := testenv.WaitFor(ctx, func(context.Context) (bool, error) {
			msgs = intentMessages(ctx, t, admin, ns)
			return cond(n.State()), nil
		})
		if err != nil {
			t.Fatalf("%s: state %+v, findings %q: %v", what, n.State(), msgs, err)
		}
	}
	reported := func(dst, why string) bool {
		return slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(m, "connected to "+dst+" ") && strings.Contains(m, why) })
	}
	wait("the first connections", func(st fleetapi.RuntimeSensorState) bool {
		return st.IntentJudged == 3 && st.IntentUndecided == 1 && len(msgs) >= 1
	})
	if st := n.State(); st.IntentDenied != 1 || st.IntentReason != "" || len(msgs) != 1 ||
		!reported("198.18.7.1:6443", "(198.18.7.1[Node "+cp+"])") || !reported("198.18.7.1:6443", `"no-apiserver": Deny`) ||
		!strings.Contains(st.IntentPolicies, " Nodes") || strings.Contains(st.IntentPolicies, "unknown") {
		t.Fatalf("state %+v, findings %q: want cp:6443 denied by the nodes rule, w:6443 accepted, w:8080 undecided, the Nodes counted", st, msgs)
	}

	// judged waits until the sensor's snapshot judges web → dst as want
	// naming the destination name (the informers have caught up), then feeds
	// the connection.
	web := &rt.Pod{Namespace: ns, Name: "web-7d9f-x2"}
	judged := func(port uint16, dst, name string, decided, denied bool) {
		t.Helper()
		flow := rt.Flow{Pod: web, Outbound: true, Remote: ap(dst), Port: ap(dst).Port()}
		err := testenv.WaitFor(ctx, func(context.Context) (bool, error) {
			j := &policyintent.Judge{}
			j.Set(n.intent.judge.Snapshot())
			v := j.Judge(flow)
			return v.Decided == decided && v.Denied == denied && strings.HasSuffix(v.Dst, name), nil
		})
		if err != nil {
			t.Fatalf("%s: the snapshot never judged it %s, decided %v, denied %v: %v", dst, name, decided, denied, err)
		}
		feed(conn(port, dst))
	}

	// Relabelled: cp is a worker now, so the Accept holds.
	before := n.State()
	cpNode, err := admin.CoreV1().Nodes().Get(ctx, cp, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cpNode.Labels["role"] = "worker"
	if _, err := admin.CoreV1().Nodes().Update(ctx, cpNode, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	judged(40011, "198.18.7.1:6443", "[Node "+cp+"]", true, false)
	wait("relabelled", func(st fleetapi.RuntimeSensorState) bool { return st.IntentJudged == before.IntentJudged+1 })
	if st := n.State(); st.IntentDenied != before.IntentDenied {
		t.Errorf("relabelled: state %+v, want the connection to the former control plane allowed", st)
	}

	// A new control-plane node: denied.
	createNode(ctx, t, admin, cp2, labels("control-plane"), ip(corev1.NodeInternalIP, "172.31.7.3"))
	judged(40012, "172.31.7.3:6443", "[Node "+cp2+"]", true, true)
	wait("a node added", func(fleetapi.RuntimeSensorState) bool {
		return reported("172.31.7.3:6443", "(172.31.7.3[Node "+cp2+"])")
	})

	// w deleted: its address is external now, and web-egress denies it.
	if err := admin.CoreV1().Nodes().Delete(ctx, w, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	judged(40013, "172.31.7.2:6443", "[External]", true, true)
	wait("a node deleted", func(fleetapi.RuntimeSensorState) bool {
		return reported("172.31.7.2:6443", "(172.31.7.2[External])") && reported("172.31.7.2:6443", "NetworkPolicy "+ns+"/web-egress")
	})
	stop()

	// A role from before the nodes rule: the list is refused, the rest is
	// judged and the connections a nodes peer could change are not.
	// (w's address on 8080 is left out: without Node objects the sensor
	// cannot tell it is a node's, as before.)
	n, _, stop = runRecordedSensorMore(ctx, t, env, admin, ns, node, "runtime-old", []rt.Event{conns[0], conns[1], conns[3]}, true)
	defer stop()
	wait("without the nodes rule", func(st fleetapi.RuntimeSensorState) bool {
		return st.IntentJudged+st.IntentUndecided == 3 && strings.Contains(st.IntentPolicies, "forbidden")
	})
	st := n.State()
	if st.IntentJudged != 1 || st.IntentUndecided != 2 || st.IntentDenied != 0 || st.IntentReason != "" ||
		!strings.Contains(st.IntentPolicies, "Node addresses unknown (") || !strings.Contains(st.IntentPolicies, "connections a nodes peer could change are undecided") {
		t.Errorf("without the nodes rule: state %+v: want db judged, the two connections a nodes rule could change undecided, the refusal in IntentPolicies", st)
	}
}
