package hubbench

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/agent"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
	"github.com/palisade-sec/palisade/internal/testenv"
)

// shapeStore records the shape of every report the hub applies: what
// bench/cmd/hubload reproduces.
type shapeStore struct {
	store.Store
	mu   sync.Mutex
	seen []reportShape
}

type reportShape struct {
	kind                    string
	full                    bool
	objects, deleted, finds int
	jsonBytes, gzipBytes    int
}

func (s *shapeStore) IngestBatch(ctx context.Context, agentID string, envs []*fleetapi.Envelope, now time.Time) ([]bool, error) {
	s.mu.Lock()
	for _, env := range envs {
		js, _ := json.Marshal(env)
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed) // the agent's outbox level
		_, _ = zw.Write(js)
		_ = zw.Close()
		r := reportShape{kind: env.Kind, jsonBytes: len(js), gzipBytes: z.Len()}
		if d := env.Findings; d != nil {
			r.full, r.objects, r.deleted = d.Full, len(d.Objects), len(d.Deleted)
			for _, o := range d.Objects {
				r.finds += len(o.Findings)
			}
		}
		s.seen = append(s.seen, r)
	}
	s.mu.Unlock()
	return s.Store.IngestBatch(ctx, agentID, envs, now)
}

func (s *shapeStore) Ingest(ctx context.Context, agentID string, env *fleetapi.Envelope, now time.Time) (bool, error) {
	a, err := s.IngestBatch(ctx, agentID, []*fleetapi.Envelope{env}, now)
	if err != nil {
		return false, err
	}
	return a[0], nil
}

func (s *shapeStore) snapshot() []reportShape {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]reportShape(nil), s.seen...)
}

// shapePod is pod i of the measurement: four kinds of pod spec, as a
// fleet mixes hardened and careless workloads (a bare pod, one with
// resources, a hardened one, a privileged one with host mounts).
func shapePod(ns string, i int) *corev1.Pod {
	c := corev1.Container{Name: "app", Image: fmt.Sprintf("registry.example.com/app-%d:1.0", i%50)}
	spec := corev1.PodSpec{Containers: []corev1.Container{c}}
	t, f := true, false
	switch i % 4 {
	case 1:
		spec.Containers[0].Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{}, Requests: corev1.ResourceList{}}
		spec.Containers = append(spec.Containers, corev1.Container{Name: "sidecar", Image: "registry.example.com/proxy:2"})
	case 2:
		spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsNonRoot: &t, ReadOnlyRootFilesystem: &t, AllowPrivilegeEscalation: &f,
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}, SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	case 3:
		spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: &t}
		spec.HostNetwork = true
		spec.Volumes = []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/run"}}}}
		spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "host", MountPath: "/host"}}
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%d", i), Namespace: ns, Labels: map[string]string{"app": "bench"}}, Spec: spec}
}

// TestAgentReportShapes runs the agent's code (in this process) against a
// real kube-apiserver with 1,000 pods, then churns pods (deletions and
// creations, as rollouts do), and logs the size and item count of every
// report the hub receives: the distribution bench/cmd/hubload draws its
// reports from (bench/hub/README.md).
func TestAgentReportShapes(t *testing.T) {
	benchEnabled(t)
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	client := env.AdminClient(t)
	nPods := envInt("PALISADE_BENCH_AGENT_PODS", 1000)
	nss := make([]string, 10)
	for i := range nss {
		nss[i] = env.CreateNamespace(ctx, t, "", nil).Name
	}
	create := func(from, to int) {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for i := from; i < to; i++ {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				ns := nss[i%len(nss)]
				if _, err := client.CoreV1().Pods(ns).Create(ctx, shapePod(ns, i), metav1.CreateOptions{}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	create(0, nPods)
	dir := t.TempDir()
	base, err := store.OpenSQLite(ctx, filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	st := &shapeStore{Store: base}
	h, url := startHub(t, st)
	tok, c, err := h.CreateBootstrapToken(ctx, "shape", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ag, err := agent.New(ctx, agent.Config{HubURL: url, Token: tok, CAFingerprint: h.CAFingerprint(), StateDir: filepath.Join(dir, "state"),
		Client: client, Debounce: 500 * time.Millisecond, MaxDelay: 2 * time.Second, HeartbeatInterval: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer ag.Close()
	actx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = ag.Run(actx) }()
	waitDrained := func(what string) {
		deadline := time.Now().Add(3 * time.Minute)
		for {
			time.Sleep(3 * time.Second) // the debounce, the evaluation, the send
			if ag.OutboxStats().Pending == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: outbox not drained", what)
			}
		}
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		cl, _ := st.GetCluster(ctx, c.ID)
		if cl.Inventory != nil && cl.Inventory.Pods >= nPods && ag.OutboxStats().Pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("agent did not report the pods")
		}
		time.Sleep(time.Second)
	}
	waitDrained("first report")
	first := len(st.snapshot())
	// Churn: rounds of a rollout-like change (k pods deleted, k created).
	next := nPods
	for round, k := range []int{1, 2, 5, 5, 10, 20} {
		for i := range k {
			p := round*37 + i*3
			ns := nss[p%len(nss)]
			if err := client.CoreV1().Pods(ns).Delete(ctx, fmt.Sprintf("pod-%d", p), metav1.DeleteOptions{}); err != nil {
				t.Error(err)
			}
		}
		create(next, next+k)
		next += k
		waitDrained(fmt.Sprintf("churn round %d", round))
	}
	shapes := st.snapshot()
	total, _ := st.CountFindings(ctx, store.FindingQuery{ClusterID: c.ID})
	t.Logf("%d pods: %d findings on the hub; %d reports for the first evaluation, %d during churn", nPods, total, first, len(shapes)-first)
	for i, r := range shapes {
		phase := "first"
		if i >= first {
			phase = "churn"
		}
		t.Logf("%s %-10s full=%-5v objects=%4d deleted=%3d findings=%5d json=%8d gzip=%7d", phase, r.kind, r.full, r.objects, r.deleted, r.finds, r.jsonBytes, r.gzipBytes)
	}
	var deltas []reportShape
	for _, r := range shapes[first:] {
		if r.kind == fleetapi.KindFindings && !r.full {
			deltas = append(deltas, r)
		}
	}
	sort.Slice(deltas, func(i, j int) bool { return deltas[i].finds < deltas[j].finds })
	if len(deltas) > 0 {
		m := deltas[len(deltas)/2]
		t.Logf("findings deltas during churn: %d, median %d objects %d deleted %d findings %d B json %d B gzip", len(deltas), m.objects, m.deleted, m.finds, m.jsonBytes, m.gzipBytes)
	}
}
