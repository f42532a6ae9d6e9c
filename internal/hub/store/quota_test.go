package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// objectsDelta is a findings delta naming objects first..first+n-1 of a
// hostile agent's invention, each with one finding.
func objectsDelta(seq uint64, first, n int, full bool) *fleetapi.Envelope {
	d := &fleetapi.FindingsDelta{Full: full}
	for i := first; i < first+n; i++ {
		o := finding.ObjectRef{Kind: "Deployment", Namespace: "ns", Name: fmt.Sprintf("app-%d", i)}
		d.Objects = append(d.Objects, fleetapi.ObjectFindings{Object: o, Findings: []finding.Finding{
			{RuleID: "hardening/run-as-non-root", Severity: finding.SeverityHigh, Object: o, Message: "runs as root"}}})
	}
	return &fleetapi.Envelope{Seq: seq, Kind: fleetapi.KindFindings, Findings: d}
}

// TestFindingsQuota: deltas that only add objects can no longer grow one
// cluster's findings without end. A report that would take the cluster
// over its quota is refused whole (nothing of it stored, its seq not
// consumed, so a later report is not a duplicate) with a QuotaError; a
// delta that removes rows and a full snapshot that fits are applied and
// set the count right; the other tables agents replace (nodes, rules,
// images in use) and a scan's vulnerabilities have their own bounds; the
// refusal is recorded on the cluster until a findings report is applied.
func TestFindingsQuota(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		c := enrolled(t, s, "edge-quota", "agent-q")
		s.SetIngestLimits(store.IngestLimits{FindingsPerCluster: 100, NodesPerCluster: 3, RulesPerCluster: 4, ImagesPerCluster: 2, VulnsPerScan: 2})
		rows := func() int64 {
			t.Helper()
			got, err := s.GetCluster(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			n, err := s.CountFindings(ctx, store.FindingQuery{ClusterID: c.ID, IncludeSuppressed: true})
			if err != nil {
				t.Fatal(err)
			}
			if int64(n) != got.FindingRows {
				t.Errorf("cluster counts %d findings rows, the table has %d", got.FindingRows, n)
			}
			return got.FindingRows
		}
		ingest := func(env *fleetapi.Envelope) error {
			t.Helper()
			_, err := s.Ingest(ctx, "agent-q", env, t0)
			return err
		}
		if err := ingest(objectsDelta(1, 0, 60, false)); err != nil {
			t.Fatal(err)
		}
		if err := ingest(objectsDelta(2, 60, 40, false)); err != nil {
			t.Fatalf("delta reaching the quota exactly: %v", err)
		}
		// One more object is over: refused whole, nothing stored.
		err := ingest(objectsDelta(3, 100, 5, false))
		var qe *store.QuotaError
		if !errors.As(err, &qe) || !errors.Is(err, store.ErrQuota) || qe.What != "findings" || qe.Limit != 100 || qe.Have != 105 {
			t.Fatalf("delta over the quota: %v, want a findings QuotaError 105 > 100", err)
		}
		if n := rows(); n != 100 {
			t.Errorf("%d findings rows after a refused delta, want 100", n)
		}
		if ag, _ := s.GetAgent(ctx, "agent-q"); ag.LastSeq != 2 {
			t.Errorf("a refused report consumed its seq: last applied %d, want 2", ag.LastSeq)
		}
		if err := s.RecordQuotaRefusal(ctx, c.ID, "findings: 105 over the quota of 100", t0); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetCluster(ctx, c.ID); got.QuotaRefused != 1 || !got.QuotaRefusedAt.Equal(t0) || got.QuotaReason == "" {
			t.Errorf("refusal not recorded: %d at %v (%q)", got.QuotaRefused, got.QuotaRefusedAt, got.QuotaReason)
		}
		// A batch with the culprit inside applies none of it.
		_, err = s.IngestBatch(ctx, "agent-q", []*fleetapi.Envelope{objectsDelta(3, 0, 1, false), objectsDelta(4, 200, 1, false)}, t0)
		if !errors.Is(err, store.ErrQuota) {
			t.Fatalf("batch over the quota: %v", err)
		}
		// A delta that deletes objects passes and lowers the count.
		del := &fleetapi.Envelope{Seq: 3, Kind: fleetapi.KindFindings, Findings: &fleetapi.FindingsDelta{}}
		for i := range 10 {
			del.Findings.Deleted = append(del.Findings.Deleted, finding.ObjectRef{Kind: "Deployment", Namespace: "ns", Name: fmt.Sprintf("app-%d", i)})
		}
		if err := ingest(del); err != nil {
			t.Fatalf("delta deleting objects: %v", err)
		}
		if n := rows(); n != 90 {
			t.Errorf("%d findings rows after deleting 10, want 90", n)
		}
		// A full snapshot over the quota is refused; one that fits replaces
		// everything and clears the refusal.
		if err := ingest(objectsDelta(4, 0, 101, true)); !errors.Is(err, store.ErrQuota) {
			t.Fatalf("snapshot over the quota: %v", err)
		}
		if err := ingest(objectsDelta(4, 500, 30, true)); err != nil {
			t.Fatalf("snapshot within the quota: %v", err)
		}
		if n := rows(); n != 30 {
			t.Errorf("%d findings rows after a 30-object snapshot, want 30", n)
		}
		if got, _ := s.GetCluster(ctx, c.ID); !got.QuotaRefusedAt.IsZero() || got.QuotaRefused != 1 {
			t.Errorf("after an applied findings report: refused at %v (want cleared), %d refusals (want 1 kept)", got.QuotaRefusedAt, got.QuotaRefused)
		}

		// The tables a report replaces are bounded per report.
		inv := &fleetapi.Inventory{Rules: []string{"a", "b", "c"}}
		for i := range 4 {
			inv.Nodes = append(inv.Nodes, fleetapi.Node{Name: fmt.Sprintf("n%d", i)})
		}
		images := &fleetapi.ImageSet{Images: []fleetapi.ImageUse{{Ref: "a", Digest: "sha256:a"}, {Ref: "b", Digest: "sha256:b"}, {Ref: "c", Digest: "sha256:c"}}}
		scan := &fleetapi.ImageScan{Digest: "sha256:a", Ref: "a", ScannedAt: t0}
		for i := range 3 {
			scan.Vulnerabilities = append(scan.Vulnerabilities, finding.Finding{RuleID: "vuln", Vulnerability: &finding.Vulnerability{ID: fmt.Sprintf("CVE-2026-%d", i)}})
		}
		tooMany := []struct {
			what string
			env  *fleetapi.Envelope
		}{
			{"nodes", &fleetapi.Envelope{Seq: 5, Kind: fleetapi.KindInventory, Inventory: inv}},
			{"rules", &fleetapi.Envelope{Seq: 5, Kind: fleetapi.KindInventory, Inventory: &fleetapi.Inventory{Rules: []string{"a", "b", "c", "d", "e"}}}},
			{"images in use", &fleetapi.Envelope{Seq: 5, Kind: fleetapi.KindImages, Images: images}},
			{"vulnerabilities in one image scan", &fleetapi.Envelope{Seq: 5, Kind: fleetapi.KindImageScan, ImageScan: scan}},
		}
		for _, tc := range tooMany {
			err := ingest(tc.env)
			if !errors.As(err, &qe) || qe.What != tc.what {
				t.Errorf("%s over the limit: %v", tc.what, err)
			}
		}
		inv.Nodes = inv.Nodes[:3]
		if err := ingest(&fleetapi.Envelope{Seq: 5, Kind: fleetapi.KindInventory, Inventory: inv}); err != nil {
			t.Errorf("inventory within the limits: %v", err)
		}
		// No limit when told so.
		s.SetIngestLimits(store.IngestLimits{})
		if err := ingest(objectsDelta(6, 1000, 200, false)); err != nil {
			t.Errorf("without a quota: %v", err)
		}
	})
}

