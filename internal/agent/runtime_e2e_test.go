package agent_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/agent"
	"github.com/palisade-sec/palisade/internal/hub/store"
	rt "github.com/palisade-sec/palisade/internal/runtime"
	"github.com/palisade-sec/palisade/internal/runtimenode"
	"github.com/palisade-sec/palisade/internal/testenv"
)

// requireEBPF skips when the sensor cannot load here, unless
// PALISADE_REQUIRE_EBPF is set (CI), where that is a failure.
func requireEBPF(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "not root"
	} else if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		why = "no kernel BTF"
	} else if _, err := rt.CgroupV2Root(); err != nil {
		why = err.Error()
	}
	if why == "" {
		return
	}
	if os.Getenv("PALISADE_REQUIRE_EBPF") != "" {
		t.Fatalf("PALISADE_REQUIRE_EBPF is set but the sensor cannot be tested: %s", why)
	}
	t.Skipf("runtime sensor test needs root, BTF and cgroup v2: %s", why)
}

// TestRuntimeSensorReachesHub runs the whole runtime path on the real
// kernel, API server and hub: a pod (runAsNonRoot) on node n1 whose
// container's cgroup is a fresh cgroup v2 directory shaped like
// containerd's; a real shell started as root in that cgroup is seen by
// the loaded eBPF sensor, attributed through the node's pod informer to
// the pod, written as Kubernetes Events, forwarded by the agent through
// its outbox, and stored at the hub as PAL-RT-001 and PAL-RT-005 on that
// pod; node n1's sensor is "ok" at the hub, and node n2's sensor, whose
// programs cannot load (a BTF file that does not exist), is "degraded"
// with the reason.
func TestRuntimeSensorReachesHub(t *testing.T) {
	requireEBPF(t)
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	client := env.AdminClient(t)
	ns := env.CreateNamespace(ctx, t, "rt-", nil).Name

	cid := fmt.Sprintf("%064x", time.Now().UnixNano())
	nonRoot := true
	pod, err := client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0"},
		Spec: corev1.PodSpec{NodeName: "n1", SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &nonRoot},
			Containers: []corev1.Container{{Name: "web", Image: "registry.example/web:1"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", ContainerID: "containerd://" + cid, Image: "registry.example/web:1"}}
	if _, err := client.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	root, _ := rt.CgroupV2Root()
	cgdir := filepath.Join(root, fmt.Sprintf("palisade-e2e-%d", os.Getpid()), "kubepods-pod"+strings.ReplaceAll(string(pod.UID), "-", "_")+".slice", "cri-containerd-"+cid+".scope")
	if err := os.MkdirAll(cgdir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for d := cgdir; d != root; d = filepath.Dir(d) {
			os.Remove(d)
		}
	})

	p := newHubProc(t)
	a, _ := runAgent(t, ctx, p, "rt-edge", client, ns, "", func(c *agent.Config) { c.RuntimeEvents = true })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	startNode := func(node, btf string) {
		n, err := runtimenode.New(runtimenode.Config{Client: client, Node: node, Namespace: ns, BTFPath: btf,
			StateEvery: 200 * time.Millisecond, ContainersOnly: true, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		nctx, ncancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- n.Run(nctx) }()
		t.Cleanup(func() {
			ncancel()
			if err := <-done; err != nil {
				t.Errorf("node %s: %v", node, err)
			}
		})
	}
	startNode("n1", "")
	startNode("n2", "/nonexistent/vmlinux")

	sensors := func() map[string]store.RuntimeSensor {
		ss, err := p.st.ListRuntimeSensors(ctx, a.ClusterID())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]store.RuntimeSensor{}
		for _, s := range ss {
			out[s.Node] = s
		}
		return out
	}
	waitFor(t, "both sensors' states on the hub", time.Minute, func() bool { return len(sensors()) == 2 })
	ss := sensors()
	if n1 := ss["n1"]; n1.Mode != "ok" {
		t.Fatalf("node n1's sensor at the hub: %+v", n1)
	}
	if n2 := ss["n2"]; n2.Mode != "degraded" || !strings.Contains(n2.Reason, "/nonexistent/vmlinux") || n2.Gap() == "" {
		t.Fatalf("node n2's sensor at the hub: %+v", n2)
	}

	// The pod informer has the pod once n1's state is out; the shell runs
	// as root (this test's uid) in the pod's container cgroup.
	fd, err := syscall.Open(cgdir, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	sh := exec.Command("/bin/sh", "-c", "exit 0")
	sh.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	if out, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("shell in the cgroup: %v %s", err, out)
	}
	found := func() map[string]store.RuntimeFinding {
		fs, err := p.st.ListRuntimeFindings(ctx, store.RuntimeQuery{ClusterID: a.ClusterID()})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]store.RuntimeFinding{}
		for _, f := range fs {
			out[f.F.RuleID] = f
		}
		return out
	}
	waitFor(t, "the shell's findings on the hub", time.Minute, func() bool { f := found(); return f[rt.RuleShell].ID != "" && f[rt.RuleRootUser].ID != "" })
	for _, rule := range []string{rt.RuleShell, rt.RuleRootUser} {
		f := found()[rule]
		if f.Node != "n1" || f.F.Object.Namespace != ns || f.F.Object.Name != "web-0" || f.F.Container != "web" || !strings.Contains(f.F.Message, "/bin/sh") && rule == rt.RuleShell {
			t.Errorf("%s at the hub: %+v", rule, f)
		}
	}
	if a.RuntimeEventsDropped() != 0 {
		t.Errorf("agent dropped %d runtime events", a.RuntimeEventsDropped())
	}
	if st := a.RuntimeSensors(); st["n2"].Mode != "degraded" || st["n1"].Mode != "ok" {
		t.Errorf("agent's view of the sensors: %+v", st)
	}
}
