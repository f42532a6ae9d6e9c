package runtimenode

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/palisade-sec/palisade/internal/testenv"
)

// nodeRequests records the query of every request for the Nodes
// collection.
type nodeRequests struct {
	mu      sync.Mutex
	queries []url.Values
	next    http.RoundTripper
}

func (r *nodeRequests) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path == "/api/v1/nodes" {
		r.mu.Lock()
		r.queries = append(r.queries, req.URL.Query())
		r.mu.Unlock()
	}
	return r.next.RoundTrip(req)
}

func (r *nodeRequests) seen() []url.Values {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.queries)
}

// TestNodeInformerPages runs the sensor's Node informer (newNodeInformer,
// pages of 10) against the real API server holding 35 Nodes of this test
// (each with 40 images, as the kubelet writes them), streamed as the
// server offers and, through a client that cannot stream, listed: either
// way the cache must hold every one of them, stripped to name, labels and
// addresses, and a Node created afterwards must arrive by the watch.
// Listed, the Nodes must come in pages of 10 (the whole list is never
// decoded at once); streamed, no list request is made at all.
func TestNodeInformerPages(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	admin := env.AdminClient(t)
	// A namespace only for a unique name: Nodes are cluster-scoped.
	run := env.CreateNamespace(ctx, t, "", nil).Name
	const count, page = 35, 10
	images := make([]corev1.ContainerImage, 40)
	for i := range images {
		images[i] = corev1.ContainerImage{Names: []string{fmt.Sprintf("registry.example/app-%d@sha256:%064d", i, i)}, SizeBytes: 1 << 20}
	}
	create := func(name string, i int) {
		createNode(ctx, t, admin, name, map[string]string{"palisade-test": run, "i": fmt.Sprint(i)},
			corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("172.30.%d.%d", i/250, i%250+1)})
		n, err := admin.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n.Status.Images = images
		if _, err := admin.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range count {
		create(fmt.Sprintf("pg-%s-%02d", run, i), i)
	}

	for _, tc := range []struct {
		name   string
		stream bool
	}{{"streamed", true}, {"listed in pages", false}} {
		t.Run(tc.name, func(t *testing.T) {
			reqs := &nodeRequests{}
			cfg := rest.CopyConfig(env.Config)
			cfg.Wrap(func(next http.RoundTripper) http.RoundTripper { reqs.next = next; return reqs })
			var client kubernetes.Interface = testenv.NewClient(t, cfg)
			if !tc.stream {
				client = testenv.NoWatchList{Interface: client}
			}
			inf, err := newNodeInformer(client, page)
			if err != nil {
				t.Fatal(err)
			}
			runCtx, stop := context.WithCancel(ctx)
			defer stop()
			go inf.RunWithContext(runCtx)
			if !cache.WaitForCacheSync(runCtx.Done(), inf.HasSynced) {
				t.Fatalf("the Node informer never synced: requests %v", reqs.seen())
			}
			ours := func() map[string]*corev1.Node {
				out := map[string]*corev1.Node{}
				for _, o := range inf.GetStore().List() {
					if n := o.(*corev1.Node); n.Labels["palisade-test"] == run {
						out[n.Name] = n
					}
				}
				return out
			}
			got := ours()
			// The Node the other subtest created after its list counts too.
			maps.DeleteFunc(got, func(name string, _ *corev1.Node) bool { return strings.Contains(name, "-late-") })
			if len(got) != count {
				t.Fatalf("%d of the %d Nodes cached", len(got), count)
			}
			for name, n := range got {
				if len(n.Status.Images) != 0 || len(n.ManagedFields) != 0 || len(n.Status.Addresses) != 1 || n.Labels["i"] == "" {
					t.Fatalf("Node %s cached as %+v: want only name, labels and addresses", name, n)
				}
			}
			var lists, streams int
			for _, q := range reqs.seen() {
				switch {
				case q.Get("watch") == "true" && q.Get("sendInitialEvents") == "true":
					streams++
				case q.Get("watch") == "":
					lists++
					if q.Get("limit") != fmt.Sprint(page) {
						t.Errorf("list request %v: want limit=%d", q, page)
					}
				}
			}
			// Other tests' Nodes may be listed too: at least one page more.
			if tc.stream && (streams == 0 || lists != 0) || !tc.stream && (streams != 0 || lists < count/page+1) {
				t.Errorf("%d streamed lists, %d list requests (%v): want streamed %v, or pages of %d", streams, lists, reqs.seen(), tc.stream, page)
			}

			late := fmt.Sprintf("pg-%s-late-%v", run, tc.stream)
			create(late, count)
			if err := testenv.WaitFor(ctx, func(context.Context) (bool, error) { _, ok := ours()[late]; return ok, nil }); err != nil {
				t.Fatalf("Node %s created after the list never arrived: %v", late, err)
			}
		})
	}
}

