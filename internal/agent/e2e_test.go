package agent_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sort"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/palisade-sec/palisade/internal/agent"
	"github.com/palisade-sec/palisade/internal/cluster"
	"github.com/palisade-sec/palisade/internal/hub"
	"github.com/palisade-sec/palisade/internal/hub/store"
	"github.com/palisade-sec/palisade/internal/rules"
	"github.com/palisade-sec/palisade/internal/scan"
	"github.com/palisade-sec/palisade/internal/testenv"
)

func TestMain(m *testing.M) {
	runFaultHubChild() // faults_test.go: the test binary as a hub process
	testenv.Main(m)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// hubProc is a hub that can be stopped and started again on the same
// address with the same database, like a restarted hub process.
type hubProc struct {
	t      *testing.T
	st     store.Store
	keys   hub.KeyFiles // the restarted hub's keys are the same files
	addr   string
	cancel context.CancelFunc
	done   chan struct{}
	h      *hub.Hub
}

func newHubProc(t *testing.T) *hubProc {
	dir := t.TempDir()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	p := &hubProc{t: t, st: st, keys: hub.KeyFiles{CAKey: filepath.Join(dir, "keys", "ca.key"), BundleKey: filepath.Join(dir, "keys", "bundle-signing.key")}}
	p.start()
	t.Cleanup(func() { p.stop(); st.Close() })
	return p
}

func (p *hubProc) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h, err := hub.New(ctx, hub.Config{Store: p.st, Keys: p.keys, Logger: quietLog(), Hosts: []string{"127.0.0.1"}, StaleAfter: 3 * time.Second, OfflineAfter: 10 * time.Second})
	if err != nil {
		p.t.Fatal(err)
	}
	addr := p.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	for i := 0; ; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil || i == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatal(err)
	}
	p.addr, p.h, p.cancel, p.done = ln.Addr().String(), h, cancel, make(chan struct{})
	go func() { _ = h.Serve(ctx, ln); close(p.done) }()
}

func (p *hubProc) stop() {
	if p.cancel != nil {
		p.cancel()
		<-p.done
		p.cancel = nil
	}
}

func (p *hubProc) url() string { return "https://" + p.addr }

// startAgent runs an agent for namespace ns; opts adjust its configuration.
func startAgent(t *testing.T, ctx context.Context, p *hubProc, client kubernetes.Interface, ns, token, stateDir string, opts ...func(*agent.Config)) (*agent.Agent, context.CancelFunc) {
	t.Helper()
	cfg := agent.Config{HubURL: p.url(), Token: token, CAFingerprint: p.h.CAFingerprint(), StateDir: stateDir,
		Client: client, Namespace: ns, Debounce: 200 * time.Millisecond, MaxDelay: time.Second, HeartbeatInterval: 500 * time.Millisecond,
		Logger: quietLog()}
	for _, o := range opts {
		o(&cfg)
	}
	a, err := agent.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	actx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = a.Run(actx); close(done) }()
	stop := func() { cancel(); <-done; a.Close() }
	return a, stop
}

func insecureDeployment(ns, name string) *appsv1.Deployment {
	priv := true
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:latest",
					SecurityContext: &corev1.SecurityContext{Privileged: &priv}}}},
			},
		},
	}
}

// expected computes, with a one-shot scan of the namespace, the finding
// keys of each Deployment: what the hub must hold, each exactly once.
func expected(t *testing.T, ctx context.Context, client kubernetes.Interface, ns string) map[string][]string {
	set, err := rules.Default() // what the agent runs by default
	if err != nil {
		t.Fatal(err)
	}
	rep, _, err := scan.Cluster(ctx, client, cluster.ReadOptions{Namespace: ns}, scan.Options{Rules: set})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for i := range rep.Findings {
		f := &rep.Findings[i]
		if f.Object.Kind == "Deployment" && f.Object.Namespace == ns {
			out[f.Object.Name] = append(out[f.Object.Name], store.FindingKey(f))
		}
	}
	for k := range out {
		sort.Strings(out[k])
	}
	return out
}

