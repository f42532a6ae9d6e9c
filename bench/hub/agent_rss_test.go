package hubbench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/bench/internal/procstatus"
	"github.com/palisade-sec/palisade/internal/hub/store"
	"github.com/palisade-sec/palisade/internal/testenv"
)

// TestAgentRSS runs `palisade agent run` as its own process against a real
// kube-apiserver holding 1,000 pods and reports its resident memory once
// it has evaluated them and drained its outbox. The "palisade-agent+scan"
// run also scans images (issue #8): ten more pods run two images in a
// real registry, the debootstrap bookworm image and bookworm with one more
// small layer (two digests, each a 51 MB layer to stream, scanned at the
// default concurrency of two), against a local vulnerability database.
func TestAgentRSS(t *testing.T) {
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
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range nPods {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ns := nss[i%len(nss)]
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%d", i), Namespace: ns, Labels: map[string]string{"app": "bench"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: fmt.Sprintf("registry.example.com/app-%d:1.0", i%50)}}}}
			if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// ConfigMaps (issue #18): the agent watches them for
	// hardening/configmap-secret and keeps only their credential keys.
	// Every tenth holds one credential; the rest are settings of
	// PALISADE_BENCH_AGENT_CONFIGMAP_KIB each.
	nCMs, cmKiB := envInt("PALISADE_BENCH_AGENT_CONFIGMAPS", 0), envInt("PALISADE_BENCH_AGENT_CONFIGMAP_KIB", 4)
	settings := strings.Repeat("cache.size=64\n", cmKiB*1024/14)
	for i := range nCMs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			data := map[string]string{"app.properties": settings, "LOG_LEVEL": "info"}
			if i%10 == 0 {
				data["DB_PASSWORD"] = fmt.Sprintf("bench-secret-%06d", i)
			}
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i), Namespace: nss[i%len(nss)]}, Data: data}
			if _, err := client.CoreV1().ConfigMaps(cm.Namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	names := strings.Split(envStr("PALISADE_BENCH_AGENT_BINARIES", "palisade-agent,palisade-agent+scan,palisade"), ",")
	var scan *scanSetup
	for _, n := range names {
		if strings.HasSuffix(n, "+scan") && scan == nil {
			scan = setupImageScan(t, ctx, client, nss)
		}
	}

	dir := t.TempDir()
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h, url := startHub(t, st)
	kubeconfig := env.KubeconfigFor(t, env.Config)
	// Each binary runs as its own agent (own cluster on the hub) against
	// the same API server: the slim palisade-agent that deploy/agent uses,
	// then the full palisade CLI for comparison.
	for _, run := range names {
		name, scanning := strings.CutSuffix(run, "+scan")
		name, verifying := strings.CutSuffix(name, "+verify")
		t.Run(run, func(t *testing.T) {
			// The verification bundle and its pods are set up for this
			// run alone: the runs before it see neither.
			var verify *verifySetup
			if verifying {
				verify = setupImageVerify(t, ctx, client, nss, h, envInt("PALISADE_BENCH_AGENT_VERIFY_IMAGES", 200))
			}
			bin := filepath.Join(dir, name)
			build := exec.CommandContext(ctx, "go", "build", "-o", bin, "../../cmd/"+name)
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("build: %v\n%s", err, out)
			}
			fi, _ := os.Stat(bin)
			tok, c, err := h.CreateBootstrapToken(ctx, "rss-"+run, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			args := []string{"--kubeconfig", kubeconfig, "--hub", url, "--token", tok,
				"--hub-ca-fingerprint", h.CAFingerprint(), "--state-dir", filepath.Join(dir, "state-"+run), "--debounce", "500ms"}
			if verifying {
				args = append(args, "--insecure-registry", verify.registry)
			}
			if scanning {
				args = append(args, "--vuln-db-dir", scan.dbDir, "--insecure-registry", scan.registry)
				if extra := envStr("PALISADE_BENCH_AGENT_SCAN_ARGS", ""); extra != "" {
					args = append(args, strings.Fields(extra)...)
				}
			}
			if name == "palisade" {
				args = append([]string{"agent", "run"}, args...)
			}
			cmd := exec.CommandContext(ctx, bin, args...)
			// GOMEMLIMIT: the slim agent sets its own default (32 MiB, or
			// 70% of the cgroup limit); the full CLI sets none, so the
			// earlier figures' 48 MiB is kept for it.
			cmd.Env = os.Environ()
			if v := envStr("PALISADE_BENCH_AGENT_GOMEMLIMIT", ""); v != "" {
				cmd.Env = append(cmd.Env, "GOMEMLIMIT="+v)
			} else if name == "palisade" {
				cmd.Env = append(cmd.Env, "GOMEMLIMIT=48MiB")
			}
			cmd.Env = append(cmd.Env, "GODEBUG=gctrace=1")
			var stderr lockedBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			// VmHWM is the peak of the total; the peak of RssAnon alone
			// (heap, stacks) is polled.
			var peakAnon atomic.Int64
			stopPoll := make(chan struct{})
			defer close(stopPoll)
			go func() {
				for {
					if a := procstatus.KiB(cmd.Process.Pid, "RssAnon"); a > peakAnon.Load() {
						peakAnon.Store(a)
					}
					select {
					case <-stopPoll:
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
			}()
			start := time.Now()
			deadline := time.Now().Add(5 * time.Minute)
			for {
				n, _ := st.CountFindings(ctx, store.FindingQuery{ClusterID: c.ID, Namespace: nss[0]})
				cl, _ := st.GetCluster(ctx, c.ID)
				if n > 0 && cl.Inventory != nil && cl.Inventory.Pods >= nPods && (!scanning || scan.done(ctx, t, st, c.ID)) && (!verifying || verify.done(ctx, t, st, c.ID)) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("agent did not report the pods\n%s", stderr.tail(4096))
				}
				time.Sleep(500 * time.Millisecond)
			}
			ready := time.Since(start)
			time.Sleep(5 * time.Second) // settle
			pid := cmd.Process.Pid
			total, _ := st.CountFindings(ctx, store.FindingQuery{ClusterID: c.ID})
			kib := func(f string) int { return int(procstatus.KiB(pid, f)) }
			t.Logf("%s (%d MB binary) with %d pods and %d ConfigMaps of %d KiB: reported in %v; %d findings on the hub; RSS %d KiB = anon %d + file %d + shmem %d; peak RSS (VmHWM) %d KiB, peak anon %d KiB; last GC: %s",
				run, fi.Size()>>20, nPods, nCMs, cmKiB, ready.Round(time.Millisecond), total, kib("VmRSS"), kib("RssAnon"), kib("RssFile"), kib("RssShmem"), kib("VmHWM"), peakAnon.Load(), lastGC(stderr.String()))
			if scanning {
				t.Logf("%s: images on the hub: %s", run, scan.summary(ctx, t, st, c.ID))
			}
			if verifying {
				t.Logf("%s: %d image verifications on the hub: %s", run, verify.n, verify.summary(ctx, t, st, c.ID))
			}
			if hwm := kib("VmHWM"); hwm > 64*1024 {
				t.Logf("GOAL MISSED: %s peak RSS %d KiB is over the 64 MiB goal (see README.md)", run, hwm)
			}
		})
	}
}

func envStr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// lockedBuffer collects a child's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	return len(p), nil
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return string(l.b) }

func (l *lockedBuffer) tail(n int) string {
	s := l.String()
	return s[max(0, len(s)-n):]
}

// lastGC returns the heap figures of the last gctrace line ("gc N @…: …,
// A->B->C MB, D MB goal, …") and the largest heap any collection started
// with (the Go heap's peak, give or take one GC cycle).
func lastGC(s string) string {
	last, peak := "n/a", 0
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(line, "gc ") {
			continue
		}
		for _, f := range strings.Split(line, ",") {
			if f = strings.TrimSpace(f); strings.Contains(f, "->") && strings.HasSuffix(f, " MB") {
				last = f
				if n, err := strconv.Atoi(strings.SplitN(f, "->", 2)[0]); err == nil {
					peak = max(peak, n)
				}
			}
		}
	}
	return fmt.Sprintf("%s heap (start->end->live), peak heap at a GC start %d MB", last, peak)
}
