package agent

// The node runtime sensors (internal/runtimenode) write their state and findings
// as Kubernetes Events; the agent watches them by field selector
// reportingComponent=palisade-runtime (watchKubeEvents) and forwards them through the outbox
// as runtime reports. Replays (the informer lists the last hour's Events
// again after a restart) are harmless: the hub keys runtime findings on
// (cluster, ID) and keeps the newest state per node.

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/runtimenode"
)

// maxPendingRuntime bounds the findings waiting for the next flush (the
// excess is counted in RuntimeEventsDropped).
const maxPendingRuntime = 2000

// runtimeWatch forwards node sensor Events to the outbox and keeps each
// node's last state for the agent's status.
type runtimeWatch struct {
	a       *Agent
	mu      sync.Mutex
	pending map[string]*fleetapi.RuntimeReport // by node
	queued  int
	sensors map[string]fleetapi.RuntimeSensorState
	dropped atomic.Uint64
}

// RuntimeEventsDropped is the number of node sensor Events the agent could
// not forward (unreadable, or more than it holds between flushes).
func (a *Agent) RuntimeEventsDropped() uint64 { return a.rtWatch.dropped.Load() }

// RuntimeSensors is the last state each node's runtime sensor reported,
// by node.
func (a *Agent) RuntimeSensors() map[string]fleetapi.RuntimeSensorState {
	w := &a.rtWatch
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]fleetapi.RuntimeSensorState, len(w.sensors))
	for k, v := range w.sensors {
		out[k] = v
	}
	return out
}

// queue merges rep into its node's pending report; false when
// maxPendingRuntime findings wait.
func (w *runtimeWatch) queue(rep fleetapi.RuntimeReport) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.queued+len(rep.Findings)+len(rep.Observations) > maxPendingRuntime {
		return false
	}
	if w.pending == nil {
		w.pending = map[string]*fleetapi.RuntimeReport{}
	}
	if w.sensors == nil {
		w.sensors = map[string]fleetapi.RuntimeSensorState{}
	}
	p := w.pending[rep.Node]
	if p == nil {
		p = &fleetapi.RuntimeReport{Node: rep.Node}
		w.pending[rep.Node] = p
	}
	p.Findings = append(p.Findings, rep.Findings...)
	p.Observations = append(p.Observations, rep.Observations...)
	w.queued += len(rep.Findings) + len(rep.Observations)
	if s := rep.Sensor; s != nil && (p.Sensor == nil || !s.UpdatedAt.Before(p.Sensor.UpdatedAt)) {
		p.Sensor = s
		if old, ok := w.sensors[rep.Node]; !ok || !s.UpdatedAt.Before(old.UpdatedAt) {
			if s.Mode != "ok" && (!ok || old.Mode == "ok") {
				w.a.log.Warn("runtime sensor degraded", slog.String("node", rep.Node), slog.String("reason", s.Reason))
			}
			w.sensors[rep.Node] = *s
		}
	}
	return true
}

func (w *runtimeWatch) flush() {
	w.mu.Lock()
	pending := w.pending
	w.pending, w.queued = nil, 0
	w.mu.Unlock()
	nodes := make([]string, 0, len(pending))
	for n := range pending {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		for _, rep := range runtimenode.SplitReport(pending[n]) {
			if err := w.a.enqueue(&fleetapi.Envelope{Kind: fleetapi.KindRuntime, Runtime: rep}); err != nil {
				w.dropped.Add(uint64(len(rep.Findings)+len(rep.Observations)) + 1)
				w.a.log.Warn("runtime report not queued for the hub", slog.String("node", n), slog.Any("error", err))
			}
		}
	}
}

// watchRuntimeEvents runs until ctx ends.
func (a *Agent) watchRuntimeEvents(ctx context.Context) {
	w := &a.rtWatch
	watchKubeEvents(ctx, a, kubeEventWatch[fleetapi.RuntimeReport]{what: "runtime", component: fleetapi.KubeEventRuntimeComponent,
		convert: runtimenode.ReportFromEvent, queue: w.queue, flush: w.flush, dropped: &w.dropped})
}
