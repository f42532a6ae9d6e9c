package admission

// Channel to the hub. The webhook runs in its own Deployment, apart from
// the agent that talks to the hub, so break-glass uses reach the hub as
// Kubernetes Events: the webhook creates one core/v1 Event per
// break-glass admission (and per refused break-glass attempt) in the
// admitted object's namespace, reason PalisadeBreakGlass or
// PalisadeBreakGlassRefused, reportingComponent palisade-admission, with
// the full admission Event as JSON in the EventJSONAnnotation. The agent
// already holds an API-server watch connection, so it lists/watches
// Events by field selector (reason) and records each with RecordAdmission
// into its durable outbox, which the hub stores like any admission
// event. This needs no new port, credential or network path between the
// two Deployments, survives an agent restart (Events live an hour in the
// API server and the hub dedupes on the review UID), and costs the
// webhook only RBAC create on events.
//
// Best effort and bounded: Emit never blocks the review. A token bucket
// (EventRate per second, EventBurst) and a bounded queue decide; an
// event refused by either is counted in Dropped (and the
// palisade_admission_kube_events_dropped_total metric) and still logged
// by the LogSink.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// Kubernetes Event identity of admission events, shared with the agent
// through fleetapi (the agent does not link this package).
const (
	KubeEventReasonBreakGlass        = fleetapi.KubeEventReasonBreakGlass
	KubeEventReasonBreakGlassRefused = fleetapi.KubeEventReasonBreakGlassRefused
	KubeEventReportingComponent      = fleetapi.KubeEventReportingComponent
	// EventJSONAnnotation holds the admission Event (EventSchemaVersion).
	EventJSONAnnotation = fleetapi.KubeEventAnnotation
)

// Default bounds of a KubeEventSink.
const (
	DefaultEventRate  = 5.0
	DefaultEventBurst = 20
	eventQueue        = 64
	// maxEventJSON bounds the annotation (violations are many at worst).
	maxEventJSON = 32 << 10
)

// KubeEventSink creates a Kubernetes Event for each break-glass use or
// refused attempt. Run must be running for events to be written.
type KubeEventSink struct {
	client  kubernetes.Interface
	log     *slog.Logger
	limiter *rate.Limiter
	queue   chan *Event
	dropped atomic.Uint64
	created atomic.Uint64
	host    string
	// ledger, when set, also records each event durably (ledger.go);
	// ledgerFailed counts the appends that failed.
	ledger       *BreakGlassLedger
	ledgerFailed atomic.Uint64
}

// WithLedger makes the sink also append every event to the break-glass
// ledger, which outlives the Events' hour in the API server. Call before
// Run.
func (s *KubeEventSink) WithLedger(l *BreakGlassLedger) *KubeEventSink {
	s.ledger = l
	return s
}

// NewKubeEventSink returns a sink writing with client at most ratePerSec
// events a second after a burst (<= 0: the defaults). host names the
// reporting instance (the pod name).
func NewKubeEventSink(client kubernetes.Interface, log *slog.Logger, ratePerSec float64, burst int, host string) *KubeEventSink {
	if ratePerSec <= 0 {
		ratePerSec = DefaultEventRate
	}
	if burst <= 0 {
		burst = DefaultEventBurst
	}
	if log == nil {
		log = slog.Default()
	}
	if host == "" {
		host = KubeEventReportingComponent
	}
	return &KubeEventSink{client: client, log: log, limiter: rate.NewLimiter(rate.Limit(ratePerSec), burst),
		queue: make(chan *Event, eventQueue), host: host}
}

// Dropped is the number of events not written: over the rate, queue
// full, or refused by the API server.
func (s *KubeEventSink) Dropped() uint64 { return s.dropped.Load() }

// Created is the number of Events written.
func (s *KubeEventSink) Created() uint64 { return s.created.Load() }

// Collectors are the sink's metrics, to register on the Server's
// Metrics().Registry.
func (s *KubeEventSink) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "palisade_admission_kube_events_total",
			Help: "Break-glass Kubernetes Events written for the agent to forward to the hub.",
		}, func() float64 { return float64(s.Created()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "palisade_admission_kube_events_dropped_total",
			Help: "Break-glass Kubernetes Events not written: over the rate limit, queue full or refused by the API server (the log still has them).",
		}, func() float64 { return float64(s.Dropped()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "palisade_admission_break_glass_ledger_failures_total",
			Help: "Break-glass events not appended to the break-glass ledger ConfigMap (the Event and the log may still have them).",
		}, func() float64 { return float64(s.ledgerFailed.Load()) }),
	}
}

