package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/bench/internal/procstatus"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/testenv"
)

// BenchmarkRuntimeNodeRSS measures the resident memory of the runtime
// DaemonSet's process (`palisade-runtime`, built as releases are:
// CGO_ENABLED=0 with the kustomize tag; or PALISADE_AGENT_BIN, a list of
// binaries separated by spaces, e.g. a copy of `palisade-agent` to run as
// `palisade-agent --runtime`, run alternately
// PALISADE_RUNTIME_RSS_ROUNDS times each, default 1) with 1,000
// pods on its node in the real API server (each with a container status,
// as the pod index keeps them), the eBPF sensor loaded and the target
// load's connects and execs running (runtime_loadgen_test.go) for
// PALISADE_RUNTIME_BENCH_SECONDS (default 20). It reports the RSS at the
// end and the peak (VmHWM), when the peak was sampled and what it was
// made of (RssAnon/RssFile at that sample), per binary (the worst run). Needs root, BTF and the control plane;
// figures in bench/README.md, never asserted.
//
//	go test ./bench -run x -bench RuntimeNodeRSS -benchtime 1x -timeout 20m
func BenchmarkRuntimeNodeRSS(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root (loads the eBPF sensor)")
	}
	secs := benchSeconds(b, "PALISADE_RUNTIME_BENCH_SECONDS", 20)
	bins := strings.Fields(os.Getenv("PALISADE_AGENT_BIN"))
	if len(bins) == 0 {
		// Copied after the build: the file the linker wrote has more of
		// its pages in the page cache, which changes RSS.
		built, bin := filepath.Join(b.TempDir(), "palisade-runtime.ld"), filepath.Join(b.TempDir(), "palisade-runtime")
		build := exec.Command("go", "build", "-tags", "kustomize_disable_go_plugin_support", "-o", built, "github.com/palisade-sec/palisade/cmd/palisade-runtime")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("go build: %v: %s", err, out)
		}
		if out, err := exec.Command("cp", built, bin).CombinedOutput(); err != nil {
			b.Fatalf("cp: %v: %s", err, out)
		}
		bins = []string{bin}
	}
	rounds := int(benchSeconds(b, "PALISADE_RUNTIME_RSS_ROUNDS", 1))
	env := testenv.Shared(b)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	client := env.AdminClient(b)
	nss := make([]string, 10)
	for i := range nss {
		nss[i] = env.CreateNamespace(ctx, b, "rss-", nil).Name
	}
	const nPods = 1000
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range nPods {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ns := nss[i%len(nss)]
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%d", i), Namespace: ns, Labels: map[string]string{"app": "bench", "pod-template-hash": "7d9f"}},
				Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{
					{Name: "app", Image: fmt.Sprintf("registry.example.com/app-%d:1.0", i%50)},
					{Name: "sidecar", Image: "registry.example.com/proxy:2"}}}}
			p, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
			if err != nil {
				b.Error(err)
				return
			}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{
				{Name: "app", ContainerID: fmt.Sprintf("containerd://%064x", 2*i), ImageID: "registry.example.com/app@sha256:" + strings.Repeat("ab", 32)},
				{Name: "sidecar", ContainerID: fmt.Sprintf("containerd://%064x", 2*i+1), ImageID: "registry.example.com/proxy@sha256:" + strings.Repeat("cd", 32)}}
			if _, err := client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	kubeconfig := env.KubeconfigFor(b, env.Config)
	worst := map[string]rssRun{}
	for range b.N {
		for range rounds {
			for _, bin := range bins {
				r := runtimeRSSRun(ctx, b, bin, kubeconfig, nss[0], secs)
				name := filepath.Base(bin)
				// To stderr: a benchmark's log is cut after a few runs.
				fmt.Fprintf(os.Stderr, "%s: peak %.1f MiB at %.2f s (anon %.1f, file %.1f, shmem %.1f MiB at that sample), VmHWM %.1f, idle %.1f, loaded %.1f MiB (anon %.1f, file %.1f); %.0f ops/s; load1 %.1f\n",
					name, mib(r.peak.kib), r.peak.at.Seconds(), mib(r.peak.anon), mib(r.peak.file), mib(r.peak.shmem), mib(r.hwm), mib(r.idle), mib(r.loaded), mib(r.anon), mib(r.file), r.ops, load1())
				fmt.Fprintf(os.Stderr, "%s: RSS MiB every 0.5 s from the start: %s\n", name, r.trace)
				if w, ok := worst[name]; !ok || r.hwm > w.hwm {
					worst[name] = r
				}
			}
		}
	}
	for name, r := range worst {
		suffix := ""
		if len(bins) > 1 {
			suffix = "-" + name
		}
		b.ReportMetric(mib(r.hwm), "rss-MiB-peak"+suffix)
		b.ReportMetric(r.peak.at.Seconds(), "peak-at-s"+suffix)
		b.ReportMetric(mib(r.peak.anon), "rss-MiB-peak-anon"+suffix)
		b.ReportMetric(mib(r.peak.file), "rss-MiB-peak-file"+suffix)
		b.ReportMetric(mib(r.idle), "rss-MiB-idle"+suffix)
		b.ReportMetric(mib(r.loaded), "rss-MiB-loaded"+suffix)
		b.ReportMetric(r.ops, "ops/s"+suffix)
	}
}

