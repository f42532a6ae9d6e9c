package runtimenode

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	rt "github.com/palisade-sec/palisade/internal/runtime"
	"github.com/palisade-sec/palisade/internal/testenv"
)

// TestRuntimePolicyIntentLiveRBAC runs a node sensor with policy intent
// against the real API server as a ServiceAccount holding exactly the
// ClusterRole of deploy/runtime/runtime.yaml: its cluster-wide informers
// must sync (the role allows what they list and watch), and a recorded
// established connection from this node's pod web to the other node's
// pod db, which web's NetworkPolicy denies, must become a PAL-RT-011
// Event on web's pod; the sensor state says judging runs, and counts a
// datagram web sent to db as not judged.
func TestRuntimePolicyIntentLiveRBAC(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	admin := env.AdminClient(t)
	ns := sensorNamespace(ctx, t, env, admin)

	role := testenv.ManifestClusterRole(t, "../../deploy/runtime/runtime.yaml")
	for _, r := range role.Rules {
		for _, v := range r.Verbs {
			if v != "get" && v != "list" && v != "watch" && !(v == "create" && strings.Join(r.Resources, ",") == "events") {
				t.Errorf("runtime rule %+v: verb %s", r, v)
			}
		}
		for _, res := range r.Resources {
			if res == "secrets" || res == "*" {
				t.Errorf("runtime role reads %s", res)
			}
		}
	}
	bindClusterRole(ctx, t, admin, role, ns, "runtime")
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	udp := corev1.ProtocolUDP
	must(admin.NetworkingV1().NetworkPolicies(ns).Create(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "web-dns-only"}, Spec: networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
		Egress:      []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp}}}}}}, metav1.CreateOptions{}))
	node := "n1-" + ns
	web := runtimePod("", "web-7d9f-x2", rtCID, false)
	web.Namespace, web.Spec.NodeName, web.Labels["app"] = ns, node, "web"
	web.OwnerReferences[0].APIVersion, web.OwnerReferences[0].UID = "apps/v1", "5f0c1e6a-0000-4000-8000-000000000001"
	db := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db-0", Labels: map[string]string{"app": "db"}},
		Spec: corev1.PodSpec{NodeName: "n2-" + ns, Containers: []corev1.Container{{Name: "db", Image: "registry.example/postgres:16"}}}}
	createRunningPod(ctx, t, admin, web, "10.244.1.5", "192.168.1.10")
	createRunningPod(ctx, t, admin, db, "10.244.2.7", "192.168.1.11")

	root := t.TempDir()
	cg := fakeCgroup(t, root)
	ap := netip.MustParseAddrPort
	src := &recordedSource{events: []rt.Event{{Kind: rt.KindEstablished, CgroupID: cg, Src: ap("10.244.1.5:40112"), Dst: ap("10.244.2.7:5432")},
		// A datagram to db: no proof of delivery, so not judged, counted.
		{Kind: rt.KindUDPSend, CgroupID: cg, Dst: ap("10.244.2.7:5353")}}, state: rt.State{Mode: "ok", Decoded: 2}}
	cfg := env.ServiceAccountConfig(ctx, t, ns, "runtime")
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(Config{Client: testenv.NewClient(t, cfg), Dynamic: dyn, Node: node, Namespace: ns, CgroupRoot: root, StateEvery: 50 * time.Millisecond,
		PolicyIntent: true, IntentEvery: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Open: func(context.Context, rt.Options) (Source, error) { return src, nil }})
	if err != nil {
		t.Fatal(err)
	}
	src.before = func(ctx context.Context) {
		for ctx.Err() == nil {
			if _, ok := n.pods.LookupPod(ctx, rtCID, ""); ok && n.intent.built.Load() > 0 {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.Run(runCtx) }()
	var finding *fleetapi.RuntimeFinding
	err = testenv.WaitFor(ctx, func(ctx context.Context) (bool, error) {
		list, err := admin.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, ev := range list.Items {
			rep, err := ReportFromEvent(&ev)
			if err != nil {
				return false, err
			}
			for _, f := range rep.Findings {
				finding = &f
			}
		}
		return finding != nil && n.State().IntentJudged == 1 && n.State().IntentUDPNotJudged == 1, nil
	})
	stop()
	if runErr := <-done; runErr != nil {
		t.Fatal(runErr)
	}
	if err != nil {
		t.Fatalf("no PAL-RT-011 Event (state %+v): %v", n.State(), err)
	}
	if finding.F.RuleID != rt.RuleIntent || finding.F.Object.Name != "web-7d9f-x2" || !strings.Contains(finding.F.Message, "("+ns+"/db-0[Pod])") {
		t.Errorf("finding %+v", finding.F)
	}
	if st := n.State(); st.IntentReason != "" || st.IntentDenied != 1 || st.IntentUDPNotJudged != 1 {
		t.Errorf("state %+v: judging must run with the shipped role", st)
	}
}
