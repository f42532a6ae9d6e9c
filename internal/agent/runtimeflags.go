package agent

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	rt "github.com/palisade-sec/palisade/internal/runtime"
)

// bindRuntime registers the runtime sensor's flags: --runtime-events on
// the cluster agent, --runtime and its settings on the node sensor.
func (f *Flags) bindRuntime(fs *pflag.FlagSet) {
	fs.BoolVar(&f.RuntimeEvents, "runtime-events", true, "forward the runtime sensors' Kubernetes Events (reportingComponent palisade-runtime, deploy/runtime) to the hub (needs list and watch on events)")
	fs.StringVar(&f.RuntimeLedger, "runtime-ledger", "", "NAMESPACE/NAME of the runtime sensors' ledger ConfigMap (deploy/runtime: palisade-system/"+fleetapi.RuntimeLedgerName+"), read at start and every 30s so runtime findings reach the hub even after their Events expired (needs get on that ConfigMap; deploy/agent's Role)")
	fs.StringVar(&f.RuntimeImageFiles, "runtime-image-files", "", "NAMESPACE/PREFIX of the ConfigMaps PREFIX0…PREFIX7 where each scanned image's executable paths are published (hashed) for the runtime sensors' drift check (deploy/runtime creates palisade-system/"+rt.ImageFilesPrefix+"N; needs get and update on them; deploy/agent's Role); \"\": not published")
	fs.BoolVar(&f.Runtime, "runtime", false, "run as this node's eBPF runtime sensor (the runtime DaemonSet, docs/runtime.md) instead of the cluster agent: findings and the sensor's state are written as Kubernetes Events that the agent forwards; needs no hub flags")
	fs.StringVar(&f.RuntimeNode.Node, "node-name", "", "with --runtime: this node's name (default: $NODE_NAME, from the downward API)")
	fs.StringVar(&f.RuntimeNode.Namespace, "runtime-namespace", "palisade-system", "with --runtime: namespace of the Events about the node (sensor state, host findings)")
	fs.StringVar(&f.RuntimeNode.BTFPath, "runtime-btf", "", "with --runtime: kernel BTF file (default: the running kernel's /sys/kernel/btf/vmlinux)")
	fs.DurationVar(&f.RuntimeNode.ConnectWindow, "runtime-connect-window", time.Minute, "with --runtime: report one connect per container and destination within this window (kernel-side)")
	fs.IntVar(&f.RuntimeNode.RingBytes, "runtime-ring-bytes", rt.DefaultRingBytes, "with --runtime: the sensor's ring buffer, a power of two from 64 KiB to 256 MiB: what it holds is what a burst can queue while the reader is not scheduled (96 bytes per connect or send); it costs twice its size in RSS (docs/runtime.md, Overhead)")
	fs.BoolVar(&f.RuntimeNode.ContainersOnly, "runtime-containers-only", true, "with --runtime: drop host processes' events in the kernel (the root cgroup's)")
	fs.StringVar(&f.RuntimeNode.CgroupRoot, "runtime-cgroup-root", "", "with --runtime: the host's cgroup v2 hierarchy, mounted read-only into the pod (deploy/runtime: /host/sys/fs/cgroup); default: the cgroup2 mount in /proc/self/mountinfo, which in a container is only its own cgroup")
	fs.StringVar(&f.RuntimeNode.DetectionsFile, "runtime-detections", "", "with --runtime: custom CEL detections over the sensor's events (kind RuntimeDetections, docs/runtime.md), e.g. a mounted ConfigMap")
	fs.StringVar(&f.RuntimeNode.Ledger, "runtime-node-ledger", fleetapi.RuntimeLedgerName, "with --runtime: ConfigMap in --runtime-namespace where the node keeps its newest findings so they outlive their Events (needs get and patch on it; deploy/runtime creates it); \"\" keeps none")
	fs.IntVar(&f.RuntimeNode.LedgerFindings, "runtime-ledger-findings", fleetapi.RuntimeLedgerPerNode, "with --runtime: distinct findings the node keeps in the ledger (the newest; the ConfigMap's 1 MiB is shared by all nodes: each entry is at most 2 KiB)")
	fs.DurationVar(&f.RuntimeNode.ObserveEvery, "runtime-observe-every", time.Minute, "with --runtime: how often the workloads' observations (binaries, peers, ports) are written for the hub's learned profiles (negative: none)")
	fs.BoolVar(&f.RuntimeNode.PolicyIntent, "runtime-policy-intent", true, "with --runtime: judge each established connection against the cluster's NetworkPolicies (PAL-RT-011: denied yet established means enforcement is missing or broken); watches pods, namespaces, NetworkPolicies and Services cluster-wide (list and watch)")
	fs.StringVar(&f.RuntimeNode.HostRoot, "runtime-host-root", "", "with --runtime: where the host's container snapshot directories are mounted read-only (deploy/runtime with overlay evidence: /host); the drift check then tells a container's writable overlay layer from the image's layers. Empty: the change-time test only")
	fs.StringVar(&f.RuntimeNode.ImageFiles, "runtime-image-files-prefix", rt.ImageFilesPrefix, "with --runtime: the agent's published image file lists (ConfigMaps PREFIX0…PREFIX7 in --runtime-namespace, --runtime-image-files on the agent): an executed binary not in its image's list is drift (evidence SBOM); needs get on them; \"\": not read")
	fs.IntVar(&f.RuntimeNode.FindingsPerMinute, "runtime-findings-per-minute", 120, "with --runtime: most finding Events written per minute; the excess is counted as a coverage gap")
}

// ResolveRuntime completes the node sensor's configuration: the node name
// from NODE_NAME when not given.
func (f *Flags) ResolveRuntime(getenv func(string) string) RuntimeNodeConfig {
	c := f.RuntimeNode
	if c.Node == "" {
		c.Node = getenv("NODE_NAME")
	}
	return c
}
