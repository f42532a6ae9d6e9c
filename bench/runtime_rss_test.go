package bench

import (
	"context"
	"fmt"
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
// DaemonSet's process (`palisade-agent --runtime`, built as releases are:
// CGO_ENABLED=0 with the kustomize tag; or PALISADE_AGENT_BIN) with 1,000
// pods on its node in the real API server (each with a container status,
// as the pod index keeps them), the eBPF sensor loaded and the target
// load's connects and execs running (runtime_loadgen_test.go) for
// PALISADE_RUNTIME_BENCH_SECONDS (default 20). It reports the RSS at the
// end and the peak (VmHWM). Needs root, BTF and the control plane;
// figures in bench/README.md, never asserted.
//
//	go test ./bench -run x -bench RuntimeNodeRSS -benchtime 1x -timeout 20m
func BenchmarkRuntimeNodeRSS(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root (loads the eBPF sensor)")
	}
	secs := benchSeconds(b, "PALISADE_RUNTIME_BENCH_SECONDS", 20)
	bin := os.Getenv("PALISADE_AGENT_BIN")
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "palisade-agent")
		build := exec.Command("go", "build", "-tags", "kustomize_disable_go_plugin_support", "-o", bin, "github.com/palisade-sec/palisade/cmd/palisade-agent")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("go build: %v: %s", err, out)
		}
	}
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
	for range b.N {
		args := []string{"--runtime", "--node-name", "n1", "--kubeconfig", kubeconfig, "--runtime-namespace", nss[0],
			"--runtime-containers-only=false", "--runtime-node-ledger", ""}
		// PALISADE_RUNTIME_RSS_ARGS adds flags, e.g.
		// --runtime-policy-intent=false to see what its informers cost.
		args = append(args, strings.Fields(os.Getenv("PALISADE_RUNTIME_RSS_ARGS"))...)
		sensor := exec.CommandContext(ctx, bin, args...)
		sensor.Stdout, sensor.Stderr = os.Stderr, os.Stderr
		if err := sensor.Start(); err != nil {
			b.Fatal(err)
		}
		pid := sensor.Process.Pid
		// RSS every 50 ms from the start: when the peak happens says
		// which part of start-up makes it.
		t0 := time.Now()
		type sample struct {
			at  time.Duration
			kib int64
		}
		var series []sample
		sampling := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			for {
				series = append(series, sample{time.Since(t0), procstatus.KiB(pid, "VmRSS")})
				select {
				case <-sampling:
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}()
		// Its first state Event: the sensor is loaded and its pod
		// informer started.
		deadline := time.Now().Add(2 * time.Minute)
		for {
			evs, err := client.CoreV1().Events(nss[0]).List(ctx, metav1.ListOptions{})
			if err == nil && slicesContainsReason(evs.Items, fleetapi.KubeEventReasonRuntimeState) {
				break
			}
			if time.Now().After(deadline) {
				_ = sensor.Process.Kill()
				b.Fatal("no state Event from the runtime sensor within 2 minutes")
			}
			time.Sleep(500 * time.Millisecond)
		}
		idle := procstatus.KiB(pid, "VmRSS")
		r, _ := runLoad(b, loadSpec{Seconds: secs, ConnectWorkers: 2, ExecWorkers: 2, ConnectRate: 20000, ExecRate: 2000, ExitBinary: exitBinary(b)})
		rss, hwm := procstatus.KiB(pid, "VmRSS"), procstatus.KiB(pid, "VmHWM")
		close(sampling)
		<-sampled
		var peak sample
		var trace []string
		for i, x := range series {
			if x.kib > peak.kib {
				peak = x
			}
			if i%10 == 0 {
				trace = append(trace, fmt.Sprintf("%.1fs:%.1f", x.at.Seconds(), float64(x.kib)/1024))
			}
		}
		b.ReportMetric(peak.at.Seconds(), "peak-at-s")
		b.Log("RSS MiB every 0.5 s from the start:", strings.Join(trace, " "))
		// Where it goes: the Go heap and stacks (anonymous), the binary's
		// pages (file), and shared mappings (the ring buffer's pages).
		anon, file, shmem := procstatus.KiB(pid, "RssAnon"), procstatus.KiB(pid, "RssFile"), procstatus.KiB(pid, "RssShmem")
		_ = sensor.Process.Signal(os.Interrupt)
		_ = sensor.Wait()
		b.ReportMetric(float64(idle)/1024, "rss-MiB-idle")
		b.ReportMetric(float64(rss)/1024, "rss-MiB-loaded")
		b.ReportMetric(float64(hwm)/1024, "rss-MiB-peak")
		b.ReportMetric(float64(anon)/1024, "rss-MiB-anon")
		b.ReportMetric(float64(file)/1024, "rss-MiB-file")
		b.ReportMetric(float64(shmem)/1024, "rss-MiB-shmem")
		b.ReportMetric(float64(r.Connects+r.Execs)/r.Elapsed, "ops/s")
		b.Log("pods", nPods, "idle KiB", idle, "loaded KiB", rss, "peak KiB", hwm, "anon KiB", anon, "file KiB", file, "shmem KiB", shmem,
			"connects", r.Connects, "execs", r.Execs, "seconds", r.Elapsed, "load1", load1())
	}
}

func slicesContainsReason(evs []corev1.Event, reason string) bool {
	for _, e := range evs {
		if e.Reason == reason {
			return true
		}
	}
	return false
}
