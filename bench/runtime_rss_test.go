package bench

import (
	"context"
	"encoding/json"
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
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

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
// as the pod index keeps them, and an address), the cluster policy intent
// judges by (rssCluster: 200 NetworkPolicies in 20 namespaces, 250
// Services, ClusterNetworkPolicies through their CRD, or with
// PALISADE_RUNTIME_RSS_ADMIN=v1alpha1 AdminNetworkPolicies and a
// BaselineAdminNetworkPolicy, and PALISADE_RUNTIME_NODES realistic Nodes,
// default 1,000), the eBPF sensor loaded and the target
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
	nss := rssCluster(ctx, b, env)
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
				fmt.Fprintf(os.Stderr, "%s: %s\n", name, r.intent)
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
	trace, intent                 string
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
	// What policy intent judged by: the sensor writes a changed state at
	// most every 30 s, so this waits for the one after its first snapshot
	// (after the figures above were taken).
	r.intent = "no state with policy intent within 45 s"
	for deadline := time.Now().Add(45 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		if st := latestRuntimeState(ctx, client, ns); st != nil && (st.IntentPolicies != "" || !strings.HasPrefix(st.IntentReason, "policies not synced yet")) {
			r.intent = fmt.Sprintf("intent: %q, reason %q", st.IntentPolicies, st.IntentReason)
			break
		}
	}
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

// latestRuntimeState is the newest sensor state among ns's Events, nil if
// none.
func latestRuntimeState(ctx context.Context, client *kubernetes.Clientset, ns string) *fleetapi.RuntimeSensorState {
	evs, err := client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	var latest *fleetapi.RuntimeSensorState
	for _, e := range evs.Items {
		var rep fleetapi.RuntimeReport
		if e.Reason != fleetapi.KubeEventReasonRuntimeState || json.Unmarshal([]byte(e.Annotations[fleetapi.KubeEventRuntimeAnnotation]), &rep) != nil || rep.Sensor == nil {
			continue
		}
		if latest == nil || rep.Sensor.UpdatedAt.After(latest.UpdatedAt) {
			latest = rep.Sensor
		}
	}
	return latest
}

func slicesContainsReason(evs []corev1.Event, reason string) bool {
	for _, e := range evs {
		if e.Reason == reason {
			return true
		}
	}
	return false
}

// rssCluster makes the cluster of BenchmarkRuntimeNodeRSS and returns its
// namespaces: 1,000 running pods on node n1 (250 Deployments of 4, their
// ReplicaSets as owners, two containers with statuses, a named port, an
// address) in 20 namespaces labelled by team; per namespace a default
// deny of ingress and egress, DNS egress, egress to the namespace's own
// pods and 7 ingress rules by role and team (200 NetworkPolicies); a
// Service per Deployment; through the CRDs of internal/runtimenode's
// tests, 5 ClusterNetworkPolicies (rssClusterPolicies: Accept, Pass,
// Deny, nodes peers, a Baseline) or the v1alpha1 admin tiers
// (rssAdminTiers); and 1,000 realistic Nodes (createNodes).
func rssCluster(ctx context.Context, b *testing.B, env *testenv.Env) []string {
	client := env.AdminClient(b)
	const nNamespaces, nPods, replicas = 20, 1000, 4
	nss := make([]string, nNamespaces)
	for i := range nss {
		nss[i] = env.CreateNamespace(ctx, b, "rss-", map[string]string{"team": fmt.Sprint("t", i%5)}).Name
	}
	ctrl := true
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range nPods {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			d := i / replicas
			ns, app := nss[d%nNamespaces], fmt.Sprintf("app-%03d", d)
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-7d9f-%d", app, i%replicas), Namespace: ns,
				Labels:          map[string]string{"app": app, "role": fmt.Sprint("r", d%7), "pod-template-hash": "7d9f"},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: app + "-7d9f", UID: types.UID(fmt.Sprintf("00000000-0000-4000-8000-%012d", d)), Controller: &ctrl}}},
				Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{
					{Name: "app", Image: fmt.Sprintf("registry.example.com/app-%d:1.0", i%50), Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}},
					{Name: "sidecar", Image: "registry.example.com/proxy:2"}}}}
			p, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
			if err != nil {
				b.Error(err)
				return
			}
			ip := fmt.Sprintf("10.244.%d.%d", i/250, i%250+1)
			p.Status.Phase, p.Status.PodIP, p.Status.PodIPs, p.Status.HostIP = corev1.PodRunning, ip, []corev1.PodIP{{IP: ip}}, "192.168.1.10"
			p.Status.ContainerStatuses = []corev1.ContainerStatus{
				{Name: "app", ContainerID: fmt.Sprintf("containerd://%064x", 2*i), ImageID: "registry.example.com/app@sha256:" + strings.Repeat("ab", 32)},
				{Name: "sidecar", ContainerID: fmt.Sprintf("containerd://%064x", 2*i+1), ImageID: "registry.example.com/proxy@sha256:" + strings.Repeat("cd", 32)}}
			if _, err := client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	http, dns := intstr.FromString("http"), intstr.FromInt32(53)
	for i, ns := range nss {
		pols := []*networkingv1.NetworkPolicy{
			{ObjectMeta: metav1.ObjectMeta{Name: "default-deny"}, Spec: networkingv1.NetworkPolicySpec{
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}}},
			{ObjectMeta: metav1.ObjectMeta{Name: "dns"}, Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}}}},
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &dns}, {Protocol: &tcp, Port: &dns}}}}}},
			{ObjectMeta: metav1.ObjectMeta{Name: "same-namespace"}, Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}}}},
		}
		for r := range 7 {
			pols = append(pols, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("ingress-r", r)}, Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"role": fmt.Sprint("r", r)}},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{
					NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": fmt.Sprint("t", (i+r)%5)}},
					PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"role": fmt.Sprint("r", (r+1)%7)}}}},
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &http}}}}}})
		}
		for _, p := range pols {
			if _, err := client.NetworkingV1().NetworkPolicies(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	for d := range nPods / replicas {
		app := fmt.Sprintf("app-%03d", d)
		if _, err := client.CoreV1().Services(nss[d%nNamespaces]).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: app}, Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": app}, Ports: []corev1.ServicePort{{Port: 80, TargetPort: http}}}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	// PALISADE_RUNTIME_RSS_ADMIN=v1alpha1 installs the v1alpha1 admin
	// tiers of the earlier figures instead of ClusterNetworkPolicies.
	if os.Getenv("PALISADE_RUNTIME_RSS_ADMIN") == "v1alpha1" {
		rssAdminTiers(ctx, b, env)
	} else {
		rssClusterPolicies(ctx, b, env)
	}
	createNodes(ctx, b, client, int(benchSeconds(b, "PALISADE_RUNTIME_NODES", 1000)))
	return nss
}

// rssClusterPolicies installs the ClusterNetworkPolicy CRD (v1alpha2) and
// rssAdminTiers' policies as ClusterNetworkPolicies, with one more whose
// egress rules have nodes peers (the control plane's API port denied, the
// workers' kubelets accepted for team t0).
func rssClusterPolicies(ctx context.Context, b *testing.B, env *testenv.Env) {
	policies := []string{
		`{metadata: {name: rss-allow-monitoring}, spec: {tier: Admin, priority: 1, subject: {namespaces: {}}, ingress: [{action: Accept,
  from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}], protocols: [{tcp: {destinationPort: {number: 9090}}}]}]}}`,
		`{metadata: {name: rss-pass-team-t0}, spec: {tier: Admin, priority: 5, subject: {namespaces: {matchLabels: {team: t0}}},
  egress: [{action: Pass, to: [{namespaces: {matchLabels: {team: t0}}}]}]}}`,
		`{metadata: {name: rss-deny-metadata}, spec: {tier: Admin, priority: 10, subject: {namespaces: {}},
  egress: [{action: Deny, to: [{networks: [169.254.169.254/32]}]}, {action: Deny, to: [{namespaces: {matchLabels: {team: t4}}}], protocols: [{tcp: {destinationPort: {range: {start: 5000, end: 5999}}}}]}]}}`,
		`{metadata: {name: rss-nodes}, spec: {tier: Admin, priority: 20, subject: {namespaces: {}},
  egress: [{action: Deny, to: [{nodes: {matchExpressions: [{key: node-role.kubernetes.io/control-plane, operator: Exists}]}}], protocols: [{tcp: {destinationPort: {number: 6443}}}]},
    {action: Accept, to: [{nodes: {matchLabels: {node-role.kubernetes.io/worker: ""}}}], protocols: [{tcp: {destinationPort: {number: 10250}}}]}]}}`,
		`{metadata: {name: rss-default}, spec: {tier: Baseline, priority: 0, subject: {namespaces: {}}, ingress: [{action: Deny, from: [{namespaces: {}}]}]}}`,
	}
	installCRDsAndPolicies(ctx, b, env, "../internal/runtimenode/testdata/crds/policy.networking.k8s.io_v1alpha2.yaml", "v1alpha2", policies, func(u *unstructured.Unstructured) string {
		u.SetKind("ClusterNetworkPolicy")
		return "clusternetworkpolicies"
	})
}

// rssAdminTiers installs the admin tiers' CRDs (if the API server does not
// serve them yet) and 3 AdminNetworkPolicies and the baseline.
func rssAdminTiers(ctx context.Context, b *testing.B, env *testenv.Env) {
	policies := []string{
		`{kind: AdminNetworkPolicy, metadata: {name: rss-allow-monitoring}, spec: {priority: 1, subject: {namespaces: {}}, ingress: [{action: Allow,
  from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}], ports: [{portNumber: {port: 9090}}]}]}}`,
		`{kind: AdminNetworkPolicy, metadata: {name: rss-pass-team-t0}, spec: {priority: 5, subject: {namespaces: {matchLabels: {team: t0}}},
  egress: [{action: Pass, to: [{namespaces: {matchLabels: {team: t0}}}]}]}}`,
		`{kind: AdminNetworkPolicy, metadata: {name: rss-deny-metadata}, spec: {priority: 10, subject: {namespaces: {}},
  egress: [{action: Deny, to: [{networks: [169.254.169.254/32]}]}, {action: Deny, to: [{namespaces: {matchLabels: {team: t4}}}], ports: [{portRange: {start: 5000, end: 5999}}]}]}}`,
		`{kind: BaselineAdminNetworkPolicy, metadata: {name: default}, spec: {subject: {namespaces: {}}, ingress: [{action: Deny, from: [{namespaces: {}}]}]}}`,
	}
	installCRDsAndPolicies(ctx, b, env, "../internal/runtimenode/testdata/crds/policy.networking.k8s.io_v1alpha1.yaml", "v1alpha1", policies, func(u *unstructured.Unstructured) string {
		if u.GetKind() == "BaselineAdminNetworkPolicy" {
			return "baselineadminnetworkpolicies"
		}
		return "adminnetworkpolicies"
	})
}

// installCRDsAndPolicies installs the CRDs of file (if the API server
// does not serve them yet) and the policies (YAML) in version of
// policy.networking.k8s.io; resource sets a policy's kind if it must and
// names its resource.
func installCRDsAndPolicies(ctx context.Context, b *testing.B, env *testenv.Env, file, version string, policies []string, resource func(*unstructured.Unstructured) string) {
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	var list unstructured.UnstructuredList
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		b.Fatal(err)
	}
	if doc["kind"] == "List" {
		list.SetUnstructuredContent(doc)
	} else {
		list.Items = []unstructured.Unstructured{{Object: doc}} // one CRD
	}
	crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for i := range list.Items {
		if _, err := dyn.Resource(crds).Create(ctx, &list.Items[i], metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			b.Fatal(err)
		}
	}
	for _, y := range policies {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(y), &u.Object); err != nil {
			b.Fatal(err)
		}
		res := resource(u)
		u.SetAPIVersion("policy.networking.k8s.io/" + version)
		gvr := schema.GroupVersionResource{Group: "policy.networking.k8s.io", Version: version, Resource: res}
		// The CRDs may need a moment to be served.
		err := testenv.WaitFor(ctx, func(ctx context.Context) (bool, error) {
			_, err := dyn.Resource(gvr).Create(ctx, u, metav1.CreateOptions{})
			switch {
			case err == nil || apierrors.IsAlreadyExists(err):
				return true, nil
			case apierrors.IsNotFound(err):
				return false, nil // not served yet
			}
			return false, err
		})
		if err != nil {
			b.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
}
