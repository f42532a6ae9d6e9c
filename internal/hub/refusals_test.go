package hub

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// unavailableStore fails ingests and heartbeats with err while fail is set,
// as a database that is down or full would.
type unavailableStore struct {
	store.Store
	fail atomic.Bool
	err  error
}

func (u *unavailableStore) IngestBatch(ctx context.Context, agentID string, envs []*fleetapi.Envelope, now time.Time) ([]bool, error) {
	if u.fail.Load() {
		return nil, fmt.Errorf("cluster x: report 1: %w", u.err)
	}
	return u.Store.IngestBatch(ctx, agentID, envs, now)
}

func (u *unavailableStore) Ingest(ctx context.Context, agentID string, env *fleetapi.Envelope, now time.Time) (bool, error) {
	if u.fail.Load() {
		return false, fmt.Errorf("cluster x: report 1: %w", u.err)
	}
	return u.Store.Ingest(ctx, agentID, env, now)
}

func (u *unavailableStore) Heartbeat(ctx context.Context, agentID string, hb fleetapi.Heartbeat, now time.Time) error {
	if u.fail.Load() {
		return u.err
	}
	return u.Store.Heartbeat(ctx, agentID, hb, now)
}

func findingsEnvelope(seq uint64, cluster string, objects int, full bool) fleetapi.Envelope {
	d := &fleetapi.FindingsDelta{Full: full}
	for i := range objects {
		o := finding.ObjectRef{Kind: "Deployment", Namespace: "ns", Name: fmt.Sprintf("app-%d", i)}
		d.Objects = append(d.Objects, fleetapi.ObjectFindings{Object: o, Findings: []finding.Finding{{RuleID: "r", Severity: finding.SeverityLow, Object: o, Message: "m"}}})
	}
	return fleetapi.Envelope{Seq: seq, Cluster: cluster, Kind: fleetapi.KindFindings, Findings: d}
}

// TestReportsRefused: a report over the cluster's findings quota is 413
// (one report or a batch), counted in the metrics and shown on the
// cluster (API state reports-refused with the reason, the cluster page)
// until a findings report that fits is applied; a database that is
// unavailable or full is 503 with Retry-After (reports, batches,
// heartbeats), never 500, and the cluster shows reports-refused on this
// replica until a report is applied again.
func TestReportsRefused(t *testing.T) {
	st := &unavailableStore{Store: newStore(t), err: &pgconn.PgError{Code: "53100", Message: "could not extend file: No space left on device"}}
	h, err := New(context.Background(), Config{Store: st, Logger: quietLogger(), Hosts: []string{"127.0.0.1"}, Limits: store.IngestLimits{FindingsPerCluster: 5}})
	if err != nil {
		t.Fatal(err)
	}
	a := newHostileAgent(t, h, "edge-refused")
	ctx := context.Background()
	state := func() ClusterView {
		t.Helper()
		c, err := st.GetCluster(ctx, a.ClusterID)
		if err != nil {
			t.Fatal(err)
		}
		return h.view(c)
	}
	metric := func(reason string, want int) {
		t.Helper()
		rec := httptest.NewRecorder()
		promText(t, h, rec)
		if line := fmt.Sprintf(`palisade_hub_reports_refused_total{reason=%q} %d`, reason, want); !bytes.Contains(rec.Body.Bytes(), []byte(line)) {
			t.Errorf("metrics lack %s:\n%s", line, rec.Body)
		}
	}
	if rec := a.send(http.MethodPost, fleetapi.PathReports, mustJSON(t, findingsEnvelope(1, a.ClusterID, 3, true)), false); rec.Code != http.StatusOK {
		t.Fatalf("report within the quota: %d %s", rec.Code, rec.Body)
	}
	if v := state(); v.State != fleetapi.StateOnline || v.FindingRows != 3 {
		t.Fatalf("after a report within the quota: %s with %d findings", v.State, v.FindingRows)
	}

	for _, tc := range []struct {
		name, path string
		body       []byte
	}{
		{"report", fleetapi.PathReports, mustJSON(t, findingsEnvelope(2, a.ClusterID, 6, true))},
		{"batch", fleetapi.PathReportBatch, mustJSON(t, fleetapi.ReportBatch{Envelopes: []fleetapi.Envelope{findingsEnvelope(2, a.ClusterID, 6, false)}})},
	} {
		rec := a.send(http.MethodPost, tc.path, tc.body, true)
		if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "quota") {
			t.Errorf("%s over the findings quota: %d %s, want 413 naming the quota", tc.name, rec.Code, rec.Body)
		}
	}
	metric("quota", 2)
	v := state()
	if v.State != fleetapi.StateRefused || !strings.Contains(v.RefusedReason, "findings: 6 over the quota of 5") || v.RefusedSince == nil || v.ReportsRefused != 2 || v.FindingRows != 3 {
		t.Errorf("cluster over quota: %+v", v)
	}
	page := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/clusters/"+a.ClusterID, nil)
	r.SetPathValue("id", a.ClusterID)
	h.clusterPage(page, r, viewer{Name: "alice", Role: store.RoleViewer})
	if !strings.Contains(page.Body.String(), `id="refused-reason">over quota: findings: 6 over the quota of 5`) || !strings.Contains(page.Body.String(), "2 reports refused over quota") {
		t.Errorf("the cluster page does not say its reports are refused:\n%s", page.Body)
	}
	// The full snapshot the agent sends next fits: applied, refusal cleared.
	if rec := a.send(http.MethodPost, fleetapi.PathReports, mustJSON(t, findingsEnvelope(2, a.ClusterID, 4, true)), false); rec.Code != http.StatusOK {
		t.Fatalf("snapshot within the quota: %d %s", rec.Code, rec.Body)
	}
	if v := state(); v.State != fleetapi.StateOnline || v.RefusedReason != "" || v.ReportsRefused != 2 {
		t.Errorf("after a snapshot within the quota: %+v", v)
	}

	// The database is full (or down).
	st.fail.Store(true)
	for _, tc := range []struct {
		name, path string
		body       []byte
	}{
		{"report", fleetapi.PathReports, mustJSON(t, findingsEnvelope(3, a.ClusterID, 1, false))},
		{"batch", fleetapi.PathReportBatch, mustJSON(t, fleetapi.ReportBatch{Envelopes: []fleetapi.Envelope{findingsEnvelope(3, a.ClusterID, 1, false)}})},
		{"heartbeat", fleetapi.PathHeartbeat, mustJSON(t, fleetapi.Heartbeat{Time: time.Now()})},
	} {
		rec := a.send(http.MethodPost, tc.path, tc.body, false)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "5" || strings.Contains(rec.Body.String(), "No space") {
			t.Errorf("%s with the database full: %d (Retry-After %q) %s, want 503 with Retry-After 5 and no database text", tc.name, rec.Code, rec.Header().Get("Retry-After"), rec.Body)
		}
	}
	metric("unavailable", 2)
	if v := state(); v.State != fleetapi.StateRefused || v.RefusedReason != "database unavailable" {
		t.Errorf("cluster while the database is full: %s (%q), want reports-refused", v.State, v.RefusedReason)
	}
	st.fail.Store(false)
	if rec := a.send(http.MethodPost, fleetapi.PathReports, mustJSON(t, findingsEnvelope(3, a.ClusterID, 1, false)), false); rec.Code != http.StatusOK {
		t.Fatalf("report after the database came back: %d %s", rec.Code, rec.Body)
	}
	if v := state(); v.State != fleetapi.StateOnline {
		t.Errorf("cluster after the database came back: %s (%q)", v.State, v.RefusedReason)
	}
}
