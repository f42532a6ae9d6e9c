package runtimenode

import (
	"context"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/imagescan"
	"github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
	rt "github.com/palisade-sec/palisade/internal/runtime"
	"github.com/palisade-sec/palisade/internal/testenv"
)

// manifestRole is the Role named name in a manifest file.
func manifestRole(t *testing.T, path, name string) *rbacv1.Role {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var head struct {
			Kind     string
			Metadata struct{ Name string }
		}
		_ = yaml.Unmarshal([]byte(doc), &head)
		if head.Kind == "Role" && head.Metadata.Name == name {
			role := &rbacv1.Role{}
			if err := yaml.UnmarshalStrict([]byte(doc), role); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			return role
		}
	}
	t.Fatalf("%s has no Role %s", path, name)
	return nil
}

// TestImageFilesReachSensor: the executable paths of the real debootstrap
// bookworm image, walked as the agent walks images, are published by a
// ServiceAccount holding exactly deploy/agent's image-files Role into the
// shard ConfigMaps deploy/runtime creates; a node sensor whose
// ServiceAccount holds exactly deploy/runtime's ClusterRole and
// image-files Role reads its container's image's set, and a recorded exec
// of a binary the image does not hold is PAL-RT-006 with the evidence
// SBOM, while the image's own /bin/sh (reached through the merged-/usr
// symlink) is not drift. Neither ServiceAccount may touch another
// ConfigMap or create one.
func TestImageFilesReachSensor(t *testing.T) {
	bookworm := imagescantest.Bookworm(t)
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	admin := env.AdminClient(t)
	ns := sensorNamespace(ctx, t, env, admin)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	bind := func(role *rbacv1.Role, sa string) {
		role.Namespace, role.Name = ns, sa+"-image-files"
		must(admin.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}))
		must(admin.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role.Name},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role.Name},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: ns}}}, metav1.CreateOptions{}))
	}
	bind(manifestRole(t, "../../deploy/agent/agent.yaml", "palisade-agent-image-files"), "agent")
	bind(manifestRole(t, "../../deploy/runtime/runtime.yaml", "palisade-runtime-image-files"), "runtime")
	cluster := testenv.ManifestClusterRole(t, "../../deploy/runtime/runtime.yaml")
	cluster.Name = "runtime-image-files-" + ns
	must(admin.RbacV1().ClusterRoles().Create(ctx, cluster, metav1.CreateOptions{}))
	must(admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: cluster.Name},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: cluster.Name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "runtime", Namespace: ns}}}, metav1.CreateOptions{}))
	t.Cleanup(func() {
		_ = admin.RbacV1().ClusterRoleBindings().Delete(context.Background(), cluster.Name, metav1.DeleteOptions{})
		_ = admin.RbacV1().ClusterRoles().Delete(context.Background(), cluster.Name, metav1.DeleteOptions{})
	})
	// As deploy/runtime does: the shards exist before anyone writes them.
	for i := range rt.ImageFilesShards {
		must(admin.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: rt.ImageFilesConfigMap(rt.ImageFilesPrefix, i)}}, metav1.CreateOptions{}))
	}
	must(admin.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "other"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{}))
	agentClient := testenv.NewClient(t, env.ServiceAccountConfig(ctx, t, ns, "agent"))
	sensorClient := testenv.NewClient(t, env.ServiceAccountConfig(ctx, t, ns, "runtime"))
	for _, c := range []struct {
		who string
		err func() error
	}{
		{"agent reads another ConfigMap", func() error {
			_, err := agentClient.CoreV1().ConfigMaps(ns).Get(ctx, "other", metav1.GetOptions{})
			return err
		}},
		{"agent creates a ConfigMap", func() error {
			_, err := agentClient.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
			return err
		}},
		{"sensor reads another ConfigMap", func() error {
			_, err := sensorClient.CoreV1().ConfigMaps(ns).Get(ctx, "other", metav1.GetOptions{})
			return err
		}},
		{"sensor writes a shard", func() error {
			cm, err := admin.CoreV1().ConfigMaps(ns).Get(ctx, rt.ImageFilesConfigMap(rt.ImageFilesPrefix, 0), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = sensorClient.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{})
			return err
		}},
	} {
		if err := c.err(); err == nil {
			t.Errorf("%s: allowed", c.who)
		}
	}

	// The agent's walk of the image, and its publication.
	inv, err := imagescan.Catalog(ctx, "oci:"+bookworm, imagescan.Options{Executables: rt.MaxImageFiles})
	if err != nil {
		t.Fatal(err)
	}
	digest := inv.Image.Digest
	pub, err := NewImageFilesPublisher(agentClient, ns+"/"+rt.ImageFilesPrefix, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	// An image that ran before, in the same shard.
	stale := "sha256:" + digest[7:9] + strings.Repeat("0", 62)
	if err := pub.Publish(ctx, stale, []string{"/old"}, func(string) bool { return true }); err != nil {
		t.Fatal(err)
	}
	running := func(d string) bool { return d == digest }
	if err := pub.Publish(ctx, digest, inv.Executables.Paths, running); err != nil {
		t.Fatal(err)
	}
	key, shard, _ := rt.ImageFilesKey(digest)
	staleKey, _, _ := rt.ImageFilesKey(stale)
	cm, err := admin.CoreV1().ConfigMaps(ns).Get(ctx, rt.ImageFilesConfigMap(rt.ImageFilesPrefix, shard), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(cm.BinaryData[key]); got != 8*rt.NewImageFiles(inv.Executables.Paths).Len() || got == 0 {
		t.Fatalf("shard %d holds %d bytes for the image (%d paths)", shard, got, len(inv.Executables.Paths))
	}
	if _, ok := cm.BinaryData[staleKey]; ok || len(cm.BinaryData) != 1 {
		t.Errorf("shard %d keeps %d sets, the image no longer running among them: %v", shard, len(cm.BinaryData), ok)
	}
	t.Logf("bookworm: %d executable paths, %d bytes published", len(inv.Executables.Paths), len(cm.BinaryData[key]))
	// Publishing again changes nothing.
	rv := cm.ResourceVersion
	if err := pub.Publish(ctx, digest, inv.Executables.Paths, running); err != nil {
		t.Fatal(err)
	}
	if cm, _ := admin.CoreV1().ConfigMaps(ns).Get(ctx, cm.Name, metav1.GetOptions{}); cm.ResourceVersion != rv {
		t.Errorf("an unchanged set was written again")
	}

	// The node sensor.
	node := "n1-" + ns
	pod := runtimePod("", "web-7d9f-x2", rtCID, false)
	pod.Namespace, pod.Spec.NodeName = ns, node
	pod.OwnerReferences[0].APIVersion, pod.OwnerReferences[0].UID = "apps/v1", "5f0c1e6a-0000-4000-8000-000000000002"
	pod.Status.ContainerStatuses[0].ImageID = "registry.example/web@" + digest
	status := pod.Status
	created, err := admin.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status = status
	must(admin.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}))

	root := t.TempDir()
	cg := fakeCgroup(t, root)
	src := &recordedSource{events: []rt.Event{
		{Kind: rt.KindExec, TGID: 4242, PPID: 1, UID: 1000, CgroupID: cg, Path: "/tmp/.x/miner"},
		{Kind: rt.KindExec, TGID: 4243, PPID: 1, UID: 1000, CgroupID: cg, Path: "/bin/sh"},
		{Kind: rt.KindExec, TGID: 4244, PPID: 1, UID: 1000, CgroupID: cg, Path: "/usr/bin/dpkg"},
	}, state: rt.State{Mode: "ok", Decoded: 3}}
	n, err := New(Config{Client: sensorClient, Node: node, Namespace: ns, CgroupRoot: root, StateEvery: time.Hour,
		PolicyIntent: false, ObserveEvery: -1, ImageFiles: rt.ImageFilesPrefix, Logger: quietLogger(),
		Open: func(context.Context, rt.Options) (Source, error) { return src, nil }})
	if err != nil {
		t.Fatal(err)
	}
	// Events are fed once the pod is known and its image's set was
	// fetched (the sensor fetches in the background, on first use).
	src.before = func(ctx context.Context) {
		for ctx.Err() == nil {
			if p, ok := n.pods.LookupPod(ctx, rtCID, ""); ok && n.files.ImageFilesOf(p.Image) != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.Run(runCtx) }()
	defer func() { stop(); <-done }()
	var drift, shells []string
	err = testenv.WaitFor(ctx, func(ctx context.Context) (bool, error) {
		list, err := admin.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		drift, shells = nil, nil
		for _, ev := range list.Items {
			rep, err := ReportFromEvent(&ev)
			if err != nil {
				return false, err
			}
			for _, f := range rep.Findings {
				switch f.F.RuleID {
				case rt.RuleDrift:
					drift = append(drift, f.F.Message)
				case rt.RuleShell:
					shells = append(shells, f.F.Message)
				}
			}
		}
		return len(drift) > 0 && len(shells) > 0, nil
	})
	if err != nil {
		t.Fatalf("drift %q, shells %q: %v", drift, shells, err)
	}
	time.Sleep(200 * time.Millisecond) // any late finding
	if len(drift) != 1 || !strings.Contains(drift[0], "/tmp/.x/miner") || !strings.Contains(drift[0], "evidence: SBOM") {
		t.Errorf("drift findings %q, want one for /tmp/.x/miner with the evidence SBOM", drift)
	}
	if slices.ContainsFunc(drift, func(m string) bool { return strings.Contains(m, "/bin/sh") || strings.Contains(m, "dpkg") }) {
		t.Errorf("the image's own binaries reported as drift: %q", drift)
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
