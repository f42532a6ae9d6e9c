package agent

import (
	"context"
	"fmt"
	"net/http"
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

// TestWatcherPodsPaged runs the agent's informers (newWatcher, pods
// listed 100 at a time) in a namespace of the real API server holding
// 1,000 pods, the first ten with container statuses: streamed as the
// server offers; listed in pages through a client that cannot stream;
// and listed with the first continued request spoiled (answered 410
// Expired, or sent with a forged token the server answers at another
// version: testenv.ListRequests), which must fail that list and make
// the reflector list again from the start. Every way, each pod must
// reach the agent's handlers exactly once (added, never deleted or added
// again), be cached stripped (no managed fields, a status of image IDs
// only), be listed by the watcher, and a pod created afterwards must
// arrive by the watch. Listed, every request must ask for a page of 100
// (client-go's pager asks the watch cache for everything at once).
func TestWatcherPodsPaged(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	admin := env.AdminClient(t)
	ns := env.CreateNamespace(ctx, t, "", nil).Name
	const count, page, withStatus = 1000, 100, 10
	create := func(name string, i int) error {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"i": fmt.Sprint(i)}},
			Spec: corev1.PodSpec{NodeName: "node-" + ns, Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}}}
		created, err := admin.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil || i >= withStatus {
			return err
		}
		created.Status = corev1.PodStatus{Phase: corev1.PodRunning, HostIP: "192.0.2.1", PodIP: fmt.Sprintf("10.1.0.%d", i+1),
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", ContainerID: fmt.Sprintf("containerd://%064d", i), Image: "registry.example/app:1",
				ImageID: "registry.example/app@sha256:" + strings.Repeat("a", 64), Ready: true}}}
		_, err = admin.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{})
		return err
	}
	// Eight at a time: the machine is shared.
	work := make(chan int)
	errs := make(chan error, count)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range work {
				if err := create(fmt.Sprintf("p%04d", i), i); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range count {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	for run, tc := range []struct {
		name   string
		stream bool
		spoil  string // testenv.ListRequests.Spoil
	}{{"streamed", true, ""}, {"listed in pages", false, ""}, {"listed, continue token expired", false, "gone"}, {"listed, continued at another version", false, "forged"}} {
		t.Run(tc.name, func(t *testing.T) {
			reqs := &testenv.ListRequests{Path: "/api/v1/namespaces/" + ns + "/pods", Spoil: tc.spoil}
			cfg := rest.CopyConfig(env.Config)
			cfg.Wrap(func(next http.RoundTripper) http.RoundTripper { reqs.Next = next; return reqs })
			var client kubernetes.Interface = testenv.NewClient(t, cfg)
			if !tc.stream {
				client = testenv.NoWatchList{Interface: client}
			}
			w, err := newWatcher(client, ns, 0, page)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			adds, dels := map[string]int{}, map[string]int{}
			pod := func(obj any) *corev1.Pod {
				if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					obj = d.Obj
				}
				p, _ := obj.(*corev1.Pod)
				return p
			}
			reg, err := w.factory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
				AddFunc:    func(obj any) { mu.Lock(); adds[pod(obj).Name]++; mu.Unlock() },
				DeleteFunc: func(obj any) { mu.Lock(); dels[pod(obj).Name]++; mu.Unlock() },
			})
			if err != nil {
				t.Fatal(err)
			}
			runCtx, stop := context.WithCancel(ctx)
			defer stop()
			if err := w.start(runCtx); err != nil {
				q, codes := reqs.Seen()
				t.Fatalf("%v: requests %v, answers %v", err, q, codes)
			}
			// Pods created late by the subtests before are not counted.
			cached := slices.DeleteFunc(w.pods(), func(p *corev1.Pod) bool { return strings.HasPrefix(p.Name, "late-") })
			if len(cached) != count {
				q, codes := reqs.Seen()
				t.Fatalf("%d of the %d pods cached (requests %v, answers %v)", len(cached), count, q, codes)
			}
			for _, p := range cached {
				var i int
				if _, err := fmt.Sscanf(p.Name, "p%04d", &i); err != nil {
					t.Fatalf("pod %s cached: not one of this test's", p.Name)
				}
				wantStatuses := 0
				if i < withStatus {
					wantStatuses = 1
				}
				if len(p.ManagedFields) != 0 || p.Status.Phase != "" || len(p.Status.Conditions) != 0 || p.Status.PodIP != "" || len(p.Status.ContainerStatuses) != wantStatuses ||
					wantStatuses == 1 && (p.Status.ContainerStatuses[0].ImageID == "" || p.Status.ContainerStatuses[0].ContainerID != "") {
					t.Fatalf("pod %s cached as %+v: want it stripped to its containers' image IDs", p.Name, p)
				}
			}
			// The informer's store syncs before its handlers have been
			// told of every object: wait for this handler's own sync.
			if !cache.WaitForCacheSync(runCtx.Done(), reg.HasSynced) {
				t.Fatal("the handler never saw the initial list")
			}
			mu.Lock()
			for i := range count {
				if name := fmt.Sprintf("p%04d", i); adds[name] != 1 || dels[name] != 0 {
					t.Errorf("pod %s added %d times, deleted %d: want added once", name, adds[name], dels[name])
				}
			}
			mu.Unlock()
			reqs.CheckPages(t, tc.stream, page, count/page)

			late := fmt.Sprintf("late-%d", run)
			if err := create(late, count+run); err != nil {
				t.Fatal(err)
			}
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
