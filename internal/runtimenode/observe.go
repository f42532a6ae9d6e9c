package runtimenode

// A node sensor summarises what each workload on its node executed and
// talked to (runtime.Observer) every ObserveEvery, and writes the
// summaries as Events (reason PalisadeRuntimeObservations, regarding its
// Node) for the agent to forward: the hub learns workload profiles from
// them (internal/runtime/profile).

import (
	"context"
	"encoding/json"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	rt "github.com/palisade-sec/palisade/internal/runtime"
	"github.com/palisade-sec/palisade/internal/runtime/profile"
)

// maxObservationEvent bounds the report JSON of one observation Event,
// below the agent's maxRuntimeAnnotation.
const maxObservationEvent = 48 << 10

func (n *Node) observeLoop(ctx context.Context, o *rt.Observer) {
	t := time.NewTicker(n.cfg.ObserveEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// The Event writer stops with ctx: what was seen since the
			// last summary (at most ObserveEvery) is not written.
			return
		case <-t.C:
			n.writeObservations(ctx, o.Flush(n.cfg.Now()))
		}
	}
}

// writeObservations queues the observations as Events of at most
// maxObservationEvent bytes each; an observation too large alone is split
// (binaries and connections halved), and what cannot be queued is
// counted in the state's ObservationsDropped.
func (n *Node) writeObservations(ctx context.Context, obs []profile.Observation) {
	var batch []profile.Observation
	size := 0
	flush := func() {
		if len(batch) == 0 {
			return
		}
		rep := fleetapi.RuntimeReport{Node: n.cfg.Node, Observations: batch}
		ev := n.kubeEvent(n.cfg.Namespace, n.nodeRef(), fleetapi.KubeEventReasonRuntimeObservations, corev1.EventTypeNormal, "runtime workload observations", &rep)
		select {
		case n.queue <- ev:
		case <-ctx.Done():
			n.obsDropped.Add(uint64(len(batch)))
		case <-time.After(5 * time.Second):
			n.obsDropped.Add(uint64(len(batch)))
		}
		batch, size = nil, 0
	}
	for _, o := range splitObservations(obs, maxObservationEvent-256) {
		raw, err := json.Marshal(o)
		if err != nil || len(raw) > maxObservationEvent-256 {
			n.obsDropped.Add(1)
			continue
		}
		if size+len(raw)+1 > maxObservationEvent-256 {
			flush()
		}
		batch = append(batch, o)
		size += len(raw) + 1
	}
	flush()
}

// splitObservations returns obs with every observation whose JSON is over
// limit split in two, until each fits or holds a single item.
func splitObservations(obs []profile.Observation, limit int) []profile.Observation {
	out := make([]profile.Observation, 0, len(obs))
	for _, o := range obs {
		raw, _ := json.Marshal(o)
		if len(raw) <= limit || len(o.Binaries)+len(o.Connections) <= 1 {
			out = append(out, o)
			continue
		}
		a, b := o, o
		a.Overflow, b.Overflow = o.Overflow, 0
		if nb := len(o.Binaries); nb > 1 || len(o.Connections) == 0 {
			a.Binaries, b.Binaries = o.Binaries[:nb/2], o.Binaries[nb/2:]
			b.Connections, a.Connections = o.Connections, nil
		} else {
			nc := len(o.Connections)
			a.Connections, b.Connections = o.Connections[:nc/2], o.Connections[nc/2:]
		}
		out = append(out, splitObservations([]profile.Observation{a, b}, limit)...)
	}
	return out
}
