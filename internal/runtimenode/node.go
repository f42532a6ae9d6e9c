// Package runtimenode is a node's runtime sensor: it runs on every node
// (deploy/runtime, the runtime DaemonSet: `palisade-runtime`, or
// `palisade-agent --runtime`), apart from the cluster's one agent, which
// holds the cluster's hub identity and outbox. A node sensor has no
// identity of its own: like the admission webhook, it writes what it
// finds as Kubernetes Events (fleetapi.KubeEventRuntime*), which the agent
// forwards through its durable outbox (internal/agent's runtimeevents.go).
// Its pod informer sees only its node's pods (field selector
// spec.nodeName).
package runtimenode

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	rt "github.com/palisade-sec/palisade/internal/runtime"
)

// Source is where runtime events come from: the eBPF sensor
// (runtime.Sensor), or recorded events in tests and replays.
type Source interface {
	Run(ctx context.Context, fn func(rt.Event)) error
	State() rt.State
	Close() error
}

// Config configures a node's runtime sensor.
type Config struct {
	Client kubernetes.Interface
	// Dynamic watches the admin network policy tiers (custom resources)
	// for policy intent; nil: where the API server serves them, nothing
	// is judged (the state says why).
	Dynamic dynamic.Interface
	// Node is this node's name (the downward API's spec.nodeName).
	Node string
	// Namespace receives the Events about the node itself (its sensor
	// state, host findings); pods' findings go to the pod's namespace.
	Namespace string
	// BTFPath, ConnectWindow and RingBytes: runtime.Options.
	// ContainersOnly drops the host's root cgroup's events in the kernel.
	BTFPath        string
	ConnectWindow  time.Duration
	RingBytes      int
	ContainersOnly bool
	// StateEvery is how often a changed sensor state is written (default
	// 30s); an unchanged one is written again every 10 minutes so the
	// agent's view survives Event expiry.
	StateEvery time.Duration
	// FindingsPerMinute bounds the finding Events one node writes (default
	// 120, burst 60); the excess is counted in the state's Suppressed.
	FindingsPerMinute int
	// Open opens the source; nil opens the eBPF sensor. An error is the
	// degraded state's reason.
	Open func(ctx context.Context, o rt.Options) (Source, error)
	// CgroupRoot is the cgroup v2 mount (default: found in mountinfo).
	CgroupRoot string
	// Ledger is the runtime ledger ConfigMap in Namespace
	// (fleetapi.RuntimeLedgerName) where the node keeps its newest
	// LedgerFindings (default fleetapi.RuntimeLedgerPerNode) distinct
	// findings, written every LedgerEvery (default 5s) when they changed,
	// so they outlive their Events; "" keeps none.
	Ledger         string
	LedgerFindings int
	LedgerEvery    time.Duration
	// DetectionsFile holds custom CEL detections (kind RuntimeDetections,
	// docs/runtime.md); "" none.
	DetectionsFile string
	// PolicyIntent judges established connections against the cluster's
	// network policies (PAL-RT-011; intent.go): the pod informer becomes
	// cluster-wide and namespaces, NetworkPolicies and Services are
	// watched, and AdminNetworkPolicies and BaselineAdminNetworkPolicies
	// where the API server serves them. IntentEvery is how often a
	// changed cluster is rebuilt into the model (default 2s);
	// AdminDiscoverEvery how often discovery is asked whether the admin
	// tiers are served (default 5 minutes).
	PolicyIntent       bool
	IntentEvery        time.Duration
	AdminDiscoverEvery time.Duration
	// HostRoot is where the host's container snapshot directories are
	// mounted (deploy/runtime: /host): the drift check then tells the
	// image's layers from the container's writable one
	// (runtime.OverlayDrift). "" leaves the change-time test alone.
	HostRoot string
	// ImageFiles is the prefix of the ConfigMaps in Namespace where the
	// agent publishes the images' executable paths (imagefiles.go): the
	// drift check's SBOM evidence. "" reads none.
	ImageFiles string
	// ObserveEvery is how often the workloads' observations (binaries,
	// peers, ports: the hub's learned profiles) are written (default 1
	// minute); negative: none.
	ObserveEvery time.Duration
	// Started, when set, is called once start-up is over: the sensor is
	// loaded (or known degraded) and the informers' caches have synced.
	// The DaemonSet's binary releases the code and data pages start-up
	// touched then (cmd/palisade-agent, internal/procmem).
	Started func()
	Logger  *slog.Logger
	Now     func() time.Time
}

