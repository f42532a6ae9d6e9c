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

// noWatchList is a client that says it cannot stream initial lists, as
// one of an API server without WatchList: the informer lists instead.
type noWatchList struct{ kubernetes.Interface }

func (noWatchList) IsWatchListSemanticsUnSupported() bool { return true }

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
				client = noWatchList{client}
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