// rssSampleEvery is the sampling period at d from the start: the start-up
// peak is short.
func rssSampleEvery(d time.Duration) time.Duration {
	if d < 3*time.Second {
		return 5 * time.Millisecond
	}
	return 50 * time.Millisecond
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

// rssSample is one reading of /proc/PID/status, at its time from the
// process's start.
type rssSample struct {
	at                     time.Duration
	kib, anon, file, shmem int64
}

// rssRun is one run of the sensor under the target load.
type rssRun struct {
	peak                          rssSample // the highest VmRSS sampled
	idle, loaded, hwm, anon, file int64
	ops                           float64
	trace                         string
}

// runtimeRSSRun starts the sensor binary, samples its RSS every 5 ms for
// the first 3 s and every 50 ms after (when the peak happens, and whether
// it is anonymous or file-backed, says which part of start-up makes it), waits for
// its first state Event, runs the target load and stops it.
func runtimeRSSRun(ctx context.Context, b *testing.B, bin, kubeconfig, ns string, secs float64) rssRun {
	client := testenv.Shared(b).AdminClient(b)
	args := []string{"--runtime", "--node-name", "n1", "--kubeconfig", kubeconfig, "--runtime-namespace", ns,
		"--runtime-containers-only=false", "--runtime-node-ledger", ""}
	// PALISADE_RUNTIME_RSS_ARGS adds flags, e.g.
	// --runtime-policy-intent=false to see what its informers cost.
	args = append(args, strings.Fields(os.Getenv("PALISADE_RUNTIME_RSS_ARGS"))...)
	// The previous run's state Events would end the wait below at once.
	if err := client.CoreV1().Events(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		b.Fatal(err)
	}
	sensor := exec.CommandContext(ctx, bin, args...)
	sensor.Stdout, sensor.Stderr = io.Discard, io.Discard
	if os.Getenv("PALISADE_RUNTIME_RSS_LOG") != "" {
		sensor.Stdout, sensor.Stderr = os.Stderr, os.Stderr
	}
	if err := sensor.Start(); err != nil {
		b.Fatal(err)
	}
	pid := sensor.Process.Pid
	t0 := time.Now()
	var series []rssSample
	sampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			series = append(series, rssSample{time.Since(t0), procstatus.KiB(pid, "VmRSS"), procstatus.KiB(pid, "RssAnon"), procstatus.KiB(pid, "RssFile"), procstatus.KiB(pid, "RssShmem")})
			select {
			case <-sampling:
				return
			case <-time.After(rssSampleEvery(time.Since(t0))):
			}
		}
	}()
	// Its first state Event: the sensor is loaded and its pod informer
	// started.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		evs, err := client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err == nil && slicesContainsReason(evs.Items, fleetapi.KubeEventReasonRuntimeState) {
			break
		}
		if time.Now().After(deadline) {
			_ = sensor.Process.Kill()
			b.Fatal("no state Event from the runtime sensor within 2 minutes")
		}
		time.Sleep(500 * time.Millisecond)
	}
	r := rssRun{idle: procstatus.KiB(pid, "VmRSS")}
	load, _ := runLoad(b, loadSpec{Seconds: secs, ConnectWorkers: 2, ExecWorkers: 2, ConnectRate: 20000, ExecRate: 2000, ExitBinary: exitBinary(b)})
	r.loaded, r.hwm = procstatus.KiB(pid, "VmRSS"), procstatus.KiB(pid, "VmHWM")
	r.anon, r.file = procstatus.KiB(pid, "RssAnon"), procstatus.KiB(pid, "RssFile")
	r.ops = float64(load.Connects+load.Execs) / load.Elapsed
	close(sampling)
	<-sampled
	_ = sensor.Process.Signal(os.Interrupt)
	_ = sensor.Wait()
	var trace []string
	var next time.Duration
	for _, x := range series {
		if x.kib > r.peak.kib {
			r.peak = x
		}
		if x.at >= next {
			next += 500 * time.Millisecond
			trace = append(trace, fmt.Sprintf("%.1fs:%.1f", x.at.Seconds(), mib(x.kib)))
		}
	}
	r.trace = strings.Join(trace, " ")
	return r
}

func slicesContainsReason(evs []corev1.Event, reason string) bool {
	for _, e := range evs {
		if e.Reason == reason {
			return true
		}
	}
	return false
}
