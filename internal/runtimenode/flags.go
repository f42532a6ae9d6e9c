package runtimenode

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	rt "github.com/palisade-sec/palisade/internal/runtime"
)

// Bind registers the node sensor's flags on fs: the same flags whether the
// sensor runs as `palisade-runtime` (the runtime DaemonSet's lean binary)
// or as `palisade-agent --runtime`.
func (c *Config) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&c.Node, "node-name", "", "with --runtime: this node's name (default: $NODE_NAME, from the downward API)")
	fs.StringVar(&c.Namespace, "runtime-namespace", "palisade-system", "with --runtime: namespace of the Events about the node (sensor state, host findings)")
	fs.StringVar(&c.BTFPath, "runtime-btf", "", "with --runtime: kernel BTF file (default: the running kernel's /sys/kernel/btf/vmlinux)")
	fs.DurationVar(&c.ConnectWindow, "runtime-connect-window", time.Minute, "with --runtime: report one connect per container and destination within this window (kernel-side)")
	fs.IntVar(&c.RingBytes, "runtime-ring-bytes", rt.DefaultRingBytes, "with --runtime: the sensor's ring buffer, a power of two from 64 KiB to 256 MiB: what it holds is what a burst can queue while the reader is not scheduled (96 bytes per connect or send); it costs twice its size in RSS (docs/runtime.md, Overhead)")
	fs.BoolVar(&c.ContainersOnly, "runtime-containers-only", true, "with --runtime: drop host processes' events in the kernel (the root cgroup's)")
	fs.StringVar(&c.CgroupRoot, "runtime-cgroup-root", "", "with --runtime: the host's cgroup v2 hierarchy, mounted read-only into the pod (deploy/runtime: /host/sys/fs/cgroup); default: the cgroup2 mount in /proc/self/mountinfo, which in a container is only its own cgroup")
	fs.StringVar(&c.DetectionsFile, "runtime-detections", "", "with --runtime: custom CEL detections over the sensor's events (kind RuntimeDetections, docs/runtime.md), e.g. a mounted ConfigMap")
	fs.StringVar(&c.Ledger, "runtime-node-ledger", fleetapi.RuntimeLedgerName, "with --runtime: ConfigMap in --runtime-namespace where the node keeps its newest findings so they outlive their Events (needs get and patch on it; deploy/runtime creates it); \"\" keeps none")
	fs.IntVar(&c.LedgerFindings, "runtime-ledger-findings", fleetapi.RuntimeLedgerPerNode, "with --runtime: distinct findings the node keeps in the ledger (the newest; the ConfigMap's 1 MiB is shared by all nodes: each entry is at most 2 KiB)")
	fs.DurationVar(&c.ObserveEvery, "runtime-observe-every", time.Minute, "with --runtime: how often the workloads' observations (binaries, peers, ports) are written for the hub's learned profiles (negative: none)")
	fs.BoolVar(&c.PolicyIntent, "runtime-policy-intent", true, "with --runtime: judge each established connection against the cluster's network policies (PAL-RT-011: denied yet established means enforcement is missing or broken); watches pods, namespaces, NetworkPolicies and Services cluster-wide, and AdminNetworkPolicies and BaselineAdminNetworkPolicies (policy.networking.k8s.io/v1alpha1) where the cluster serves them (list and watch)")
	fs.StringVar(&c.HostRoot, "runtime-host-root", "", "with --runtime: where the host's container snapshot directories are mounted read-only (deploy/runtime with overlay evidence: /host); the drift check then tells a container's writable overlay layer from the image's layers. Empty: the change-time test only")
	fs.StringVar(&c.ImageFiles, "runtime-image-files-prefix", rt.ImageFilesPrefix, "with --runtime: the agent's published image file lists (ConfigMaps PREFIX0…PREFIX7 in --runtime-namespace, --runtime-image-files on the agent): an executed binary not in its image's list is drift (evidence SBOM); needs get on them; \"\": not read")
	fs.IntVar(&c.FindingsPerMinute, "runtime-findings-per-minute", 120, "with --runtime: most finding Events written per minute; the excess is counted as a coverage gap")
}

// Resolve completes the configuration: the node name from NODE_NAME when
// not given.
func (c Config) Resolve(getenv func(string) string) Config {
	if c.Node == "" {
		c.Node = getenv("NODE_NAME")
	}
	return c
}
