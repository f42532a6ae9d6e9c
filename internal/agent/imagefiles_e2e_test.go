package agent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/agent"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
	. "github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
	rt "github.com/palisade-sec/palisade/internal/runtime"
	"github.com/palisade-sec/palisade/internal/runtimenode"
	"github.com/palisade-sec/palisade/internal/testenv"
	"github.com/palisade-sec/palisade/internal/testregistry"
)

// execLoop is a node sensor's event source that sends the same execs,
// in the container's cgroup, every second: the node fetches an image's
// file list in the background on first use, so the first execs may be
// judged before the list is there.
type execLoop struct {
	cgroup uint64
	paths  []string
}

func (s *execLoop) Run(ctx context.Context, fn func(rt.Event)) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for pid := uint32(4000); ; {
		for _, p := range s.paths {
			pid++
			fn(rt.Event{Kind: rt.KindExec, TGID: pid, PPID: 1, UID: 1000, CgroupID: s.cgroup, Path: p})
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
func (s *execLoop) State() rt.State { return rt.State{Mode: "ok"} }
func (s *execLoop) Close() error    { return nil }

// TestImageFilesWithoutVulnDB: an agent with no vulnerability database
// still catalogues the image a pod runs (the real debootstrap bookworm
// image, pulled from a real registry), publishes its executable paths in
// the shard ConfigMaps of a real API server, and reports the image to
// the hub as catalogued and not matched, never as a scan with zero
// vulnerabilities. The node sensor reads the list: an exec of a binary
// the image does not hold reaches the hub as PAL-RT-006 with the
// evidence SBOM, and execs of the image's own binaries are not drift.
func TestImageFilesWithoutVulnDB(t *testing.T) {
	img := BookwormImage(t)
	env := testenv.Shared(t)
	reg := testregistry.Start(t, testregistry.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	client := env.AdminClient(t)
	ns := env.CreateNamespace(ctx, t, "files-", nil).Name
	for i := range rt.ImageFilesShards {
		if _, err := client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: rt.ImageFilesConfigMap(rt.ImageFilesPrefix, i)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	digest := push(t, reg.Host+"/edge/bookworm:12", img)

	counter := newRegistryCounter()
	p := newHubProc(t)
	start := time.Now()
	a, _ := runAgent(t, ctx, p, "edge-files", client, ns, "", func(c *agent.Config) {
		c.Images = &agent.RegistryScanConfig{InsecureRegistries: []string{reg.Host}, Transport: counter}
		c.RuntimeImageFiles = ns + "/" + rt.ImageFilesPrefix
		c.RuntimeEvents = true
	})
	cid := fmt.Sprintf("%064x", time.Now().UnixNano())
	pod, err := client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "app-0"},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "app", Image: reg.Host + "/edge/bookworm@" + digest}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", ContainerID: "containerd://" + cid, Image: reg.Host + "/edge/bookworm:12", ImageID: reg.Host + "/edge/bookworm@" + digest}}
	if _, err := client.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The file list, published without a database.
	key, shard, _ := rt.ImageFilesKey(digest)
	waitFor(t, "the image's file list in its shard", 2*time.Minute, func() bool {
		cm, err := client.CoreV1().ConfigMaps(ns).Get(ctx, rt.ImageFilesConfigMap(rt.ImageFilesPrefix, shard), metav1.GetOptions{})
		return err == nil && len(cm.BinaryData[key]) > 0
	})
	published := time.Since(start)
	all, blobs := counter.counts()
	if blobs < 2 {
		t.Fatalf("%d blob GETs: the image was not read from the registry", blobs)
	}
	cm, _ := client.CoreV1().ConfigMaps(ns).Get(ctx, rt.ImageFilesConfigMap(rt.ImageFilesPrefix, shard), metav1.GetOptions{})
	set, err := rt.DecodeImageFiles(cm.BinaryData[key])
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		has  bool
	}{{"/usr/bin/env", true}, {"/bin/sh", true}, {"/tmp/.x/miner", false}} {
		if has, _ := set.Has(c.path); has != c.has {
			t.Errorf("published list: %s in the image %v, want %v", c.path, has, c.has)
		}
	}
	t.Logf("bookworm catalogued without a database: %d executable paths published %v after the agent started (%d registry requests, %d blob GETs)",
		set.Len(), published.Round(time.Millisecond), all, blobs)

	// The hub: catalogued, not matched; no vulnerability counts.
	var im store.Image
	waitFor(t, "the image's scan on the hub", time.Minute, func() bool {
		ims, err := p.st.ListImages(ctx, a.ClusterID())
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range ims {
			if x.Digest == digest && !x.ScannedAt.IsZero() {
				im = x
				return true
			}
		}
		return false
	})
	if !im.NotMatched() || im.DBStamp != "" || im.ScanError != fleetapi.ImageScanNotMatched || im.ScanFailed() {
		t.Fatalf("image on the hub: %+v, want catalogued and not matched", im)
	}

	// The node sensor, its container's execs fed as the kernel reports them.
	root := t.TempDir()
	dir := filepath.Join(root, "kubepods.slice", "kubepods-pod"+strings.ReplaceAll(string(pod.UID), "-", "_")+".slice", "cri-containerd-"+cid+".scope")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	src := &execLoop{cgroup: st.Ino, paths: []string{"/tmp/.x/miner", "/usr/bin/env", "/bin/sh"}}
	n, err := runtimenode.New(runtimenode.Config{Client: client, Node: "n1", Namespace: ns, CgroupRoot: root, StateEvery: 200 * time.Millisecond,
		ObserveEvery: -1, ImageFiles: rt.ImageFilesPrefix, Logger: quietLog(),
		Open: func(context.Context, rt.Options) (runtimenode.Source, error) { return src, nil }})
	if err != nil {
		t.Fatal(err)
	}
	nctx, ncancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.Run(nctx) }()
	defer func() { ncancel(); <-done }()
	drift := func() (msgs []string) {
		fs, err := p.st.ListRuntimeFindings(ctx, store.RuntimeQuery{ClusterID: a.ClusterID(), RuleID: rt.RuleDrift})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			msgs = append(msgs, f.F.Message)
		}
		return msgs
	}
	waitFor(t, "the drift finding on the hub", time.Minute, func() bool {
		return slices.ContainsFunc(drift(), func(m string) bool { return strings.Contains(m, "/tmp/.x/miner") })
	})
	time.Sleep(2 * time.Second) // a later round of execs, judged with the list
	msgs := drift()
	for _, m := range msgs {
		if !strings.Contains(m, "/tmp/.x/miner") || !strings.Contains(m, "evidence: SBOM") {
			t.Errorf("drift finding %q, want only /tmp/.x/miner with the evidence SBOM", m)
		}
	}
}
