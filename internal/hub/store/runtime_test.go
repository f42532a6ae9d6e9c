package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

func runtimeReport(node string, state *fleetapi.RuntimeSensorState, ids ...string) *fleetapi.RuntimeReport {
	r := &fleetapi.RuntimeReport{Node: node, Sensor: state}
	for i, id := range ids {
		r.Findings = append(r.Findings, fleetapi.RuntimeFinding{ID: id, Time: t0.Add(time.Duration(i) * time.Minute),
			F: finding.Finding{RuleID: "PAL-RT-001", Severity: finding.SeverityHigh, Object: finding.ObjectRef{Kind: "Pod", Namespace: "prod", Name: "web-" + id}, Message: "shell " + id}})
	}
	return r
}

// TestRuntimeReports: a node's sensor state is kept per node, newest
// wins whatever the order reports arrive in; runtime findings are
// appended once per ID (an agent replaying Events after a restart adds
// nothing), listed newest first and filtered; the quota drops the oldest
// and counts them per cluster.
func TestRuntimeReports(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		a := enrolled(t, s, "a", "agent-a")
		seq := uint64(0)
		send := func(r *fleetapi.RuntimeReport) {
			t.Helper()
			seq++
			if ok, err := s.Ingest(ctx, "agent-a", &fleetapi.Envelope{Seq: seq, Time: t0, Kind: fleetapi.KindRuntime, Runtime: r}, t0); err != nil || !ok {
				t.Fatalf("runtime report %d: %v %v", seq, ok, err)
			}
		}
		newer := &fleetapi.RuntimeSensorState{Mode: "degraded", Reason: "no BTF", UpdatedAt: t0.Add(2 * time.Minute)}
		older := &fleetapi.RuntimeSensorState{Mode: "ok", Dropped: 3, UpdatedAt: t0.Add(time.Minute)}
		send(runtimeReport("n1", newer, "f1", "f2"))
		send(runtimeReport("n1", older, "f2", "f3"))
		send(runtimeReport("n2", &fleetapi.RuntimeSensorState{Mode: "ok", UpdatedAt: t0}))
		sensors, err := s.ListRuntimeSensors(ctx, a.ID)
		if err != nil || len(sensors) != 2 {
			t.Fatalf("sensors %+v, %v", sensors, err)
		}
		if n1 := sensors[0]; n1.Node != "n1" || n1.Mode != "degraded" || n1.Reason != "no BTF" || n1.ClusterID != a.ID {
			t.Fatalf("node n1: %+v (an older state replaced a newer one)", n1)
		}
		if sensors[1].Node != "n2" || sensors[1].Mode != "ok" {
			t.Fatalf("node n2: %+v", sensors[1])
		}
		all, err := s.ListRuntimeFindings(ctx, store.RuntimeQuery{ClusterID: a.ID})
		if err != nil || len(all) != 3 {
			t.Fatalf("findings %+v, %v (want f1 f2 f3 once each)", all, err)
		}
		var got []string
		for _, f := range all {
			got = append(got, f.ID+"@"+f.Node)
		}
		// f2 and f3 both sit at t0+1m: ties ordered by ID.
		if fmt.Sprint(got) != "[f2@n1 f3@n1 f1@n1]" {
			t.Fatalf("order %v", got)
		}
		if f, err := s.ListRuntimeFindings(ctx, store.RuntimeQuery{RuleID: "PAL-RT-003"}); err != nil || len(f) != 0 {
			t.Fatalf("rule filter: %+v %v", f, err)
		}
		n, err := s.PruneRuntimeFindings(ctx, a.ID, store.Retention{PerCluster: 1}, t0)
		if err != nil || n != 2 {
			t.Fatalf("pruned %d, %v", n, err)
		}
		dropped, err := s.RuntimeDropped(ctx)
		if err != nil || dropped[a.ID] != 2 {
			t.Fatalf("dropped %v, %v", dropped, err)
		}
		if left, _ := s.ListRuntimeFindings(ctx, store.RuntimeQuery{}); len(left) != 1 {
			t.Fatalf("kept %+v", left)
		}
	})
}
