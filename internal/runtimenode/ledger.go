package runtimenode

// The runtime ledger (fleetapi.RuntimeLedgerName): the node sensors'
// findings outlive their Events. A node sensor keeps its newest distinct
// findings in memory and applies them to the ledger ConfigMap with
// server-side apply, as its own field manager: the API server merges the
// nodes' keys, a node's apply removes only its own evicted keys, and no
// node reads or overwrites another's. That needs only "patch" (and "get",
// to take its entries back after a restart) on that one ConfigMap by
// name. The ConfigMap must exist (deploy/runtime creates it): an apply
// that would create it needs "create", which RBAC cannot limit to a
// name, so the sensor is not given it; a missing ledger is a counted,
// logged failure. The agent reads it with its ledger reader
// (internal/agent/runtimeledger.go).

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// runtimeLedger is one node's part of the runtime ledger.
type runtimeLedger struct {
	client          kubernetes.Interface
	namespace, name string
	node, manager   string
	keep            int
	log             *slog.Logger
	failures        atomic.Uint64

	mu sync.Mutex
	// entries by the finding's dedup key (rule, object, container,
	// message): a repeated finding keeps only its newest entry.
	entries map[string]ledgerItem
	dirty   bool
	loaded  bool
}

// ledgerItem is one entry: its key (which sorts by time) and value.
type ledgerItem struct{ key, value string }

func newRuntimeLedger(client kubernetes.Interface, namespace, name, node string, keep int, log *slog.Logger) *runtimeLedger {
	manager := fleetapi.RuntimeLedgerFieldManagerPrefix + node
	if len(manager) > 128 { // the API server's limit on a field manager's name
		sum := sha256.Sum256([]byte(node))
		manager = fleetapi.RuntimeLedgerFieldManagerPrefix + hex.EncodeToString(sum[:16])
	}
	return &runtimeLedger{client: client, namespace: namespace, name: name, node: node, manager: manager, keep: keep, log: log,
		entries: map[string]ledgerItem{}}
}

// LedgerValue is f's ledger entry (the agent reads it back,
// internal/agent/runtimeledger.go), its message cut so the entry stays
// within fleetapi.MaxRuntimeLedgerValue.
func LedgerValue(node string, f fleetapi.RuntimeFinding) (string, error) {
	for range 3 {
		rep, err := json.Marshal(fleetapi.RuntimeReport{Node: node, Findings: []fleetapi.RuntimeFinding{f}})
		if err != nil {
			return "", err
		}
		v, err := json.Marshal(fleetapi.LedgerEntry{Reason: fleetapi.KubeEventReasonRuntimeFinding, Event: rep})
		if err != nil {
			return "", err
		}
		over := len(v) - fleetapi.MaxRuntimeLedgerValue
		if over <= 0 {
			return string(v), nil
		}
		if f.F.Message == "" {
			break
		}
		f.F.Message = cutEncoded(f.F.Message, max(jsonStringLen(f.F.Message)-over, 0))
	}
	return "", fmt.Errorf("runtime finding %s: ledger entry over %d bytes", f.ID, fleetapi.MaxRuntimeLedgerValue)
}

// jsonRuneLen is what encoding/json writes for r inside a string.
func jsonRuneLen(r rune) int {
	switch {
	case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
		return 2
	case r < 0x20 || r == '<' || r == '>' || r == '&' || r == utf8.RuneError || r == '\u2028' || r == '\u2029':
		return 6
	}
	return utf8.RuneLen(r)
}

func jsonStringLen(s string) int {
	n := 0
	for _, r := range s {
		n += jsonRuneLen(r)
	}
	return n
}

// cutEncoded is the longest prefix of s (whole runes) whose JSON encoding
// is at most budget bytes.
func cutEncoded(s string, budget int) string {
	n := 0
	for i, r := range s {
		if n += jsonRuneLen(r); n > budget {
			return s[:i]
		}
	}
	return s
}

// add keeps f (dedupKey identifies an identical finding), evicting the
// oldest entries beyond the node's share.
func (l *runtimeLedger) add(dedupKey string, f fleetapi.RuntimeFinding) {
	v, err := LedgerValue(l.node, f)
	if err != nil {
		l.fail(err)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries[dedupKey] = ledgerItem{key: fleetapi.RuntimeLedgerKey(f.Time, f.ID), value: v}
	l.evictLocked()
	l.dirty = true
}

func (l *runtimeLedger) evictLocked() {
	for len(l.entries) > l.keep {
		// The oldest by ledger key (its time, then the finding ID).
		var oldest, oldestKey string
		for k, it := range l.entries {
			if oldest == "" || it.key < oldestKey {
				oldest, oldestKey = k, it.key
			}
		}
		delete(l.entries, oldest)
	}
}

func (l *runtimeLedger) fail(err error) {
	if n := l.failures.Add(1); n&(n-1) == 0 {
		l.log.Warn("runtime ledger not written", slog.String("configmap", l.namespace+"/"+l.name), slog.Any("error", err), slog.Uint64("failed", n))
	}
}

// load takes back this node's entries from before a restart, so that
// the first apply does not remove the ones the agent has not read yet.
func (l *runtimeLedger) load(ctx context.Context) error {
	cm, err := l.client.CoreV1().ConfigMaps(l.namespace).Get(ctx, l.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%w (deploy/runtime creates it; the sensor may not)", err)
	}
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, v := range cm.Data {
		var le fleetapi.LedgerEntry
		var rep fleetapi.RuntimeReport
		if len(v) > fleetapi.MaxRuntimeLedgerValue || json.Unmarshal([]byte(v), &le) != nil || json.Unmarshal(le.Event, &rep) != nil ||
			rep.Node != l.node || len(rep.Findings) != 1 {
			continue // another node's, or not one this node would write
		}
		f := rep.Findings[0]
		dk := findingDedupKey(&f.F)
		if old, ok := l.entries[dk]; !ok || old.key < k {
			l.entries[dk] = ledgerItem{key: k, value: v}
		}
	}
	l.evictLocked()
	l.loaded, l.dirty = true, true
	return nil
}

// write applies the node's entries when they changed.
func (l *runtimeLedger) write(ctx context.Context) {
	l.mu.Lock()
	loaded := l.loaded
	l.mu.Unlock()
	if !loaded {
		if err := l.load(ctx); err != nil {
			l.fail(fmt.Errorf("reading the ledger: %w", err))
			return
		}
	}
	l.mu.Lock()
	if !l.dirty {
		l.mu.Unlock()
		return
	}
	data := make(map[string]string, len(l.entries))
	for _, it := range l.entries {
		data[it.key] = it.value
	}
	l.dirty = false
	l.mu.Unlock()
	cm := corev1ac.ConfigMap(l.name, l.namespace).WithData(data)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := l.client.CoreV1().ConfigMaps(l.namespace).Apply(wctx, cm, metav1.ApplyOptions{FieldManager: l.manager, Force: true}); err != nil {
		l.mu.Lock()
		l.dirty = true
		l.mu.Unlock()
		l.fail(err)
	}
}

// run writes the ledger every `every` until ctx ends, and once more then.
func (l *runtimeLedger) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			l.write(fctx)
			cancel()
			return
		case <-t.C:
			l.write(ctx)
		}
	}
}
