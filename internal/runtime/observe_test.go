package runtime

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/runtime/profile"
)

type peerMap map[netip.Addr]profile.Workload

func (m peerMap) LookupPeer(a netip.Addr) (profile.Workload, bool) { w, ok := m[a]; return w, ok }

func TestObserverAggregates(t *testing.T) {
	webPod := Attribution{ContainerID: strings.Repeat("a", 64), Pod: &Pod{Namespace: "shop", Name: "web-5d8f-x1", Owner: "Deployment/web"}}
	webPod2 := Attribution{ContainerID: strings.Repeat("b", 64), Pod: &Pod{Namespace: "shop", Name: "web-5d8f-x2", Owner: "Deployment/web"}}
	bare := Attribution{ContainerID: strings.Repeat("c", 64)}
	noOwner := Attribution{ContainerID: strings.Repeat("d", 64), Pod: &Pod{Namespace: "ops", Name: "debug"}}
	host := Attribution{Host: true}
	ap := netip.MustParseAddrPort
	db := profile.Workload{Namespace: "shop", Kind: "StatefulSet", Name: "db"}
	o := &Observer{Peers: peerMap{netip.MustParseAddr("10.244.1.7"): db}}
	for _, e := range []Event{
		{Kind: KindExec, Path: "/app/web", Attribution: webPod},
		{Kind: KindExec, Path: "/app/web", Attribution: webPod2}, // the same workload's other replica
		{Kind: KindExec, Path: "/bin/sh", Attribution: webPod2},
		{Kind: KindConnect, Dst: ap("10.244.1.7:5432"), Attribution: webPod},
		{Kind: KindConnect, Dst: ap("10.244.1.7:5432"), Attribution: webPod2},
		{Kind: KindUDPSend, Dst: ap("10.96.0.10:53"), Attribution: webPod},
		{Kind: KindAccept, Src: ap("10.244.1.5:8080"), Dst: ap("10.244.2.9:41234"), Attribution: webPod},
		{Kind: KindConnect, Dst: ap("127.0.0.1:9000"), Attribution: webPod}, // loopback: inside the pod
		{Kind: KindExit, Attribution: webPod},
		{Kind: KindExec, Path: "/usr/bin/curl", Attribution: bare},
		{Kind: KindExec, Path: "/bin/ls", Attribution: noOwner},
		{Kind: KindExec, Path: "/usr/bin/apt", Attribution: host}, // the host is no workload
		{Kind: KindExec, Path: "/x", Attribution: Attribution{Unknown: true}},
	} {
		o.Observe(&e)
	}
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	got := o.Flush(now)
	var lines []string
	for _, ob := range got {
		var cs []string
		for _, c := range ob.Connections {
			cs = append(cs, c.String())
		}
		lines = append(lines, fmt.Sprintf("%s bins=%v conns=%v overflow=%d", ob.Workload, ob.Binaries, cs, ob.Overflow))
		if err := ob.Validate(); err != nil {
			t.Errorf("observation not valid: %v", err)
		}
	}
	want := []string{
		"Container/cccccccccccc bins=[/usr/bin/curl] conns=[] overflow=0",
		"ops/Pod/debug bins=[/bin/ls] conns=[] overflow=0",
		"shop/Deployment/web bins=[/app/web /bin/sh] conns=[egress to 10.96.0.10/32 port 53/UDP egress to shop/StatefulSet/db port 5432/TCP ingress from 10.244.2.9/32 port 8080/TCP] overflow=0",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("observations:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if again := o.Flush(now.Add(time.Minute)); len(again) != 0 {
		t.Errorf("second flush: %v, want nothing new", again)
	}
}

func TestObserverBounds(t *testing.T) {
	o := &Observer{MaxWorkloads: 2}
	pod := func(i int) Attribution {
		return Attribution{ContainerID: fmt.Sprintf("%064x", i), Pod: &Pod{Namespace: "ns", Name: fmt.Sprint("p", i), Owner: fmt.Sprint("Deployment/d", i)}}
	}
	for i := range 3 {
		o.Observe(&Event{Kind: KindExec, Path: "/bin/x", Attribution: pod(i)})
	}
	for i := range profile.MaxBinariesPerObs + 3 {
		o.Observe(&Event{Kind: KindExec, Path: fmt.Sprintf("/bin/b%d", i), Attribution: pod(0)})
	}
	for i := range profile.MaxConnectionsPerObs + 4 {
		o.Observe(&Event{Kind: KindConnect, Dst: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(i+1)), Attribution: pod(1)})
	}
	obs := o.Flush(time.Now())
	if len(obs) != 2 || o.Dropped() != 1 {
		t.Fatalf("%d workloads, dropped %d; want 2 and 1", len(obs), o.Dropped())
	}
	// /bin/x plus MaxBinariesPerObs-1 more fit; 4 did not.
	if len(obs[0].Binaries) != profile.MaxBinariesPerObs || obs[0].Overflow != 4 {
		t.Errorf("d0: %d binaries, overflow %d", len(obs[0].Binaries), obs[0].Overflow)
	}
	if len(obs[1].Connections) != profile.MaxConnectionsPerObs || obs[1].Overflow != 4 {
		t.Errorf("d1: %d connections, overflow %d", len(obs[1].Connections), obs[1].Overflow)
	}
}