// Node is a node's running sensor.
type Node struct {
	cfg Config
	// podsSynced says when the pod index's informer handlers have seen
	// the first list (Run sets them up).
	podsSynced []cache.InformerSynced
	log        *slog.Logger
	pods       *podIndex
	limiter    *rate.Limiter
	queue      chan *corev1.Event
	custom     []*rt.CustomDetection
	ledger     *runtimeLedger // nil: none
	suppress   atomic.Uint64
	writeFail  atomic.Uint64
	// obsDropped counts observations not written (queue full, too large).
	obsDropped atomic.Uint64
	since      time.Time

	mu      sync.Mutex
	state   fleetapi.RuntimeSensorState
	dedup   map[string]time.Time
	written fleetapi.RuntimeSensorState
	wroteAt time.Time

	intent *intentWatch
	files  *imageFilesReader // nil: no SBOM evidence
}

// findingRepeat is how long an identical finding (rule, container,
// message) is not written again.
const findingRepeat = 10 * time.Minute

// New checks the configuration.
func New(cfg Config) (*Node, error) {
	if cfg.Client == nil {
		return nil, errors.New("runtime sensor: no Kubernetes client")
	}
	if cfg.Node == "" {
		return nil, errors.New("runtime sensor: no node name (--node-name, or NODE_NAME from the downward API)")
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "palisade-system"
	}
	if cfg.StateEvery <= 0 {
		cfg.StateEvery = 30 * time.Second
	}
	if cfg.ObserveEvery == 0 {
		cfg.ObserveEvery = time.Minute
	}
	if cfg.FindingsPerMinute <= 0 {
		cfg.FindingsPerMinute = 120
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LedgerFindings <= 0 {
		cfg.LedgerFindings = fleetapi.RuntimeLedgerPerNode
	}
	if cfg.LedgerEvery <= 0 {
		cfg.LedgerEvery = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Open == nil {
		cfg.Open = func(ctx context.Context, o rt.Options) (Source, error) { return rt.Open(ctx, o) }
	}
	n := &Node{cfg: cfg, log: cfg.Logger, pods: newPodIndex(cfg.Now),
		limiter: rate.NewLimiter(rate.Limit(float64(cfg.FindingsPerMinute)/60), cfg.FindingsPerMinute/2+1),
		queue:   make(chan *corev1.Event, 256), dedup: map[string]time.Time{}, since: cfg.Now().UTC()}
	if cfg.Ledger != "" {
		n.ledger = newRuntimeLedger(cfg.Client, cfg.Namespace, cfg.Ledger, cfg.Node, cfg.LedgerFindings, cfg.Logger)
	}
	if cfg.ImageFiles != "" {
		n.files = newImageFilesReader(cfg.Client, cfg.Namespace, cfg.ImageFiles, cfg.Logger, cfg.Now)
	}
	if cfg.DetectionsFile != "" {
		var err error
		if n.custom, err = rt.LoadCustom(cfg.DetectionsFile); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// Run watches the node's pods, runs the sensor and writes its findings and
// state until ctx ends. When the sensor cannot load, Run keeps writing
// the degraded state (with the reason) and returns nil at ctx's end: the
// rest of Palisade keeps working, and the gap is visible at the hub.
func (n *Node) Run(ctx context.Context) error {
	var f informers.SharedInformerFactory
	if n.cfg.PolicyIntent {
		f = informers.NewSharedInformerFactory(n.cfg.Client, 0)
		var err error
		if n.intent, err = n.startIntent(ctx, f); err != nil {
			return fmt.Errorf("runtime sensor: policy intent informers: %w", err)
		}
	} else {
		f = informers.NewSharedInformerFactory(n.cfg.Client, 0)
		inf, err := newPodInformer(n.cfg.Client, listPage, stripPodForRuntime, func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", n.cfg.Node).String()
		})
		if err != nil {
			return fmt.Errorf("runtime sensor: %w", err)
		}
		// The factory starts it and stops it with the others.
		f.InformerFor(&corev1.Pod{}, func(kubernetes.Interface, time.Duration) cache.SharedIndexInformer { return inf })
		reg, err := inf.AddEventHandler(n.pods.handler())
		if err != nil {
			return fmt.Errorf("runtime sensor: pod informer: %w", err)
		}
		n.podsSynced = append(n.podsSynced, reg.HasSynced)
	}
	// The sensor first, then the informers: loading the programs parses
	// the kernel's BTF for each form (about 20 MiB allocated, garbage once
	// loaded), and the informers' first lists decode at the same time if
	// started together. That garbage goes back to the OS before the lists
	// start; the ring buffer is read as soon as they have.
	src, p, err := n.open(ctx)
	debug.FreeOSMemory()
	f.Start(ctx.Done())
	defer f.Shutdown()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); n.writeLoop(ctx) }()
	if n.ledger != nil {
		wg.Add(1)
		go func() { defer wg.Done(); n.ledger.run(ctx, n.cfg.LedgerEvery) }()
	}
	if n.intent != nil {
		wg.Add(1)
		go func() { defer wg.Done(); n.intent.run(ctx) }()
	}
	if n.files != nil {
		wg.Add(1)
		go func() { defer wg.Done(); n.files.run(ctx) }()
	}
	defer wg.Wait()

	if n.cfg.Started != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.WaitForCacheSync(ctx.Done())
			// The caches, then the pod index: its handlers have seen
			// every pod of the first list.
			if cache.WaitForCacheSync(ctx.Done(), n.podsSynced...) && ctx.Err() == nil {
				n.cfg.Started()
			}
		}()
	}
	if err != nil {
		n.log.Warn("runtime sensor degraded", slog.String("node", n.cfg.Node), slog.Any("reason", err))
		n.setState(func(s *fleetapi.RuntimeSensorState) { s.Mode, s.Reason = "degraded", err.Error() })
		n.stateLoop(ctx, nil, nil)
		return nil
	}
	defer src.Close()
	done := make(chan struct{})
	go func() { defer close(done); n.stateLoop(ctx, src, p) }()
	if p.Observer != nil {
		wg.Add(1)
		go func() { defer wg.Done(); n.observeLoop(ctx, p.Observer) }()
	}
	runErr := src.Run(ctx, func(e rt.Event) {
		for _, fd := range p.Process(ctx, &e) {
			n.report(fd)
		}
	})
	if runErr != nil && ctx.Err() == nil {
		// The ring buffer failed: the sensor is blind from here on.
		n.setState(func(s *fleetapi.RuntimeSensorState) { s.Mode, s.Reason = "degraded", runErr.Error() })
		n.log.Error("runtime sensor stopped", slog.Any("error", runErr))
	}
	<-done
	return nil
}

