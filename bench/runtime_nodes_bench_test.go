package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/palisade-sec/palisade/internal/runtime/policyintent"
	"github.com/palisade-sec/palisade/internal/runtimenode"
	"github.com/palisade-sec/palisade/internal/testenv"
)

// realisticNode is node i as a kubeadm worker's kubelet reports it: the
// well-known labels and a few of a cloud's and a CNI's, the kubelet's and
// CNI's annotations, its pod CIDR and provider ID, capacity and
// allocatable, the five conditions with their messages, three addresses,
// node info, and 40 images (the kubelet reports up to 50) with a tag and a
// digest name each.
func realisticNode(i int) (*corev1.Node, corev1.NodeStatus) {
	name := fmt.Sprintf("edge-%04d", i)
	zone := fmt.Sprint("zone-", i%3)
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name,
		Labels: map[string]string{
			"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux",
			"kubernetes.io/hostname": name, "node.kubernetes.io/instance-type": "m6i.large", "topology.kubernetes.io/region": "eu-west-1",
			"topology.kubernetes.io/zone": zone, "node-role.kubernetes.io/worker": "", "palisade.dev/site": fmt.Sprint("site-", i%40),
		},
		Annotations: map[string]string{
			"kubeadm.alpha.kubernetes.io/cri-socket":                 "unix:///run/containerd/containerd.sock",
			"node.alpha.kubernetes.io/ttl":                           "0",
			"volumes.kubernetes.io/controller-managed-attach-detach": "true",
			"csi.volume.kubernetes.io/nodeid":                        fmt.Sprintf(`{"ebs.csi.aws.com":"i-0%015x"}`, i),
			"flannel.alpha.coreos.com/backend-data":                  fmt.Sprintf(`{"VNI":1,"VtepMAC":"02:42:%02x:%02x:%02x:01"}`, i/65536%256, i/256%256, i%256),
			"flannel.alpha.coreos.com/backend-type":                  "vxlan",
			"flannel.alpha.coreos.com/kube-subnet-manager":           "true",
			"flannel.alpha.coreos.com/public-ip":                     fmt.Sprintf("172.20.%d.%d", i/250, i%250+1),
		}},
		Spec: corev1.NodeSpec{PodCIDR: fmt.Sprintf("10.%d.%d.0/24", 64+i/256, i%256), PodCIDRs: []string{fmt.Sprintf("10.%d.%d.0/24", 64+i/256, i%256)},
			ProviderID: fmt.Sprintf("aws:///eu-west-1%c/i-0%015x", 'a'+i%3, i)},
	}
	q := resource.MustParse
	res := corev1.ResourceList{"cpu": q("2"), "memory": q("7910920Ki"), "pods": q("110"), "ephemeral-storage": q("83873772Ki"), "hugepages-1Gi": q("0"), "hugepages-2Mi": q("0")}
	alloc := corev1.ResourceList{"cpu": q("1930m"), "memory": q("7203336Ki"), "pods": q("110"), "ephemeral-storage": q("76224326324"), "hugepages-1Gi": q("0"), "hugepages-2Mi": q("0")}
	now := metav1.NewTime(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, LastHeartbeatTime: now, LastTransitionTime: now, Reason: reason, Message: msg}
	}
	st := corev1.NodeStatus{Capacity: res, Allocatable: alloc,
		Conditions: []corev1.NodeCondition{
			cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
			cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
			cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
			cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
			cond("NetworkUnavailable", "False", "FlannelIsUp", "Flannel is running on this node"),
		},
		Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("172.20.%d.%d", i/250, i%250+1)},
			{Type: corev1.NodeExternalIP, Address: fmt.Sprintf("198.18.%d.%d", i/250, i%250+1)}, {Type: corev1.NodeHostName, Address: name}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}},
		NodeInfo: corev1.NodeSystemInfo{MachineID: fmt.Sprintf("ec2%029x", i), SystemUUID: fmt.Sprintf("ec2%05x-0000-4000-8000-%012x", i, i), BootID: fmt.Sprintf("%08x-1111-4222-8333-%012x", i, i),
			KernelVersion: "6.1.0-28-cloud-amd64", OSImage: "Debian GNU/Linux 12 (bookworm)", ContainerRuntimeVersion: "containerd://1.7.24",
			KubeletVersion: "v1.31.4", OperatingSystem: "linux", Architecture: "amd64"},
	}
	for k := range 40 {
		repo := fmt.Sprintf("registry.example.com/team-%d/service-%02d", k%6, (k+i)%60)
		st.Images = append(st.Images, corev1.ContainerImage{Names: []string{fmt.Sprintf("%s@sha256:%064x", repo, k*7919+i%13), fmt.Sprintf("%s:v1.%d.%d", repo, k%9, i%5)},
			SizeBytes: int64(12_000_000 + k*3_100_000)})
	}
	return n, st
}

