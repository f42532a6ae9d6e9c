package bench

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/palisade-sec/palisade/internal/cluster"
	"github.com/palisade-sec/palisade/internal/rules"
	"github.com/palisade-sec/palisade/internal/scan"
	"github.com/palisade-sec/palisade/internal/testenv"
)

const clusterWorkloads = 5000

var populateOnce sync.Once

// populate creates 5,000 workload objects in 50 namespaces on the shared
// control plane: Deployments, StatefulSets, DaemonSets, Jobs, CronJobs and
// bare Pods, with two containers each.
func populate(b *testing.B, env *testenv.Env) {
	populateOnce.Do(func() {
		ctx := context.Background()
		c := env.AdminClient(b)
		for n := range 50 {
			env.CreateNamespace(ctx, b, fmt.Sprintf("bench-%d", n), nil)
		}
		sem := make(chan struct{}, 16)
		var wg sync.WaitGroup
		var failed atomic.Value
		for i := range clusterWorkloads {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				if err := createWorkload(ctx, c, i); err != nil {
					failed.Store(err)
				}
			}()
		}
		wg.Wait()
		if err, ok := failed.Load().(error); ok {
			b.Fatalf("populate: %v", err)
		}
	})
}

func createWorkload(ctx context.Context, c kubernetes.Interface, i int) error {
	ns := fmt.Sprintf("bench-%d", i%50)
	name := fmt.Sprintf("w-%d", i)
	labels := map[string]string{"app": name}
	spec := corev1.PodSpec{RestartPolicy: corev1.RestartPolicyAlways, Containers: []corev1.Container{
		{Name: "app", Image: "registry.example.com/app:1.2.3", Env: []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "info"}}},
		{Name: "sidecar", Image: "nginx:latest"},
	}}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}
	sel := &metav1.LabelSelector{MatchLabels: labels}
	meta := metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}
	var err error
	switch i % 6 {
	case 0, 1:
		_, err = c.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Selector: sel, Template: tmpl}}, metav1.CreateOptions{})
	case 2:
		_, err = c.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Selector: sel, Template: tmpl, ServiceName: name}}, metav1.CreateOptions{})
	case 3:
		_, err = c.AppsV1().DaemonSets(ns).Create(ctx, &appsv1.DaemonSet{ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Selector: sel, Template: tmpl}}, metav1.CreateOptions{})
	case 4:
		tmpl.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		_, err = c.BatchV1().CronJobs(ns).Create(ctx, &batchv1.CronJob{ObjectMeta: meta, Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}}}, metav1.CreateOptions{})
	default:
		_, err = c.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: meta, Spec: spec}, metav1.CreateOptions{})
	}
	return err
}

// countingTransport counts the HTTP requests a scan makes.
type countingTransport struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.next.RoundTrip(r)
}

// BenchmarkScanCluster5k scans a real API server holding 5,000 workload
// objects in-process, reporting API requests per scan (no per-object GETs).
func BenchmarkScanCluster5k(b *testing.B) {
	env := testenv.Shared(b)
	populate(b, env)
	set, err := rules.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	var requests atomic.Int64
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 50, 100
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countingTransport{next: rt, n: &requests} })
	c, err := cluster.NewClient(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		requests.Store(0)
		r, _, err := scan.Cluster(context.Background(), c, cluster.ReadOptions{}, scan.Options{Rules: set})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(requests.Load()), "requests")
		b.ReportMetric(float64(r.Summary.Objects), "objects")
	}
}

// BenchmarkScanClusterCLI5k runs the palisade binary against the same
// cluster and reports its peak RSS, as a user would see it.
func BenchmarkScanClusterCLI5k(b *testing.B) {
	env := testenv.Shared(b)
	populate(b, env)
	bin := filepath.Join(b.TempDir(), "palisade")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/palisade").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	kubeconfig := env.KubeconfigFor(b, env.Config)
	b.ResetTimer()
	for b.Loop() {
		cmd := exec.Command(bin, "scan", "cluster", "--kubeconfig", kubeconfig, "-o", "json", "--fail-on", "none", "-q")
		if out, err := cmd.Output(); err != nil {
			b.Fatalf("scan cluster: %v (%d bytes of output)", err, len(out))
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
	}
}
