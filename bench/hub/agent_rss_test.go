package hubbench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/hub/store"
	"github.com/palisade-sec/palisade/internal/testenv"
)

// procStatusKiB reads a field (VmRSS, VmHWM) of /proc/<pid>/status.
func procStatusKiB(pid int, field string) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	return 0
}

// TestAgentRSS runs `palisade agent run` as its own process against a real
// kube-apiserver holding 1,000 pods and reports its resident memory once
// it has evaluated them and drained its outbox.
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

	dir := t.TempDir()
	bin := filepath.Join(dir, "palisade")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "../../cmd/palisade")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h, url := startHub(t, st)
	tok, c, err := h.CreateBootstrapToken(ctx, "rss", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := env.KubeconfigFor(t, env.Config)
	cmd := exec.CommandContext(ctx, bin, "agent", "run", "--kubeconfig", kubeconfig, "--hub", url, "--token", tok,
		"--hub-ca-fingerprint", h.CAFingerprint(), "--state-dir", filepath.Join(dir, "state"), "--debounce", "500ms")
	cmd.Env = append(os.Environ(), "GOMEMLIMIT=48MiB")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	start := time.Now()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		n, _ := st.CountFindings(ctx, store.FindingQuery{ClusterID: c.ID, Namespace: nss[0]})
		cl, _ := st.GetCluster(ctx, c.ID)
		if n > 0 && cl.Inventory != nil && cl.Inventory.Pods >= nPods {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("agent did not report the pods")
		}
		time.Sleep(500 * time.Millisecond)
	}
	ready := time.Since(start)
	time.Sleep(5 * time.Second) // settle
	pid := cmd.Process.Pid
	total, _ := st.CountFindings(ctx, store.FindingQuery{ClusterID: c.ID})
	t.Logf("agent with %d pods: reported in %v; %d findings on the hub; RSS %d KiB, peak RSS %d KiB",
		nPods, ready.Round(time.Millisecond), total, procStatusKiB(pid, "VmRSS"), procStatusKiB(pid, "VmHWM"))
	if hwm := procStatusKiB(pid, "VmHWM"); hwm > 64*1024 {
		t.Logf("GOAL MISSED: peak RSS %d KiB is over the 64 MiB goal (see README.md)", hwm)
	}
}