func (n *Node) open(ctx context.Context) (Source, *rt.Pipeline, error) {
	root := n.cfg.CgroupRoot
	if root == "" {
		var err error
		if root, err = rt.CgroupV2Root(); err != nil {
			return nil, nil, err
		}
	}
	o := rt.Options{BTFPath: n.cfg.BTFPath, ConnectWindow: n.cfg.ConnectWindow, RingBytes: n.cfg.RingBytes}
	if n.cfg.ContainersOnly {
		var st syscall.Stat_t
		if err := syscall.Stat(root, &st); err != nil {
			return nil, nil, fmt.Errorf("cgroup root %s: %w", root, err)
		}
		o.SkipCgroupID = st.Ino
	}
	src, err := n.cfg.Open(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	d := &rt.Detector{Custom: n.custom}
	if n.intent != nil {
		d.Intent = n.intent.judge
		// With the UDP receive program, datagrams are judged on delivery;
		// a send's reply counts within the kernel's connect window (which
		// reports a send once per window) and a margin.
		d.UDPReceive = src.State().UDPReceiveHook != ""
		d.UDPReplyWindow = n.cfg.ConnectWindow + rt.DefaultUDPReplyWindow
		d.RecordsLost = func() uint64 { return src.State().Dropped }
	}
	if n.cfg.HostRoot != "" {
		d.Overlay = &rt.OverlayDrift{HostRoot: n.cfg.HostRoot}
	}
	if n.files != nil {
		d.Files = n.files
	}
	p := &rt.Pipeline{Resolver: rt.NewResolver(root, n.pods), Detector: d}
	if n.cfg.ObserveEvery > 0 {
		p.Observer = &rt.Observer{Peers: n.pods}
	}
	return src, p, nil
}

// report queues one finding's Event, unless the same finding was written
// within findingRepeat or the node is over its rate.
func (n *Node) report(f finding.Finding) {
	now := n.cfg.Now()
	key := findingDedupKey(&f)
	n.mu.Lock()
	if t, ok := n.dedup[key]; ok && now.Sub(t) < findingRepeat {
		n.mu.Unlock()
		return
	}
	if len(n.dedup) >= 8192 {
		for k, t := range n.dedup {
			if now.Sub(t) >= findingRepeat {
				delete(n.dedup, k)
			}
		}
		if len(n.dedup) >= 8192 {
			clear(n.dedup)
		}
	}
	n.dedup[key] = now
	n.mu.Unlock()
	if !n.limiter.AllowN(now, 1) {
		n.suppress.Add(1)
		return
	}
	ns := f.Object.Namespace
	involved := corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: ns, Name: f.Object.Name}
	if f.Object.Kind != "Pod" {
		ns, involved = n.cfg.Namespace, n.nodeRef()
	}
	rf := fleetapi.RuntimeFinding{ID: randomID(), Time: now.UTC(), F: f}
	if n.ledger != nil {
		n.ledger.add(key, rf)
	}
	rep := fleetapi.RuntimeReport{Node: n.cfg.Node, Findings: []fleetapi.RuntimeFinding{rf}}
	ev := n.kubeEvent(ns, involved, fleetapi.KubeEventReasonRuntimeFinding, corev1.EventTypeWarning, f.RuleID+": "+f.Message, &rep)
	select {
	case n.queue <- ev:
	default:
		n.suppress.Add(1)
	}
}