// TestPruneFrameworkScores: the score history the hub writes from what
// agents report is bounded by age and per cluster and framework (oldest
// first), within the deletion budget of one call.
func TestPruneFrameworkScores(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		c := enrolled(t, s, "edge-scores", "agent-s")
		score := 50.0
		for i := range 30 {
			// A score that changes at every record, a minute apart, the
			// first ten over a year old.
			at := t0.Add(time.Duration(i) * time.Minute)
			if i < 10 {
				at = t0.Add(-400*24*time.Hour + time.Duration(i)*time.Minute)
			}
			score += 0.5
			v := score
			if err := s.RecordFrameworkScores(ctx, []store.FrameworkScore{{ClusterID: c.ID, Framework: "cis", At: at, Score: &v, Passed: i}}); err != nil {
				t.Fatal(err)
			}
		}
		points := func() []store.FrameworkScore {
			got, err := s.FrameworkScores(ctx, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		if n, err := s.PruneFrameworkScores(ctx, 366*24*time.Hour, 0, 4, t0); err != nil || n != 4 {
			t.Fatalf("age within a budget of 4: %d, %v", n, err)
		}
		if n, err := s.PruneFrameworkScores(ctx, 366*24*time.Hour, 15, 0, t0); err != nil || n != 6+5 {
			t.Fatalf("age then the limit of 15: %d, %v; want 11", n, err)
		}
		got := points()
		if len(got) != 15 || got[0].Passed != 15 {
			t.Errorf("%d points left starting at %d, want the newest 15 (from 15)", len(got), got[0].Passed)
		}
	})
}
