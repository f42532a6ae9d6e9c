package agent

// Components without a hub identity of their own (the admission webhook,
// the node runtime sensors) report to the hub by writing Kubernetes
// Events that the agent watches and forwards through its durable outbox.
// watchKubeEvents is that watch, shared by every such component: an
// informer on the agent's namespace's Events of one reportingComponent,
// a converter per Event, and a flush every second.

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// eventFlushEvery is how often the converted Events are handed to the
// outbox: one outbox record per flush rather than per Event.
const eventFlushEvery = time.Second

// kubeEventWatch describes one component's Events and where they go.
type kubeEventWatch[T any] struct {
	// what names the Events in logs ("admission", "runtime").
	what string
	// component is the Events' reportingComponent (a field selector).
	component string
	// convert reads one Event; an error (naming the Event) counts it in
	// dropped.
	convert func(*corev1.Event) (T, error)
	// queue keeps one converted Event until the next flush; false means
	// no room, and it is counted in dropped.
	queue func(T) bool
	// flush hands what was queued to the outbox; it counts its own
	// losses.
	flush   func()
	dropped *atomic.Uint64
}

// watchKubeEvents runs w until ctx ends, flushing once more at the end.
// Replays (the informer lists the last hour's Events again after a
// restart) reach the flush again: the hub keys what it stores so that
// they add nothing.
func watchKubeEvents[T any](ctx context.Context, a *Agent, w kubeEventWatch[T]) {
	f := informers.NewSharedInformerFactoryWithOptions(a.cfg.Client, 0,
		informers.WithNamespace(a.cfg.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("reportingComponent", w.component).String()
		}))
	inf := f.Core().V1().Events().Informer()
	add := func(obj any) {
		ev, ok := obj.(*corev1.Event)
		if !ok {
			return
		}
		v, err := w.convert(ev)
		if err != nil {
			w.dropped.Add(1)
			a.log.Warn(w.what+" event not forwarded", slog.Any("error", err))
			return
		}
		if !w.queue(v) {
			w.dropped.Add(1)
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: add}); err != nil {
		a.log.Error(w.what+" event watch", slog.Any("error", err))
		return
	}
	f.Start(ctx.Done())
	t := time.NewTicker(eventFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			w.flush()
			f.Shutdown()
			return
		case <-t.C:
			w.flush()
		}
	}
}
