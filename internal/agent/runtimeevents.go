package agent

// The node runtime sensors (runtimenode.go) write their state and findings
// as Kubernetes Events; the agent watches them by field selector
// reportingComponent=palisade-runtime (watchKubeEvents) and forwards them through the outbox
// as runtime reports. Replays (the informer lists the last hour's Events
// again after a restart) are harmless: the hub keys runtime findings on
// (cluster, ID) and keeps the newest state per node.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// Bounds of the runtime Event watch: one annotation's JSON, findings per
// Event, findings waiting for the next flush (the excess is counted in
// RuntimeEventsDropped).
const (
	maxRuntimeAnnotation = 64 << 10
	maxRuntimeFindings   = 16
	maxPendingRuntime    = 2000
	maxRuntimeMessage    = 2048
)

// runtimeFromKubeEvent reads one node sensor Event; an Event that is not
// one, or whose report cannot be read, is an error naming it.
func runtimeFromKubeEvent(ev *corev1.Event) (fleetapi.RuntimeReport, error) {
	var rep fleetapi.RuntimeReport
	where := "event " + ev.Namespace + "/" + ev.Name
	if ev.Reason != fleetapi.KubeEventReasonRuntimeFinding && ev.Reason != fleetapi.KubeEventReasonRuntimeState && ev.Reason != fleetapi.KubeEventReasonRuntimeObservations {
		return rep, fmt.Errorf("%s: reason %q is not a Palisade runtime event", where, ev.Reason)
	}
	raw := ev.Annotations[fleetapi.KubeEventRuntimeAnnotation]
	if raw == "" {
		return rep, fmt.Errorf("%s: no %s annotation", where, fleetapi.KubeEventRuntimeAnnotation)
	}
	if len(raw) > maxRuntimeAnnotation {
		return rep, fmt.Errorf("%s: annotation %s of %d bytes, over %d", where, fleetapi.KubeEventRuntimeAnnotation, len(raw), maxRuntimeAnnotation)
	}
	if err := json.Unmarshal([]byte(raw), &rep); err != nil {
		return rep, fmt.Errorf("%s: annotation %s: %w", where, fleetapi.KubeEventRuntimeAnnotation, err)
	}
	if rep.Node == "" {
		return rep, fmt.Errorf("%s: runtime report names no node", where)
	}
	if len(rep.Findings) > maxRuntimeFindings {
		return rep, fmt.Errorf("%s: %d runtime findings in one Event, over %d", where, len(rep.Findings), maxRuntimeFindings)
	}
	if ev.Reason == fleetapi.KubeEventReasonRuntimeObservations {
		return rep, checkObservationEvent(where, &rep)
	}
	if (ev.Reason == fleetapi.KubeEventReasonRuntimeState) != (rep.Sensor != nil) || (rep.Sensor == nil && len(rep.Findings) == 0) || len(rep.Observations) > 0 {
		return rep, fmt.Errorf("%s: reason %s does not match its report", where, ev.Reason)
	}
	for i := range rep.Findings {
		f := &rep.Findings[i]
		if f.ID == "" || f.F.RuleID == "" {
			return rep, fmt.Errorf("%s: runtime finding %d without an ID or rule", where, i)
		}
		if len(f.F.Message) > maxRuntimeMessage {
			f.F.Message = f.F.Message[:maxRuntimeMessage]
		}
	}
	return rep, nil
}

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
		for _, rep := range splitRuntimeReport(pending[n]) {
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
		convert: runtimeFromKubeEvent, queue: w.queue, flush: w.flush, dropped: &w.dropped})
}
