package runtimenode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	rt "github.com/palisade-sec/palisade/internal/runtime"
)

const (
	rtCID    = "4f1f6b3c2a5d8e9f00112233445566778899aabbccddeeff0011223344556677"
	rtPodUID = "0a1b2c3d-0000-4111-8222-333344445555"
)

func runtimePod(uid, name, cid string, nonRoot bool) *corev1.Pod {
	ctrl := true
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, UID: types.UID(uid), Labels: map[string]string{"pod-template-hash": "7d9f"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web-7d9f", Controller: &ctrl}}},
		Spec: corev1.PodSpec{NodeName: "n1", SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &nonRoot},
			Containers: []corev1.Container{{Name: "web", Image: "registry.example/web:1"}}},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "web", ContainerID: "containerd://" + cid,
			ImageID: "registry.example/web@sha256:" + strings.Repeat("ab", 32)}}},
	}
}

// TestPodIndexChurn: containers resolve to their pod and owner workload
// (a Deployment's ReplicaSet named after the Deployment); a deleted pod
// still resolves for deletedPodTTL, so a short-lived container's late
// events are attributed, and is forgotten after.
func TestPodIndexChurn(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	x := newPodIndex(func() time.Time { return now })
	h := x.handler()
	pod := runtimePod(rtPodUID, "web-7d9f-x2", rtCID, true)
	h.OnAdd(pod, false)
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		advance  time.Duration
		del      bool
		cid, uid string
		found    bool
		want     string
	}{
		{"by container", 0, false, rtCID, "", true, "shop/web-7d9f-x2 web Deployment/web"},
		{"by pod UID, container not listed yet", 0, false, "ffff", rtPodUID, true, "shop/web-7d9f-x2  Deployment/web"},
		{"unknown", 0, false, "ffff", "", false, ""},
		{"deleted, within the TTL", time.Minute, true, rtCID, "", true, "shop/web-7d9f-x2 web Deployment/web"},
		{"deleted, past the TTL", deletedPodTTL + time.Second, false, rtCID, "", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now = now.Add(tc.advance)
			if tc.del {
				h.OnDelete(pod)
			}
			x.mu.Lock()
			x.expireLocked()
			x.mu.Unlock()
			p, ok := x.LookupPod(ctx, tc.cid, tc.uid)
			if ok != tc.found {
				t.Fatalf("found %v, want %v", ok, tc.found)
			}
			if ok {
				if got := p.Namespace + "/" + p.Name + " " + p.Container + " " + p.Owner; got != tc.want {
					t.Errorf("got %q, want %q", got, tc.want)
				}
				if !p.RunAsNonRoot {
					t.Error("runAsNonRoot lost")
				}
			}
		})
	}
	if !strings.HasSuffix(podEntryOf(pod).containers[rtCID].Image, "@sha256:"+strings.Repeat("ab", 32)) {
		t.Errorf("image digest not kept: %+v", podEntryOf(pod).containers[rtCID])
	}
}

// recordedSource replays recorded events, then waits for ctx (a sensor
// that saw nothing more).
type recordedSource struct {
	events []rt.Event
	state  rt.State
	// before, if set, runs first with Run's context and returns once the
	// sensor is ready for the events (or that context ends: a stopped
	// sensor must not wait on a condition that no longer comes true).
	before func(context.Context)
	// more are events fed after events, as they come (nil: none).
	more <-chan rt.Event
}

func (s *recordedSource) Run(ctx context.Context, fn func(rt.Event)) error {
	if s.before != nil {
		s.before(ctx)
	}
	for _, e := range s.events {
		fn(e)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-s.more:
			fn(e)
		}
	}
}
func (s *recordedSource) State() rt.State { return s.state }
func (s *recordedSource) Close() error    { return nil }