// Emit queues break-glass uses and attempts (any event with a
// BreakGlassReason: a refused attempt is a denial, warning or
// break-glass-refused event) without blocking; other events are ignored
// (the log has them). A dry-run request's event is ignored too: nothing
// was admitted, and dry runs cost nothing, so they would otherwise record
// break-glass uses that never happened and push real ones out of the
// bounded ledger.
func (s *KubeEventSink) Emit(_ context.Context, e *Event) {
	if e.Type != EventBreakGlass && e.Type != EventBreakGlassRefused && e.BreakGlassReason == "" {
		return
	}
	if e.DryRun {
		return
	}
	if !s.limiter.Allow() {
		s.drop()
		return
	}
	select {
	case s.queue <- e:
	default:
		s.drop()
	}
}

func (s *KubeEventSink) drop() {
	if n := s.dropped.Add(1); n&(n-1) == 0 { // log at powers of two only
		s.log.Warn("admission events not written as Kubernetes Events (rate limit or queue full)", slog.Uint64("dropped", n))
	}
}

// Run writes queued events until ctx ends.
func (s *KubeEventSink) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-s.queue:
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := s.client.CoreV1().Events(eventNamespace(e)).Create(wctx, KubeEvent(e, s.host), metav1.CreateOptions{})
			if s.ledger != nil {
				// Even when the Event failed: the ledger is what an agent
				// that was down reads.
				if lerr := s.ledger.Append(wctx, e); lerr != nil {
					s.ledgerFailed.Add(1)
					s.log.Warn("appending to the break-glass ledger", slog.String("uid", e.UID), slog.Any("error", lerr))
				}
			}
			cancel()
			if err != nil {
				s.drop()
				s.log.Warn("writing admission Kubernetes Event", slog.String("uid", e.UID), slog.Any("error", err))
				continue
			}
			s.created.Add(1)
		}
	}
}

// eventNamespace: cluster-scoped objects' Events go to "default".
func eventNamespace(e *Event) string {
	if e.Namespace == "" {
		return metav1.NamespaceDefault
	}
	return e.Namespace
}

// KubeEvent builds the core/v1 Event for e.
func KubeEvent(e *Event, host string) *corev1.Event {
	reason, typ := KubeEventReasonBreakGlass, corev1.EventTypeWarning
	if e.Type != EventBreakGlass {
		reason = KubeEventReasonBreakGlassRefused
	}
	raw, err := json.Marshal(e)
	if err != nil || len(raw) > maxEventJSON {
		c := *e
		c.Violations = nil
		raw, _ = json.Marshal(&c)
	}
	rules := make([]string, 0, len(e.Violations))
	for _, v := range e.Violations {
		rules = append(rules, v.RuleID)
	}
	msg := fmt.Sprintf("break-glass %q by %s (%s): rules [%s]", e.BreakGlassReason, e.User, e.Type, strings.Join(rules, ", "))
	if len(msg) > 1024 {
		msg = msg[:1024]
	}
	apiVersion, kind := splitKind(e.Kind)
	now := metav1.NewTime(e.Time)
	name := e.Name
	if name == "" {
		name = "unnamed"
	}
	return &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "palisade-break-glass-",
			Namespace:    eventNamespace(e),
			Annotations:  map[string]string{EventJSONAnnotation: string(raw)},
		},
		InvolvedObject:      corev1.ObjectReference{APIVersion: apiVersion, Kind: kind, Namespace: e.Namespace, Name: name},
		Reason:              reason,
		Message:             msg,
		Type:                typ,
		FirstTimestamp:      now,
		LastTimestamp:       now,
		Count:               1,
		Source:              corev1.EventSource{Component: KubeEventReportingComponent, Host: host},
		ReportingController: KubeEventReportingComponent,
		ReportingInstance:   host,
		Action:              "Admit",
	}
}

// splitKind turns "apps/v1/Deployment" into ("apps/v1", "Deployment").
func splitKind(k string) (string, string) {
	i := strings.LastIndex(k, "/")
	if i < 0 {
		return "", k
	}
	return k[:i], k[i+1:]
}
