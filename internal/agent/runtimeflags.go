package agent

import (
	"github.com/spf13/pflag"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	rt "github.com/palisade-sec/palisade/internal/runtime"
	"github.com/palisade-sec/palisade/internal/runtimenode"
)

// bindRuntime registers the runtime sensor's flags: --runtime-events on
// the cluster agent, --runtime and its settings on the node sensor.
func (f *Flags) bindRuntime(fs *pflag.FlagSet) {
	fs.BoolVar(&f.RuntimeEvents, "runtime-events", true, "forward the runtime sensors' Kubernetes Events (reportingComponent palisade-runtime, deploy/runtime) to the hub (needs list and watch on events)")
	fs.StringVar(&f.RuntimeLedger, "runtime-ledger", "", "NAMESPACE/NAME of the runtime sensors' ledger ConfigMap (deploy/runtime: palisade-system/"+fleetapi.RuntimeLedgerName+"), read at start and every 30s so runtime findings reach the hub even after their Events expired (needs get on that ConfigMap; deploy/agent's Role)")
	fs.StringVar(&f.RuntimeImageFiles, "runtime-image-files", "", "NAMESPACE/PREFIX of the ConfigMaps PREFIX0…PREFIX7 where each scanned image's executable paths are published (hashed) for the runtime sensors' drift check (deploy/runtime creates palisade-system/"+rt.ImageFilesPrefix+"N; needs get and update on them; deploy/agent's Role); \"\": not published")
	f.RuntimeNode.Bind(fs)
	fs.BoolVar(&f.Runtime, "runtime", false, "run as this node's eBPF runtime sensor (the runtime DaemonSet, docs/runtime.md) instead of the cluster agent: findings and the sensor's state are written as Kubernetes Events that the agent forwards; needs no hub flags")
}

// ResolveRuntime completes the node sensor's configuration
// (runtimenode.Config.Resolve).
func (f *Flags) ResolveRuntime(getenv func(string) string) runtimenode.Config {
	return f.RuntimeNode.Resolve(getenv)
}
