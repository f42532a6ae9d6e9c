package agent

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
// logged failure. The agent reads it with the ledger reader of ledger.go.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/runtimenode"
)

// runtimeLedgerReport converts one runtime ledger entry as the Event it
// copies would be.
func runtimeLedgerReport(key, value string) (fleetapi.RuntimeReport, error) {
	var le fleetapi.LedgerEntry
	if err := json.Unmarshal([]byte(value), &le); err != nil {
		return fleetapi.RuntimeReport{}, fmt.Errorf("entry %s: %w", key, err)
	}
	if le.Reason != fleetapi.KubeEventReasonRuntimeFinding {
		return fleetapi.RuntimeReport{}, fmt.Errorf("entry %s: reason %q is not a runtime finding", key, le.Reason)
	}
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "ledger", Name: key,
		Annotations: map[string]string{fleetapi.KubeEventRuntimeAnnotation: string(le.Event)}}, Reason: le.Reason}
	return runtimenode.ReportFromEvent(ev)
}

// maxLedgerReportFindings bounds the findings of one outbox record made
// from the ledger.
const maxLedgerReportFindings = 500

// recordRuntimeReports queues findings read from the ledger, one outbox
// record per node (and per maxLedgerReportFindings).
func (a *Agent) recordRuntimeReports(reps []fleetapi.RuntimeReport) error {
	byNode := map[string][]fleetapi.RuntimeFinding{}
	for _, r := range reps {
		byNode[r.Node] = append(byNode[r.Node], r.Findings...)
	}
	nodes := make([]string, 0, len(byNode))
	for n := range byNode {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		fs := byNode[n]
		for len(fs) > 0 {
			k := min(len(fs), maxLedgerReportFindings)
			if err := a.enqueue(&fleetapi.Envelope{Kind: fleetapi.KindRuntime, Runtime: &fleetapi.RuntimeReport{Node: n, Findings: fs[:k]}}); err != nil {
				return fmt.Errorf("node %s: %w", n, err)
			}
			fs = fs[k:]
		}
	}
	return nil
}

// readRuntimeLedger polls the runtime ledger until ctx ends.
func (a *Agent) readRuntimeLedger(ctx context.Context) {
	r, err := newLedgerReader[fleetapi.RuntimeReport](a, "runtime", a.cfg.RuntimeLedger, runtimeLedgerStateFile)
	if err != nil {
		a.log.Error("runtime ledger", slog.Any("error", err))
		return
	}
	r.convert, r.record, r.dropped = runtimeLedgerReport, a.recordRuntimeReports, &a.rtWatch.dropped
	r.run(ctx)
}
