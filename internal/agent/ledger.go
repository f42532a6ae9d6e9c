package agent

// Ledgers: Events live about an hour in the API server, so an agent down
// longer reads what they carried from a ledger ConfigMap instead, one per
// reporting component: the admission webhook's break-glass ledger
// (fleetapi.BreakGlassLedgerName, --break-glass-ledger) and the node
// runtime sensors' (fleetapi.RuntimeLedgerName, --runtime-ledger,
// runtimeledger.go). The agent reads each at start and every
// fleetapi.LedgerPollSeconds and records each entry it has not recorded
// before; which ones it has is kept in STATE/<ledger>.json (the keys of
// the entries recorded that are still in the ledger, so the file stays as
// small as the ledger), so a restart does not send the ledger again. An
// entry also seen as an Event reaches the hub twice and is stored once
// (the hub keys admission events on the cluster and the review UID, and
// runtime findings on the cluster and the finding ID).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// ledgerStateFile holds the keys of the break-glass ledger entries
// already recorded; runtimeLedgerStateFile those of the runtime ledger.
const (
	ledgerStateFile        = "break-glass-ledger.json"
	runtimeLedgerStateFile = "runtime-ledger.json"
)

// ledgerReader forwards one ledger's new entries to the outbox.
type ledgerReader[T any] struct {
	a *Agent
	// what names the ledger's events in logs and errors ("break-glass",
	// "runtime").
	what            string
	namespace, name string
	path            string
	recorded        map[string]bool
	// convert reads one entry as the Event it copies would be read; an
	// error counts it in dropped, and it is never retried.
	convert func(key, value string) (T, error)
	// record queues the new entries for the hub, oldest first.
	record  func([]T) error
	dropped *atomic.Uint64
}

func newLedgerReader[T any](a *Agent, what, ref, stateFile string) (*ledgerReader[T], error) {
	ns, name, ok := strings.Cut(ref, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("%s ledger %q: want NAMESPACE/NAME", what, ref)
	}
	r := &ledgerReader[T]{a: a, what: what, namespace: ns, name: name, path: filepath.Join(a.cfg.StateDir, stateFile), recorded: map[string]bool{}}
	data, err := os.ReadFile(r.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("%s ledger state: %w", what, err)
	default:
		var keys []string
		if err := json.Unmarshal(data, &keys); err != nil {
			// A damaged file costs a resend of the ledger, which the
			// hub deduplicates; never a refusal to start.
			a.log.Warn(what+" ledger state unreadable; the ledger will be sent again", slog.String("file", r.path), slog.Any("error", err))
		}
		for _, k := range keys {
			r.recorded[k] = true
		}
	}
	return r, nil
}

// poll reads the ledger once and records its new entries; it returns how
// many it recorded.
func (r *ledgerReader[T]) poll(ctx context.Context) (int, error) {
	cm, err := r.a.cfg.Client.CoreV1().ConfigMaps(r.namespace).Get(ctx, r.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return 0, nil // nothing keeps a ledger here (yet)
	}
	if err != nil {
		return 0, fmt.Errorf("%s ledger %s/%s: %w", r.what, r.namespace, r.name, err)
	}
	keys := make([]string, 0, len(cm.Data))
	for k := range cm.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys) // oldest first
	var evs []T
	var fresh []string
	for _, k := range keys {
		if r.recorded[k] {
			continue
		}
		e, err := r.convert(k, cm.Data[k])
		if err != nil {
			r.dropped.Add(1)
			r.a.log.Warn(r.what+" ledger entry not recorded", slog.String("configmap", r.namespace+"/"+r.name), slog.Any("error", err))
			fresh = append(fresh, k) // never retried: it will not read better
			continue
		}
		evs = append(evs, e)
		fresh = append(fresh, k)
	}
	if len(fresh) == 0 {
		return 0, nil
	}
	if len(evs) > 0 {
		if err := r.record(evs); err != nil {
			return 0, fmt.Errorf("%s ledger: %w", r.what, err)
		}
	}
	// Keep only the keys still in the ledger: the file stays bounded.
	inLedger := make(map[string]bool, len(keys))
	for _, k := range keys {
		inLedger[k] = true
	}
	for k := range r.recorded {
		if !inLedger[k] {
			delete(r.recorded, k)
		}
	}
	for _, k := range fresh {
		r.recorded[k] = true
	}
	out := make([]string, 0, len(r.recorded))
	for k := range r.recorded {
		out = append(out, k)
	}
	sort.Strings(out)
	data, _ := json.Marshal(out)
	if err := writeFileAtomic(r.path, data); err != nil {
		// Recorded but not remembered: the next start sends them again,
		// and the hub keeps one of each.
		return len(evs), fmt.Errorf("%s ledger state: %w", r.what, err)
	}
	return len(evs), nil
}

// run polls the ledger until ctx ends.
func (r *ledgerReader[T]) run(ctx context.Context) {
	t := time.NewTicker(fleetapi.LedgerPollSeconds * time.Second)
	defer t.Stop()
	for {
		if n, err := r.poll(ctx); err != nil && ctx.Err() == nil {
			r.a.log.Warn(r.what+" ledger", slog.Any("error", err))
		} else if n > 0 {
			r.a.log.Info(r.what+" events recorded from the ledger", slog.Int("events", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ledgerEvent converts one break-glass ledger entry as the Event it
// copies would be.
func ledgerEvent(key, value string) (fleetapi.AdmissionEvent, error) {
	if len(value) > fleetapi.MaxLedgerBytes {
		return fleetapi.AdmissionEvent{}, fmt.Errorf("entry %s: %d bytes", key, len(value))
	}
	var le fleetapi.LedgerEntry
	if err := json.Unmarshal([]byte(value), &le); err != nil {
		return fleetapi.AdmissionEvent{}, fmt.Errorf("entry %s: %w", key, err)
	}
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "ledger", Name: key,
		Annotations: map[string]string{fleetapi.KubeEventAnnotation: string(le.Event)}}, Reason: le.Reason}
	return admissionFromKubeEvent(ev)
}

// readLedger polls the break-glass ledger until ctx ends.
func (a *Agent) readLedger(ctx context.Context) {
	r, err := newLedgerReader[fleetapi.AdmissionEvent](a, "break-glass", a.cfg.BreakGlassLedger, ledgerStateFile)
	if err != nil {
		a.log.Error("break-glass ledger", slog.Any("error", err))
		return
	}
	r.convert, r.dropped = ledgerEvent, &a.admWatch.dropped
	r.record = func(evs []fleetapi.AdmissionEvent) error { return a.RecordAdmission(evs...) }
	r.run(ctx)
}