// fakeCgroup makes a containerd cgroup directory for rtCID in pod rtPodUID
// under root and returns its id (inode), as the kernel would report it.
func fakeCgroup(t *testing.T, root string) uint64 {
	t.Helper()
	dir := filepath.Join(root, "kubepods.slice", "kubepods-besteffort.slice", "kubepods-besteffort-pod"+strings.ReplaceAll(rtPodUID, "-", "_")+".slice", "cri-containerd-"+rtCID+".scope")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// runtimeEvents lists the Events the node sensor wrote, decoded.
func runtimeEvents(t *testing.T, c *fake.Clientset) (findings []fleetapi.RuntimeFinding, states []fleetapi.RuntimeSensorState, evs []corev1.Event) {
	t.Helper()
	list, err := c.CoreV1().Events("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range list.Items {
		rep, err := ReportFromEvent(&ev)
		if err != nil {
			t.Fatalf("the node wrote an Event the agent cannot read: %v", err)
		}
		findings = append(findings, rep.Findings...)
		if rep.Sensor != nil {
			states = append(states, *rep.Sensor)
		}
		evs = append(evs, ev)
	}
	return findings, states, evs
}

// waitUntil polls cond until it holds, failing the test after two
// minutes: generous, so a machine several times slower (or -race under
// load) still passes, while a wrong expectation fails instead of hanging.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRuntimeNodeRecordedEvents feeds recorded events (the kernel side is
// tested in internal/runtime on the real kernel) through a node sensor
// whose pod informer knows the pod: a shell run as root in a non-root pod
// and a metadata-service connect become Events on the pod, attributed to
// pod, container and owner, each written once although seen twice; the
// sensor's counters become a state Event on the node.
func TestRuntimeNodeRecordedEvents(t *testing.T) {
	root := t.TempDir()
	cg := fakeCgroup(t, root)
	client := fake.NewClientset(runtimePod(rtPodUID, "web-7d9f-x2", rtCID, true))
	shell := rt.Event{Kind: rt.KindExec, TGID: 4188, PPID: 4121, UID: 0, CgroupID: cg, Path: "/bin/sh", Args: []string{"sh", "-c", "id"}}
	meta := rt.Event{Kind: rt.KindConnect, TGID: 4190, UID: 1000, CgroupID: cg, Dst: netip.MustParseAddrPort("169.254.169.254:80")}
	src := &recordedSource{events: []rt.Event{shell, shell, meta}, state: rt.State{Mode: "ok", Decoded: 3, Dropped: 2, SockStateHook: rt.SockStateRaw, SockStateFallback: "tp_btf: not supported",
		SyscallHook: rt.SyscallTracepoint, SyscallFallback: "load fentry: operation not permitted"}}
	n, err := New(Config{Client: client, Node: "n1", CgroupRoot: root, StateEvery: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Open: func(ctx context.Context, _ rt.Options) (Source, error) { return src, nil }})
	if err != nil {
		t.Fatal(err)
	}
	// Replay only once the informer holds the pod: a real sensor's
	// events arrive long after the pod was scheduled.
	src.before = func(ctx context.Context) {
		for ; ctx.Err() == nil; time.Sleep(10 * time.Millisecond) {
			if _, ok := n.pods.LookupPod(ctx, rtCID, ""); ok {
				return
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	waitUntil(t, "3 findings and a state with the drops", func() bool {
		fs, states, _ := runtimeEvents(t, client)
		return len(fs) == 3 && len(states) > 0 && states[len(states)-1].Dropped == 2 && maxWithoutImageFiles(states) == 2
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	fs, states, evs := runtimeEvents(t, client)
	rules := map[string]int{}
	for _, f := range fs {
		rules[f.F.RuleID]++
		if f.F.Object.String() != "Pod/shop/web-7d9f-x2" || f.F.Container != "web" || f.ID == "" || f.Time.IsZero() {
			t.Errorf("finding %+v not attributed to the pod's container", f)
		}
	}
	if rules[rt.RuleShell] != 1 || rules[rt.RuleRootUser] != 1 || rules[rt.RuleMetadata] != 1 {
		t.Errorf("rules %v, want one each of shell, root, metadata (the repeated shell deduplicated)", rules)
	}
	last := states[len(states)-1]
	if last.Mode != "ok" || last.Events != 3 || last.Gap() != "events lost: 2 dropped, 0 malformed" {
		t.Errorf("state %+v (gap %q)", last, last.Gap())
	}
	if last.SockStateHook != rt.SockStateRaw || last.SockStateFallback != "tp_btf: not supported" {
		t.Errorf("state %+v: the TCP state program's form and fallback not reported", last)
	}
	if last.SyscallHook != rt.SyscallTracepoint || last.SyscallFallback != "load fentry: operation not permitted" {
		t.Errorf("state %+v: the connect, send and open programs' form and fallback not reported", last)
	}
	// No image file list is published here (no agent scans images):
	// both execs are counted as not checked against one, never silently.
	if n := maxWithoutImageFiles(states); n != 2 {
		t.Errorf("states %+v: %d execs without the image's file list, want 2", states, n)
	}
	for _, ev := range evs {
		if ev.ReportingController != fleetapi.KubeEventRuntimeComponent || ev.ReportingInstance != "n1" {
			t.Errorf("event %s: reporting %s/%s", ev.Name, ev.ReportingController, ev.ReportingInstance)
		}
		if ev.Reason == fleetapi.KubeEventReasonRuntimeFinding && (ev.Namespace != "shop" || ev.InvolvedObject.Kind != "Pod") {
			t.Errorf("finding event %s/%s about %+v", ev.Namespace, ev.Name, ev.InvolvedObject)
		}
		if ev.Reason == fleetapi.KubeEventReasonRuntimeState && (ev.Namespace != "palisade-system" || ev.InvolvedObject.Kind != "Node" || ev.Type != corev1.EventTypeWarning) {
			t.Errorf("state event %s/%s about %+v, type %s", ev.Namespace, ev.Name, ev.InvolvedObject, ev.Type)
		}
	}
}

// TestRuntimeNodeDegraded: a sensor that cannot load is reported as
// degraded with the reason, and Run keeps going (nil at the end) rather
// than failing the pod.
func TestRuntimeNodeDegraded(t *testing.T) {
	client := fake.NewClientset()
	n, err := New(Config{Client: client, Node: "n1", CgroupRoot: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Open: func(context.Context, rt.Options) (Source, error) {
			return nil, errors.New("load kernel BTF /nonexistent: no such file or directory")
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	waitUntil(t, "the degraded state Event", func() bool { _, s, _ := runtimeEvents(t, client); return len(s) == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("a degraded sensor failed Run: %v", err)
	}
	_, states, _ := runtimeEvents(t, client)
	if s := states[0]; s.Mode != "degraded" || !strings.Contains(s.Gap(), "sensor degraded: load kernel BTF /nonexistent") {
		t.Errorf("state %+v", s)
	}
	if _, err := New(Config{Client: client}); err == nil || !strings.Contains(err.Error(), "node name") {
		t.Errorf("no node name: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "detections.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: palisade.io/v1alpha1\nkind: RuntimeDetections\ndetections: [{id: a, expression: '1'}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Client: client, Node: "n1", DetectionsFile: bad}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad detections file: %v, want an error naming it", err)
	}
}

// TestRuntimeFromKubeEvent: node sensor Events become runtime reports;
// anything else is an error naming the Event.
func TestRuntimeFromKubeEvent(t *testing.T) {
	ev := func(reason, annotation string) *corev1.Event {
		return &corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "e1", Annotations: map[string]string{fleetapi.KubeEventRuntimeAnnotation: annotation}}, Reason: reason}
	}
	finding := `{"node":"n1","findings":[{"id":"f1","time":"2026-03-01T12:00:00Z","finding":{"ruleID":"PAL-RT-001","severity":"HIGH","message":"` + strings.Repeat("m", 3000) + `"}}]}`
	for _, tc := range []struct {
		name, reason, annotation, wantErr string
	}{
		{"finding", fleetapi.KubeEventReasonRuntimeFinding, finding, ""},
		{"state", fleetapi.KubeEventReasonRuntimeState, `{"node":"n1","sensor":{"mode":"degraded","reason":"no BTF"}}`, ""},
		{"other reason", "Scheduled", finding, `event shop/e1: reason "Scheduled"`},
		{"no annotation", fleetapi.KubeEventReasonRuntimeFinding, "", "no palisade.io/runtime-report annotation"},
		{"bad JSON", fleetapi.KubeEventReasonRuntimeFinding, `{"node":`, "event shop/e1: annotation"},
		{"no node", fleetapi.KubeEventReasonRuntimeFinding, `{"findings":[{"id":"f","finding":{"ruleID":"r"}}]}`, "names no node"},
		{"state reason, finding body", fleetapi.KubeEventReasonRuntimeState, finding, "does not match"},
		{"finding without ID", fleetapi.KubeEventReasonRuntimeFinding, `{"node":"n1","findings":[{"finding":{"ruleID":"r"}}]}`, "without an ID"},
		{"too many findings", fleetapi.KubeEventReasonRuntimeFinding, `{"node":"n1","findings":[` + strings.TrimSuffix(strings.Repeat(`{"id":"f","finding":{"ruleID":"r"}},`, maxRuntimeFindings+1), ",") + `]}`, "over 16"},
		{"huge annotation", fleetapi.KubeEventReasonRuntimeFinding, strings.Repeat(" ", maxRuntimeAnnotation+1), "over 65536"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := ReportFromEvent(ev(tc.reason, tc.annotation))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || rep.Node != "n1" {
				t.Fatalf("%+v, %v", rep, err)
			}
			for _, f := range rep.Findings {
				if len(f.F.Message) != maxRuntimeMessage {
					t.Errorf("message of %d bytes not bounded", len(f.F.Message))
				}
			}
		})
	}
}

func FuzzReportFromEvent(f *testing.F) {
	f.Add(fleetapi.KubeEventReasonRuntimeFinding, `{"node":"n1","findings":[{"id":"f1","finding":{"ruleID":"PAL-RT-001"}}]}`)
	f.Add(fleetapi.KubeEventReasonRuntimeState, `{"node":"n1","sensor":{"mode":"ok","dropped":3}}`)
	f.Fuzz(func(t *testing.T, reason, annotation string) {
		rep, err := ReportFromEvent(&corev1.Event{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{fleetapi.KubeEventRuntimeAnnotation: annotation}}, Reason: reason})
		if err != nil {
			return
		}
		env := fleetapi.Envelope{Seq: 1, Kind: fleetapi.KindRuntime, Runtime: &rep}
		if verr := env.Validate(); verr != nil || len(rep.Findings) > maxRuntimeFindings {
			b, _ := json.Marshal(rep)
			t.Fatalf("accepted a report the hub refuses (%v): %s", verr, b)
		}
	})
}

// TestPodIndexRemotePeers: another node's pod address names its workload
// until the pod is deleted or a later pod takes the address; a
// host-network pod's address names none; beyond maxRemotePeers addresses
// are counted, not kept.
func TestPodIndexRemotePeers(t *testing.T) {
	x := newPodIndex(nil)
	h := x.remoteHandler()
	ctrl := true
	pod := func(uid, name, owner, ip string, hostNet bool) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, UID: types.UID(uid)},
			Spec: corev1.PodSpec{NodeName: "n2", HostNetwork: hostNet}, Status: corev1.PodStatus{PodIPs: []corev1.PodIP{{IP: ip}}}}
		if owner != "" {
			p.OwnerReferences = []metav1.OwnerReference{{Kind: "StatefulSet", Name: owner, Controller: &ctrl}}
		}
		return p
	}
	peer := func(ip string) string {
		w, ok := x.LookupPeer(netip.MustParseAddr(ip))
		if !ok {
			return "-"
		}
		return w.String()
	}
	db := pod("u1", "db-0", "db", "10.244.2.7", false)
	h.OnAdd(db, false)
	h.OnAdd(pod("u2", "proxy", "", "192.168.1.11", true), false)
	h.OnAdd(pod("u3", "job-x", "", "10.244.2.8", false), false)
	for _, tc := range []struct{ ip, want string }{{"10.244.2.7", "shop/StatefulSet/db"}, {"192.168.1.11", "-"}, {"10.244.2.8", "shop/Pod/job-x"}, {"10.244.9.9", "-"}} {
		if got := peer(tc.ip); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.ip, got, tc.want)
		}
	}
	// db-0's address is reused by a later pod before db-0's deletion is seen.
	h.OnAdd(pod("u4", "web-1", "", "10.244.2.7", false), false)
	h.OnDelete(db)
	if got := peer("10.244.2.7"); got != "shop/Pod/web-1" {
		t.Errorf("reused address: %s", got)
	}
	h.OnDelete(cache.DeletedFinalStateUnknown{Obj: pod("u4", "web-1", "", "10.244.2.7", false)})
	if got := peer("10.244.2.7"); got != "-" {
		t.Errorf("deleted pod's address still names %s", got)
	}
	for i := range maxRemotePeers + 3 {
		h.OnAdd(pod(fmt.Sprintf("b%d", i), "p", "", netip.AddrFrom4([4]byte{10, byte(100 + i>>16), byte(i >> 8), byte(i)}).String(), false), false)
	}
	if len(x.remote) != maxRemotePeers || x.remoteOver != 4 { // job-x's address was in
		t.Errorf("%d remote addresses kept, %d over; want %d and 4", len(x.remote), x.remoteOver, maxRemotePeers)
	}
}

// TestRuntimeNodeStarted: Started is called once, after the pod informer
// has synced (the pod is known by then), whether the sensor loaded or is
// degraded: the DaemonSet releases its start-up pages at that point.
func TestRuntimeNodeStarted(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(context.Context, rt.Options) (Source, error)
	}{
		{"sensor loaded", func(context.Context, rt.Options) (Source, error) { return &recordedSource{}, nil }},
		{"sensor degraded", func(context.Context, rt.Options) (Source, error) { return nil, errors.New("no BTF") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset(runtimePod(rtPodUID, "web-7d9f-x2", rtCID, true))
			started := make(chan bool, 4)
			var n *Node
			n, err := New(Config{Client: client, Node: "n1", CgroupRoot: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Open: tc.open,
				Started: func() {
					_, known := n.pods.LookupPod(context.Background(), rtCID, "")
					started <- known
				}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- n.Run(ctx) }()
			select {
			case known := <-started:
				if !known {
					t.Error("Started before the pod informer synced")
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Started not called within 30 s")
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if len(started) != 0 {
				t.Errorf("Started called %d more times", len(started))
			}
		})
	}
}

// TestRuntimeRingBytesFlag: --runtime-ring-bytes reaches the sensor's
// options; without it the sensor's default size is asked for.
func TestRuntimeRingBytesFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, rt.DefaultRingBytes},
		{[]string{"--runtime-ring-bytes", "8388608"}, 8 << 20},
	} {
		var c Config
		fs := pflag.NewFlagSet("palisade-runtime", pflag.ContinueOnError)
		c.Bind(fs)
		if err := fs.Parse(append([]string{"--node-name", "n1"}, tc.args...)); err != nil {
			t.Fatal(err)
		}
		cfg := c.Resolve(func(string) string { return "" })
		var got rt.Options
		cfg.Client = fake.NewClientset()
		cfg.CgroupRoot = t.TempDir()
		cfg.Open = func(_ context.Context, o rt.Options) (Source, error) {
			got = o
			return nil, errors.New("recorded")
		}
		n, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := n.open(context.Background()); err == nil {
			t.Fatal("open: no error from the recording Open")
		}
		if got.RingBytes != tc.want {
			t.Errorf("%v: the sensor was opened with a ring of %d bytes, want %d", tc.args, got.RingBytes, tc.want)
		}
	}
}

// maxWithoutImageFiles is the highest count of execs without their
// image's file list among states (the Events are listed by name, not in
// the order written).
func maxWithoutImageFiles(states []fleetapi.RuntimeSensorState) uint64 {
	var n uint64
	for _, s := range states {
		n = max(n, s.ExecsWithoutImageFiles)
	}
	return n
}

// TestStripPodForRuntimeSameEntry: the pod index reads the same from a
// stripped pod as from the whole one (podEntryOf: owner, containers,
// images, users, addresses), the strip runs again to the same result,
// and what it drops (environment, volumes, probes, resources,
// annotations, managed fields) is gone.
func TestStripPodForRuntimeSameEntry(t *testing.T) {
	yes, no, root, user := true, false, int64(0), int64(1000)
	fat := func(p *corev1.Pod) *corev1.Pod {
		p.Annotations = map[string]string{"big": strings.Repeat("x", 4096), corev1.LastAppliedConfigAnnotation: "{}"}
		p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
		p.Spec.Volumes = []corev1.Volume{{Name: "data"}}
		for i := range p.Spec.Containers {
			c := &p.Spec.Containers[i]
			c.Env = []corev1.EnvVar{{Name: "A", Value: "b"}}
			c.Command = []string{"/app"}
			c.LivenessProbe = &corev1.Probe{}
			c.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
		}
		p.Status.PodIPs = []corev1.PodIP{{IP: "10.244.1.5"}, {IP: "fd00::5"}}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady}}
		return p
	}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
	}{
		{"non-root pod", fat(runtimePod(rtPodUID, "web-7d9f-x2", rtCID, true))},
		{"root pod", fat(runtimePod(rtPodUID, "web-7d9f-x2", rtCID, false))},
		{"container users override the pod's", func() *corev1.Pod {
			p := fat(runtimePod(rtPodUID, "web-7d9f-x2", rtCID, true))
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsUser: &root, Privileged: &yes}
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "side", Image: "registry.example/side:2", SecurityContext: &corev1.SecurityContext{RunAsNonRoot: &no}})
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: "side", ContainerID: "cri-o://" + strings.Repeat("1", 64), ImageID: "registry.example/side@sha256:" + strings.Repeat("cd", 32)})
			return p
		}()},
		{"pod user, init and ephemeral containers", func() *corev1.Pod {
			p := fat(runtimePod(rtPodUID, "job-1", rtCID, false))
			p.OwnerReferences = nil
			p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: &user, FSGroup: &user}
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "registry.example/init:1", RestartPolicy: func() *corev1.ContainerRestartPolicy { r := corev1.ContainerRestartPolicyAlways; return &r }(),
				Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9090}}}}
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "busybox", SecurityContext: &corev1.SecurityContext{RunAsUser: &root}}}}
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "init", ContainerID: "containerd://" + strings.Repeat("2", 64)}}
			p.Status.EphemeralContainerStatuses = []corev1.ContainerStatus{{Name: "debug", ContainerID: "containerd://" + strings.Repeat("3", 64)}}
			return p
		}()},
		{"host network, no security context", func() *corev1.Pod {
			p := fat(runtimePod(rtPodUID, "node-exporter", rtCID, false))
			p.Spec.SecurityContext, p.Spec.HostNetwork = nil, true
			return p
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := podEntryOf(tc.pod.DeepCopy())
			out, err := stripPodForRuntime(tc.pod.DeepCopy())
			if err != nil {
				t.Fatal(err)
			}
			q := out.(*corev1.Pod)
			if got := podEntryOf(q); !reflect.DeepEqual(got, want) {
				t.Errorf("entry of the stripped pod %+v, want %+v", got, want)
			}
			again, _ := stripPodForRuntime(q.DeepCopy())
			if !reflect.DeepEqual(again, q) {
				t.Errorf("stripped again: %+v, want %+v", again, q)
			}
			if q.Annotations != nil || q.ManagedFields != nil || q.Spec.Volumes != nil || q.Status.Conditions != nil {
				t.Errorf("stripped pod keeps metadata, volumes or conditions: %+v", q)
			}
			for i, c := range q.Spec.Containers {
				if c.Env != nil || c.Command != nil || c.LivenessProbe != nil || !reflect.DeepEqual(c.Ports, tc.pod.Spec.Containers[i].Ports) {
					t.Errorf("stripped container %+v: want name, image, ports and users only", c)
				}
			}
			if q.Labels["pod-template-hash"] != tc.pod.Labels["pod-template-hash"] || q.Spec.NodeName != "n1" || len(q.Status.PodIPs) != 2 {
				t.Errorf("stripped pod lost what the policy model reads: %+v", q)
			}
		})
	}
}