func onHub(t *testing.T, ctx context.Context, st store.Store, clusterID, ns string) map[string][]string {
	fs, err := st.ListFindings(ctx, store.FindingQuery{ClusterID: clusterID, Namespace: ns, Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for i := range fs {
		f := &fs[i].Finding
		if f.Object.Kind == "Deployment" {
			out[f.Object.Name] = append(out[f.Object.Name], store.FindingKey(f))
		}
	}
	for k := range out {
		sort.Strings(out[k])
	}
	return out
}

func equal(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if fmt.Sprint(v) != fmt.Sprint(b[k]) {
			return false
		}
	}
	return true
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFleetEndToEnd registers two clusters (two agents, each watching its
// own namespace of a real API server), creates workloads, sees their
// findings on the hub, stops the hub while findings keep arriving,
// restarts it, and checks that every finding is there exactly once; then
// restarts an agent and checks again.
func TestFleetEndToEnd(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	client := env.AdminClient(t)
	p := newHubProc(t)

	type edge struct {
		name, ns, state string
		a               *agent.Agent
		stop            func()
	}
	edges := []*edge{{name: "edge-a"}, {name: "edge-b"}}
	for _, e := range edges {
		e.ns = env.CreateNamespace(ctx, t, "", nil).Name
		tok, _, err := p.h.CreateBootstrapToken(ctx, e.name, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		e.state = t.TempDir()
		var stop context.CancelFunc
		e.a, stop = startAgent(t, ctx, p, client, e.ns, tok, e.state)
		e.stop = stop
		defer func() { e.stop() }()
		for i := range 3 {
			if _, err := client.AppsV1().Deployments(e.ns).Create(ctx, insecureDeployment(e.ns, fmt.Sprintf("web-%d", i)), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, e := range edges {
		want := expected(t, ctx, client, e.ns)
		if len(want) != 3 {
			t.Fatalf("%s: expected findings on 3 deployments, got %v", e.name, want)
		}
		waitFor(t, e.name+" findings on the hub", time.Minute, func() bool { return equal(onHub(t, ctx, p.st, e.a.ClusterID(), e.ns), want) })
		// The other cluster's data never lands here.
		for _, o := range edges {
			if o != e {
				if got := onHub(t, ctx, p.st, e.a.ClusterID(), o.ns); len(got) != 0 {
					t.Fatalf("%s holds %s's findings: %v", e.name, o.name, got)
				}
			}
		}
	}
	waitFor(t, "clusters online", time.Minute, func() bool {
		cs, _ := p.st.ListClusters(ctx)
		online := 0
		for _, c := range cs {
			if c.State(time.Now(), 3*time.Second, 10*time.Second) == "online" && c.Inventory != nil && c.KubernetesVersion != "" {
				online++
			}
		}
		return online == 2
	})

	// Hub outage: findings keep arriving and queue in the outbox.
	a := edges[0]
	p.stop()
	for i := 3; i < 6; i++ {
		if _, err := client.AppsV1().Deployments(a.ns).Create(ctx, insecureDeployment(a.ns, fmt.Sprintf("web-%d", i)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.AppsV1().Deployments(a.ns).Delete(ctx, "web-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reports queued while the hub is down", 30*time.Second, func() bool { return a.a.OutboxStats().Pending > 0 && !a.a.Online() })
	time.Sleep(1500 * time.Millisecond) // let the last change be evaluated and queued too
	p.start()
	want := expected(t, ctx, client, a.ns)
	if len(want) != 5 {
		t.Fatalf("expected 5 deployments with findings, got %d", len(want))
	}
	waitFor(t, "outbox drained after the hub restart", time.Minute, func() bool { return a.a.OutboxStats().Pending == 0 })
	waitFor(t, "every finding exactly once", 30*time.Second, func() bool { return equal(onHub(t, ctx, p.st, a.a.ClusterID(), a.ns), want) })
	if st := a.a.OutboxStats(); st.Dropped != 0 {
		t.Fatalf("outbox dropped %d reports", st.Dropped)
	}

	// Agent restart: the saved identity is used (no token) and its full
	// snapshot leaves the hub with the same findings, still once each.
	a.stop()
	if err := client.AppsV1().Deployments(a.ns).Delete(ctx, "web-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	a.a, a.stop = startAgent(t, ctx, p, client, a.ns, "", a.state)
	want = expected(t, ctx, client, a.ns)
	waitFor(t, "findings after the agent restart", time.Minute, func() bool { return equal(onHub(t, ctx, p.st, a.a.ClusterID(), a.ns), want) })
	total, err := p.st.CountFindings(ctx, store.FindingQuery{ClusterID: a.a.ClusterID(), Namespace: a.ns})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range want {
		n += len(v)
	}
	if total < n {
		t.Fatalf("hub holds %d findings in %s, want at least the %d of its deployments", total, a.ns, n)
	}
}