// TestPodInformerPages runs the sensor's pod informer (newPodInformer,
// pages of 10, stripped for the runtime) against the real API server
// holding 35 pods of this test with container statuses, cluster-wide:
// streamed as the server offers; listed in pages through a client that
// cannot stream; and listed in pages with the first continued request
// spoiled (testenv.ListRequests: answered 410 Expired, or sent with a forged token
// the server answers at another version), which must fail that list and
// make the reflector list again from the start. Every way, each of the
// pods must reach the handler exactly once (added, never deleted or
// added again) and be cached stripped, and a pod created afterwards must
// arrive by the watch.
func TestPodInformerPages(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	admin := env.AdminClient(t)
	ns := env.CreateNamespace(ctx, t, "", nil).Name
	const count, page = 35, 10
	create := func(name string, i int) {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"i": fmt.Sprint(i)}},
			Spec: corev1.PodSpec{NodeName: "node-" + ns, Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}},
			Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
				ContainerStatuses: []corev1.ContainerStatus{{Name: "app", ContainerID: fmt.Sprintf("containerd://%064d", i), Image: "registry.example/app:1",
					ImageID: "registry.example/app@sha256:" + strings.Repeat("a", 64), Ready: true}}}}
		createRunningPod(ctx, t, admin, pod, fmt.Sprintf("10.%d.%d.%d", 200+i/60000, i/250%250, i%250+1), "192.0.2.1")
	}
	for i := range count {
		create(fmt.Sprintf("p%02d", i), i)
	}

	for run, tc := range []struct {
		name   string
		stream bool
		spoil  string // testenv.ListRequests.Spoil
	}{{"streamed", true, ""}, {"listed in pages", false, ""}, {"listed, continue token expired", false, "gone"}, {"listed, continued at another version", false, "forged"}} {
		t.Run(tc.name, func(t *testing.T) {
			reqs := &testenv.ListRequests{Path: "/api/v1/pods", Spoil: tc.spoil}
			cfg := rest.CopyConfig(env.Config)
			cfg.Wrap(func(next http.RoundTripper) http.RoundTripper { reqs.Next = next; return reqs })
			var client kubernetes.Interface = testenv.NewClient(t, cfg)
			if !tc.stream {
				client = testenv.NoWatchList{Interface: client}
			}
			inf, err := newPodInformer(client, page, stripPodForRuntime, nil)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			adds, dels := map[string]int{}, map[string]int{}
			ours := func(obj any) (string, bool) {
				if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					obj = d.Obj
				}
				if p, ok := obj.(*corev1.Pod); ok && p.Namespace == ns {
					return p.Name, true
				}
				return "", false
			}
			if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
				AddFunc: func(obj any) {
					if name, ok := ours(obj); ok {
						mu.Lock()
						adds[name]++
						mu.Unlock()
					}
				},
				DeleteFunc: func(obj any) {
					if name, ok := ours(obj); ok {
						mu.Lock()
						dels[name]++
						mu.Unlock()
					}
				},
			}); err != nil {
				t.Fatal(err)
			}
			runCtx, stop := context.WithCancel(ctx)
			defer stop()
			go inf.RunWithContext(runCtx)
			if !cache.WaitForCacheSync(runCtx.Done(), inf.HasSynced) {
				q, codes := reqs.Seen()
				t.Fatalf("the pod informer never synced: requests %v, answers %v", q, codes)
			}
			var cached int
			for _, o := range inf.GetStore().List() {
				p := o.(*corev1.Pod)
				if p.Namespace != ns || strings.Contains(p.Name, "late") {
					continue
				}
				cached++
				if len(p.ManagedFields) != 0 || len(p.Status.Conditions) != 0 || p.Status.HostIP != "" || len(p.Status.ContainerStatuses) != 1 || p.Status.ContainerStatuses[0].ContainerID == "" || len(p.Status.PodIPs) != 1 {
					t.Fatalf("pod %s cached as %+v: want it stripped for the runtime", p.Name, p)
				}
			}
			if cached != count {
				q, codes := reqs.Seen()
				t.Fatalf("%d of the %d pods cached (requests %v, answers %v)", cached, count, q, codes)
			}
			mu.Lock()
			for i := range count {
				if name := fmt.Sprintf("p%02d", i); adds[name] != 1 || dels[name] != 0 {
					t.Errorf("pod %s added %d times, deleted %d: want added once", name, adds[name], dels[name])
				}
			}
			mu.Unlock()
			// Other tests' pods may be listed too: at least one page more.
			reqs.CheckPages(t, tc.stream, page, count/page+1)

			late := fmt.Sprintf("late-%d", run)
			create(late, count+run)
			if err := testenv.WaitFor(ctx, func(context.Context) (bool, error) {
				mu.Lock()
				defer mu.Unlock()
				return adds[late] == 1, nil
			}); err != nil {
				t.Fatalf("pod %s created after the list never arrived: %v", late, err)
			}
		})
	}
}
