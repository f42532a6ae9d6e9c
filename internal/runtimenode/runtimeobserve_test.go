package runtimenode

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	rt "github.com/palisade-sec/palisade/internal/runtime"
	"github.com/palisade-sec/palisade/internal/runtime/profile"
)

// TestRuntimeNodeObservations: the node sensor summarises its workloads'
// execs, connects and accepts as observation Events the agent can read and
// the hub accepts; a peer address of a pod on the node is named by its
// owner workload; with the cluster-wide pod informer of policy intent, so
// is a pod's on another node; any other peer by its address.
func TestRuntimeNodeObservations(t *testing.T) {
	for _, tc := range []struct {
		intent bool
		cache  string
	}{
		{false, "10.244.3.3/32"}, // the node's informer sees its own pods only
		{true, "shop/Deployment/cache"},
	} {
		t.Run(fmt.Sprintf("intent=%v", tc.intent), func(t *testing.T) { testRuntimeNodeObservations(t, tc.intent, tc.cache) })
	}
}

func testRuntimeNodeObservations(t *testing.T, intent bool, cachePeer string) {
	root := t.TempDir()
	cg := fakeCgroup(t, root)
	web := runtimePod(rtPodUID, "web-7d9f-x2", rtCID, false)
	ctrl := true
	dbPod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db-0", UID: "0a1b2c3d-0000-4111-8222-999944445555",
		OwnerReferences: []metav1.OwnerReference{{Kind: "StatefulSet", Name: "db", Controller: &ctrl}}},
		Spec: corev1.PodSpec{NodeName: "n1"}, Status: corev1.PodStatus{PodIPs: []corev1.PodIP{{IP: "10.244.0.7"}}}}
	// cache-0 runs on another node; its address is the accept's peer.
	cachePod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cache-5c4b-q1", UID: "0a1b2c3d-0000-4111-8222-999944446666", Labels: map[string]string{"pod-template-hash": "5c4b"},
		OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "cache-5c4b", Controller: &ctrl}}},
		Spec: corev1.PodSpec{NodeName: "n2"}, Status: corev1.PodStatus{PodIPs: []corev1.PodIP{{IP: "10.244.3.3"}}}}
	// A host-network pod of another node names no workload.
	hostPod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "proxy-n2", UID: "0a1b2c3d-0000-4111-8222-999944447777"},
		Spec: corev1.PodSpec{NodeName: "n2", HostNetwork: true}, Status: corev1.PodStatus{PodIPs: []corev1.PodIP{{IP: "192.168.1.11"}}}}
	objs := []runtime.Object{web, dbPod, hostPod}
	if intent {
		// The fake clientset ignores the node informer's field selector:
		// without intent the other node's pod is left out, as the API
		// server would leave it out.
		objs = append(objs, cachePod)
	}
	client := fake.NewClientset(objs...)
	events := []rt.Event{
		{Kind: rt.KindExec, TGID: 10, CgroupID: cg, Path: "/app/web"},
		{Kind: rt.KindConnect, TGID: 10, CgroupID: cg, Dst: netip.MustParseAddrPort("10.244.0.7:5432")},
		{Kind: rt.KindUDPSend, TGID: 10, CgroupID: cg, Dst: netip.MustParseAddrPort("10.96.0.10:53")},
		{Kind: rt.KindAccept, CgroupID: cg, Src: netip.MustParseAddrPort("10.244.0.5:8080"), Dst: netip.MustParseAddrPort("10.244.3.3:40000")},
		{Kind: rt.KindConnect, TGID: 10, CgroupID: cg, Dst: netip.MustParseAddrPort("192.168.1.11:10256")},
	}
	src := &recordedSource{events: events, state: rt.State{Mode: "ok", Decoded: 5}}
	n, err := New(Config{Client: client, Node: "n1", CgroupRoot: root, StateEvery: 20 * time.Millisecond, ObserveEvery: 20 * time.Millisecond,
		PolicyIntent: intent, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Open: func(context.Context, rt.Options) (Source, error) { return src, nil }})
	if err != nil {
		t.Fatal(err)
	}
	src.before = func(ctx context.Context) {
		for ; ctx.Err() == nil; time.Sleep(10 * time.Millisecond) {
			_, ok1 := n.pods.LookupPod(ctx, rtCID, "")
			_, ok2 := n.pods.LookupPeer(netip.MustParseAddr("10.244.0.7"))
			_, ok3 := n.pods.LookupPeer(netip.MustParseAddr("10.244.3.3"))
			if ok1 && ok2 && (ok3 || !intent) {
				return
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	var obs []profile.Observation
	waitUntil(t, "an observation Event", func() bool {
		obs = nil
		list, err := client.CoreV1().Events("palisade-system").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range list.Items {
			if ev.Reason != fleetapi.KubeEventReasonRuntimeObservations {
				continue
			}
			rep, err := ReportFromEvent(&ev)
			if err != nil {
				t.Fatalf("the agent cannot read the observation Event: %v", err)
			}
			env := fleetapi.Envelope{Seq: 1, Kind: fleetapi.KindRuntime, Runtime: &rep}
			if err := env.Validate(); err != nil {
				t.Fatalf("the hub would refuse it: %v", err)
			}
			if ev.InvolvedObject.Kind != "Node" || ev.InvolvedObject.Name != "n1" {
				t.Errorf("observation Event about %+v", ev.InvolvedObject)
			}
			obs = append(obs, rep.Observations...)
		}
		return len(obs) > 0
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	o := obs[0]
	var cs []string
	for _, c := range o.Connections {
		cs = append(cs, c.String())
	}
	got := fmt.Sprintf("%s %v %v", o.Workload, o.Binaries, cs)
	want := "shop/Deployment/web [/app/web] [egress to 10.96.0.10/32 port 53/UDP egress to 192.168.1.11/32 port 10256/TCP egress to shop/StatefulSet/db port 5432/TCP ingress from " + cachePeer + " port 8080/TCP]"
	if got != want {
		t.Errorf("observation\n%s\nwant\n%s", got, want)
	}
}

// TestObservationEvents: observation Events are checked as the hub would,
// and oversized observations are split, never dropped.
func TestObservationEvents(t *testing.T) {
	ev := func(annotation string) *corev1.Event {
		return &corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "palisade-system", Name: "e1", Annotations: map[string]string{fleetapi.KubeEventRuntimeAnnotation: annotation}}, Reason: fleetapi.KubeEventReasonRuntimeObservations}
	}
	for _, tc := range []struct{ name, annotation, wantErr string }{
		{"good", `{"node":"n1","observations":[{"workload":{"namespace":"a","kind":"Deployment","name":"w"},"binaries":["/x"]}]}`, ""},
		{"empty", `{"node":"n1"}`, "does not match"},
		{"with findings", `{"node":"n1","findings":[{"id":"f","finding":{"ruleID":"r"}}],"observations":[{"workload":{"kind":"Pod","name":"w"}}]}`, "does not match"},
		{"invalid observation", `{"node":"n1","observations":[{"workload":{"kind":"Pod","name":"w"},"binaries":["rel"]}]}`, "absolute path"},
		{"observations under a finding reason", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := ev(tc.annotation)
			if tc.annotation == "" {
				e = ev(`{"node":"n1","findings":[{"id":"f","finding":{"ruleID":"r"}}],"observations":[{"workload":{"kind":"Pod","name":"w"}}]}`)
				e.Reason = fleetapi.KubeEventReasonRuntimeFinding
				tc.wantErr = "does not match"
			}
			_, err := ReportFromEvent(e)
			if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
	big := profile.Observation{Workload: profile.Workload{Namespace: "a", Kind: "Deployment", Name: "w"}, Overflow: 3}
	for i := range profile.MaxBinariesPerObs {
		big.Binaries = append(big.Binaries, "/"+strings.Repeat("b", 400)+fmt.Sprint(i))
	}
	for i := range profile.MaxConnectionsPerObs {
		big.Connections = append(big.Connections, profile.Connection{Direction: profile.Egress, Peer: profile.Peer{CIDR: fmt.Sprintf("10.0.%d.%d/32", i/250, i%250)}, Port: 443, Protocol: profile.TCP})
	}
	parts := splitObservations([]profile.Observation{big}, maxObservationEvent-256)
	nb, nc, overflow := 0, 0, uint64(0)
	for _, p := range parts {
		raw, _ := json.Marshal(p)
		if len(raw) > maxObservationEvent-256 {
			t.Errorf("part of %d bytes", len(raw))
		}
		nb, nc, overflow = nb+len(p.Binaries), nc+len(p.Connections), overflow+p.Overflow
	}
	if len(parts) < 2 || nb != len(big.Binaries) || nc != len(big.Connections) || overflow != 3 {
		t.Errorf("%d parts, %d binaries, %d connections, overflow %d", len(parts), nb, nc, overflow)
	}
	rep := &fleetapi.RuntimeReport{Node: "n1", Observations: make([]profile.Observation, 2*maxObservationsPerEvent+1)}
	if got := SplitReport(rep); len(got) != 3 || len(got[2].Observations) != 1 {
		t.Errorf("split into %d reports", len(got))
	}
}