// findingDedupKey identifies identical findings: the same rule, object,
// container and message.
func findingDedupKey(f *finding.Finding) string {
	return f.RuleID + "\x00" + f.Object.Namespace + "/" + f.Object.Name + "\x00" + f.Container + "\x00" + f.Message
}

// stateLoop writes the sensor state when it changes (at most every
// StateEvery) and at least every 10 minutes.
func (n *Node) stateLoop(ctx context.Context, src Source, p *rt.Pipeline) {
	t := time.NewTicker(n.cfg.StateEvery)
	defer t.Stop()
	for {
		n.setState(func(s *fleetapi.RuntimeSensorState) {
			if src != nil {
				st := src.State()
				if s.Mode != "degraded" || s.Reason == "" {
					s.Mode, s.Reason = st.Mode, st.Reason
				}
				s.Events, s.Dropped, s.Malformed = st.Decoded, st.Dropped, st.Malformed
				s.SockStateHook, s.SockStateFallback = st.SockStateHook, st.SockStateFallback
				s.SyscallHook, s.SyscallFallback = st.SyscallHook, st.SyscallFallback
				s.UDPReceiveHook, s.UDPReceiveMissing = st.UDPReceiveHook, st.UDPReceiveMissing
			}
			if p != nil {
				s.Unattributed, s.Unchecked, s.CustomErrors = p.Resolver.Unknown(), p.Detector.UnverifiedCount(), p.Detector.CustomErrors()
				s.ExecsWithoutImageFiles = p.Detector.NoImageFiles()
				if p.Observer != nil {
					s.ObservationsDropped = p.Observer.Dropped() + n.obsDropped.Load()
				}
			}
			if n.intent != nil {
				st := n.intent.judge.Stats()
				s.IntentJudged, s.IntentDenied, s.IntentUndecided, s.IntentReason = st.Judged, st.Denied, st.Undecided, n.intent.reason(st.Reason)
				s.IntentPolicies = n.intent.policiesNote()
				if p != nil {
					s.IntentUDPNotJudged, s.IntentUDPUndecided = p.Detector.UDPNotJudged(), p.Detector.UDPUndecided()
				}
			}
		})
		n.maybeWriteState()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (n *Node) setState(fn func(*fleetapi.RuntimeSensorState)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state.Mode == "" {
		n.state.Mode = "ok"
	}
	fn(&n.state)
	n.state.Suppressed = n.suppress.Load() + n.writeFail.Load()
	if n.ledger != nil {
		n.state.LedgerErrors = n.ledger.failures.Load()
	}
	n.state.Since = n.since
}

// State is the sensor's current state (the pod's log and tests read it).
func (n *Node) State() fleetapi.RuntimeSensorState {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state
}

func (n *Node) maybeWriteState() {
	now := n.cfg.Now()
	n.mu.Lock()
	cur := n.state
	cur.UpdatedAt = time.Time{}
	same := cur == n.written
	if same && now.Sub(n.wroteAt) < 10*time.Minute {
		n.mu.Unlock()
		return
	}
	n.written, n.wroteAt = cur, now
	cur.UpdatedAt = now.UTC()
	n.mu.Unlock()
	typ, msg := corev1.EventTypeNormal, "runtime sensor ok"
	if gap := cur.Gap(); gap != "" {
		typ, msg = corev1.EventTypeWarning, "runtime sensor: "+gap
	}
	rep := fleetapi.RuntimeReport{Node: n.cfg.Node, Sensor: &cur}
	ev := n.kubeEvent(n.cfg.Namespace, n.nodeRef(), fleetapi.KubeEventReasonRuntimeState, typ, msg, &rep)
	// The state must not be lost behind a burst of findings: wait for room.
	n.queue <- ev
}

// nodeRef is what the Events about the node itself regard: the Node, with
// the runtime namespace, because the API server keeps an Event in its
// involved object's namespace and the agent may watch that one only.
func (n *Node) nodeRef() corev1.ObjectReference {
	return corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: n.cfg.Node, Namespace: n.cfg.Namespace}
}

func (n *Node) kubeEvent(ns string, involved corev1.ObjectReference, reason, typ, msg string, rep *fleetapi.RuntimeReport) *corev1.Event {
	raw, _ := json.Marshal(rep)
	if len(msg) > 1024 {
		msg = msg[:1024]
	}
	now := metav1.NewTime(n.cfg.Now())
	return &corev1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: "palisade-runtime." + randomID(), Namespace: ns, Annotations: map[string]string{fleetapi.KubeEventRuntimeAnnotation: string(raw)}},
		InvolvedObject:      involved,
		Reason:              reason,
		Message:             msg,
		Type:                typ,
		Source:              corev1.EventSource{Component: fleetapi.KubeEventRuntimeComponent, Host: n.cfg.Node},
		ReportingController: fleetapi.KubeEventRuntimeComponent,
		ReportingInstance:   n.cfg.Node,
		Action:              "Detect",
		FirstTimestamp:      now,
		LastTimestamp:       now,
		Count:               1,
	}
}

