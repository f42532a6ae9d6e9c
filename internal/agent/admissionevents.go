package agent

// The admission webhook runs in its own Deployment and cannot reach the
// hub; it writes each break-glass use (and refused attempt) as a
// Kubernetes Event (internal/admission's KubeEventSink). The agent
// watches those Events by field selector reportingComponent=
// palisade-admission (watchKubeEvents) and records them with RecordAdmission, so they reach
// the hub through the durable outbox. Replays (the informer's initial
// list after a restart lists the last hour's Events again) are harmless:
// the hub keys admission events on (cluster, review UID).

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// Bounds of the admission event watch: at most maxPendingAdmission
// events wait for the next flush (every eventFlushEvery); the excess
// is counted in AdmissionEventsDropped. The webhook's own rate limit
// keeps a healthy cluster far below this.
const (
	maxPendingAdmission = 1000
	maxAdmissionMessage = 1024
)

// webhookEvent is the part of the webhook's admission event JSON
// (schema palisade.io/admission-event/v1; fields are only added) that the
// hub keeps.
type webhookEvent struct {
	Time             time.Time `json:"time"`
	Type             string    `json:"type"`
	Allowed          bool      `json:"allowed"`
	UID              string    `json:"uid"`
	Operation        string    `json:"operation"`
	Kind             string    `json:"kind"`
	Namespace        string    `json:"namespace"`
	Name             string    `json:"name"`
	User             string    `json:"user"`
	Groups           []string  `json:"groups"`
	BreakGlassReason string    `json:"breakGlassReason"`
	Images           []string  `json:"images"`
	Violations       []struct {
		RuleID string `json:"ruleID"`
		Image  string `json:"image"`
	} `json:"violations"`
}

// admissionFromKubeEvent converts one webhook Event; an Event not from
// the webhook, or whose annotation cannot be read, is an error naming it.
func admissionFromKubeEvent(ev *corev1.Event) (fleetapi.AdmissionEvent, error) {
	var out fleetapi.AdmissionEvent
	where := "event " + ev.Namespace + "/" + ev.Name
	if ev.Reason != fleetapi.KubeEventReasonBreakGlass && ev.Reason != fleetapi.KubeEventReasonBreakGlassRefused {
		return out, fmt.Errorf("%s: reason %q is not a Palisade admission event", where, ev.Reason)
	}
	raw := ev.Annotations[fleetapi.KubeEventAnnotation]
	if raw == "" {
		return out, fmt.Errorf("%s: no %s annotation", where, fleetapi.KubeEventAnnotation)
	}
	var w webhookEvent
	if err := json.Unmarshal([]byte(raw), &w); err != nil {
		return out, fmt.Errorf("%s: annotation %s: %w", where, fleetapi.KubeEventAnnotation, err)
	}
	if w.UID == "" {
		w.UID = string(ev.UID)
	}
	if w.Time.IsZero() {
		w.Time = ev.CreationTimestamp.Time
	}
	kind := w.Kind
	if i := strings.LastIndex(kind, "/"); i >= 0 {
		kind = kind[i+1:]
	}
	out = fleetapi.AdmissionEvent{
		Time: w.Time.UTC(), UID: w.UID, Operation: w.Operation, User: w.User,
		Object: finding.ObjectRef{Kind: kind, Namespace: w.Namespace, Name: w.Name},
	}
	var images []string
	seen := map[string]bool{}
	for _, im := range w.Images {
		if !seen["i"+im] {
			seen["i"+im] = true
			images = append(images, im)
		}
	}
	for _, v := range w.Violations {
		if !seen["r"+v.RuleID] {
			seen["r"+v.RuleID] = true
			out.Rules = append(out.Rules, v.RuleID)
		}
		if v.Image != "" && !seen["i"+v.Image] {
			seen["i"+v.Image] = true
			images = append(images, v.Image)
		}
	}
	var msg strings.Builder
	if ev.Reason == fleetapi.KubeEventReasonBreakGlass {
		out.Decision, out.BreakGlass = "allowed", true
		fmt.Fprintf(&msg, "break-glass: %q", w.BreakGlassReason)
	} else {
		out.Decision = "denied"
		if w.Allowed {
			out.Decision = "allowed"
		}
		fmt.Fprintf(&msg, "break-glass refused: %q", w.BreakGlassReason)
	}
	if len(w.Groups) > 0 {
		fmt.Fprintf(&msg, "; groups: %s", strings.Join(w.Groups, ", "))
	}
	if len(images) > 0 {
		fmt.Fprintf(&msg, "; images: %s", strings.Join(images, ", "))
	}
	out.Message = msg.String()
	if len(out.Message) > maxAdmissionMessage {
		out.Message = out.Message[:maxAdmissionMessage]
	}
	return out, nil
}

// admissionWatch forwards webhook Events to the outbox.
type admissionWatch struct {
	a       *Agent
	mu      sync.Mutex
	pending []fleetapi.AdmissionEvent
	dropped atomic.Uint64
}

// AdmissionEventsDropped is the number of webhook Events the agent could
// not record (unreadable, or more than it holds between flushes).
func (a *Agent) AdmissionEventsDropped() uint64 { return a.admWatch.dropped.Load() }

// queue keeps e for the next flush; false when maxPendingAdmission wait.
func (w *admissionWatch) queue(e fleetapi.AdmissionEvent) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pending) >= maxPendingAdmission {
		return false
	}
	w.pending = append(w.pending, e)
	return true
}

func (w *admissionWatch) flush() {
	w.mu.Lock()
	evs := w.pending
	w.pending = nil
	w.mu.Unlock()
	if err := w.a.RecordAdmission(evs...); err != nil {
		w.dropped.Add(uint64(len(evs)))
		w.a.log.Warn("admission events not queued for the hub", slog.Int("events", len(evs)), slog.Any("error", err))
	}
}

// watchAdmissionEvents runs until ctx ends.
func (a *Agent) watchAdmissionEvents(ctx context.Context) {
	w := &a.admWatch
	watchKubeEvents(ctx, a, kubeEventWatch[fleetapi.AdmissionEvent]{what: "admission", component: fleetapi.KubeEventReportingComponent,
		convert: admissionFromKubeEvent, queue: w.queue, flush: w.flush, dropped: &w.dropped})
}