// createNodes creates count realistic Nodes through the API server (the
// spec and metadata, then the status, as the kubelet writes them), so the
// objects listed carry the server's managed fields; Nodes left by an
// earlier run are kept.
func createNodes(ctx context.Context, b *testing.B, client kubernetes.Interface, count int) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range count {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			n, st := realisticNode(i)
			created, err := client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{FieldManager: "kubelet"})
			if apierrors.IsAlreadyExists(err) {
				return
			}
			if err != nil {
				b.Error(err)
				return
			}
			created.Status = st
			if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{FieldManager: "kubelet"}); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
}

// BenchmarkRuntimeNodeCache measures the node sensor's Node cache at
// PALISADE_RUNTIME_NODES (default 1,000) realistic Nodes listed from the
// real API server (realisticNode): the heap of an informer's cache of
// the whole objects and of the objects stripped by the sensor's
// transform (runtimenode.StripNode), a Node's size as served (JSON), and
// what the Nodes add to one policy-intent snapshot of BenchmarkRuntimeIntent's
// 1,000-pod cluster. Needs the control plane; figures in bench/README.md.
//
//	go test ./bench -run x -bench RuntimeNodeCache -benchtime 1x
func BenchmarkRuntimeNodeCache(b *testing.B) {
	count := int(benchSeconds(b, "PALISADE_RUNTIME_NODES", 1000))
	env := testenv.Shared(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	client := env.AdminClient(b)
	createNodes(ctx, b, client, count)
	if b.Failed() {
		return
	}
	one, err := client.CoreV1().Nodes().Get(ctx, "edge-0000", metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	raw, _ := json.Marshal(one)
	cached := func(transform cache.TransformFunc) (uint64, []*corev1.Node) {
		before := heapAlloc()
		f := informers.NewSharedInformerFactory(client, 0)
		inf := f.Core().V1().Nodes().Informer()
		if transform != nil {
			if err := inf.SetTransform(transform); err != nil {
				b.Fatal(err)
			}
		}
		stop := make(chan struct{})
		f.Start(stop)
		f.WaitForCacheSync(stop)
		var nodes []*corev1.Node
		for _, o := range inf.GetStore().List() {
			nodes = append(nodes, o.(*corev1.Node))
		}
		heap := heapAlloc() - before
		close(stop)
		f.Shutdown()
		return heap, nodes
	}
	for range b.N {
		// The snapshot first, from a plain list: a stopped informer's
		// cache is freed while later heap figures are taken.
		list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		var nodes []*corev1.Node
		for i := range list.Items {
			o, _ := runtimenode.StripNode(&list.Items[i])
			nodes = append(nodes, o.(*corev1.Node))
		}
		if len(nodes) < count {
			b.Fatalf("%d Nodes listed, want %d", len(nodes), count)
		}
		pods, nss, pols, svcs := intentCluster()
		tiers := intentAdminTiers()
		before := heapAlloc()
		s1 := policyintent.Build(pods, nss, pols, svcs, tiers)
		without := heapAlloc() - before
		before = heapAlloc()
		start := time.Now()
		s2 := policyintent.BuildWithNodes(pods, nss, pols, svcs, tiers, nodes)
		build := time.Since(start)
		with := heapAlloc() - before
		// The inputs too: dead after the last Build, they would be
		// freed inside its measurement.
		runtime.KeepAlive([]any{s1, s2, pods, nss, pols, svcs, tiers, nodes})
		whole, _ := cached(nil)
		stripped, _ := cached(runtimenode.StripNode)
		fmt.Fprintf(os.Stderr, "%d Nodes: one served %d bytes (JSON, with managed fields); cache whole %.2f MiB, stripped %.2f MiB; snapshot %.2f → %.2f MiB, built in %v; load1 %.1f\n",
			len(nodes), len(raw), float64(whole)/(1<<20), float64(stripped)/(1<<20), float64(without)/(1<<20), float64(with)/(1<<20), build, load1())
		b.ReportMetric(float64(whole)/(1<<20), "cache-whole-MiB")
		b.ReportMetric(float64(stripped)/(1<<20), "cache-stripped-MiB")
		b.ReportMetric((float64(with)-float64(without))/(1<<20), "snapshot-nodes-MiB")
	}
}