func (n *Node) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-n.queue:
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := n.cfg.Client.CoreV1().Events(ev.Namespace).Create(wctx, ev, metav1.CreateOptions{})
			cancel()
			if err != nil && ctx.Err() == nil {
				if m := n.writeFail.Add(1); m&(m-1) == 0 {
					n.log.Warn("runtime Event not written", slog.String("reason", ev.Reason), slog.Any("error", err), slog.Uint64("failed", m))
				}
			}
		}
	}
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// stripPodForRuntime keeps of a pod what podEntryOf and the policy model
// read, in a new object (so nothing of the decoded pod, or of the list
// page it came in, stays reachable): name, namespace, UID, labels and
// owners; the node, host network and the users the pod and each
// container ask to run as; each container's name, image, ports and
// restart policy; the addresses; and each container status's name,
// container ID and image ID. Environment, volumes, probes, resources,
// annotations and managed fields, most of a pod's size, are dropped.
func stripPodForRuntime(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	runAs := func(sc *corev1.SecurityContext) *corev1.SecurityContext {
		if sc == nil || sc.RunAsNonRoot == nil && sc.RunAsUser == nil {
			return nil
		}
		return &corev1.SecurityContext{RunAsNonRoot: sc.RunAsNonRoot, RunAsUser: sc.RunAsUser}
	}
	containers := func(in []corev1.Container) []corev1.Container {
		out := make([]corev1.Container, 0, len(in))
		for _, c := range in {
			out = append(out, corev1.Container{Name: c.Name, Image: c.Image, Ports: c.Ports, RestartPolicy: c.RestartPolicy, SecurityContext: runAs(c.SecurityContext)})
		}
		return out
	}
	var ephemeral []corev1.EphemeralContainer
	for _, c := range p.Spec.EphemeralContainers {
		ephemeral = append(ephemeral, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: c.Name, Image: c.Image, SecurityContext: runAs(c.SecurityContext)}})
	}
	var podSC *corev1.PodSecurityContext
	if sc := p.Spec.SecurityContext; sc != nil && (sc.RunAsNonRoot != nil || sc.RunAsUser != nil) {
		podSC = &corev1.PodSecurityContext{RunAsNonRoot: sc.RunAsNonRoot, RunAsUser: sc.RunAsUser}
	}
	keep := func(in []corev1.ContainerStatus) []corev1.ContainerStatus {
		out := make([]corev1.ContainerStatus, 0, len(in))
		for _, cs := range in {
			out = append(out, corev1.ContainerStatus{Name: cs.Name, ContainerID: cs.ContainerID, ImageID: cs.ImageID})
		}
		return out
	}
	return &corev1.Pod{
		TypeMeta: p.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion,
			Labels: p.Labels, OwnerReferences: p.OwnerReferences},
		Spec: corev1.PodSpec{NodeName: p.Spec.NodeName, HostNetwork: p.Spec.HostNetwork, SecurityContext: podSC,
			Containers: containers(p.Spec.Containers), InitContainers: containers(p.Spec.InitContainers), EphemeralContainers: ephemeral},
		Status: corev1.PodStatus{PodIPs: p.Status.PodIPs, InitContainerStatuses: keep(p.Status.InitContainerStatuses), ContainerStatuses: keep(p.Status.ContainerStatuses),
			EphemeralContainerStatuses: keep(p.Status.EphemeralContainerStatuses)},
	}, nil
}
