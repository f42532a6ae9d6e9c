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

// rawEnv is a findings report of one pod whose one finding arrives as raw
// (as fleetapi.DecodeReport leaves it: the bytes and their decoding).
func rawEnv(t *testing.T, seq uint64, raw string) *fleetapi.Envelope {
	t.Helper()
	var f finding.Finding
	if err := fleetapi.UnmarshalFinding([]byte(raw), &f); err != nil {
		t.Fatal(err)
	}
	o := fleetapi.ObjectFindings{Object: finding.ObjectRef{Kind: "Pod", Namespace: "a", Name: "p"},
		Findings: []finding.Finding{f}, Raw: [][]byte{[]byte(raw)}}
	return findingsEnv(seq, false, o)
}

// TestFindingsStoredAsReceived: a finding's JSON is stored byte for byte
// as the agent sent it (members the hub does not know included), an
// identical finding in a later report is not written again, and a change
// anywhere in its bytes (here the remediation, which is not part of its
// identity) rewrites it.
func TestFindingsStoredAsReceived(t *testing.T) {
	const (
		v1 = `{"ruleID":"R1","severity":"high","title":"T","message":"m","object":{"kind":"Pod","namespace":"a","name":"p"},"suppressed":false,"x-future":{"k":[1,2]}}`
		v2 = `{"ruleID":"R1","severity":"high","title":"T","message":"m","object":{"kind":"Pod","namespace":"a","name":"p"},"suppressed":false,"remediation":"fix it"}`
	)
	steps := []struct {
		raw       string
		rewritten bool
	}{
		{v1, true},  // new
		{v1, false}, // the same bytes again
		{v2, true},  // changed bytes, same finding
		{v2, false},
	}
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		c := enrolled(t, s, "edge", "ag")
		var gen int64
		for i, st := range steps {
			if _, err := s.Ingest(ctx, "ag", rawEnv(t, uint64(i+1), st.raw), t0.Add(time.Duration(i)*time.Minute)); err != nil {
				t.Fatal(err)
			}
			rows := store.FindingRows(t, s, c.ID)
			if len(rows) != 1 {
				t.Fatalf("step %d: %d rows, want 1", i, len(rows))
			}
			for _, r := range rows {
				if r.Data != st.raw {
					t.Errorf("step %d: stored %s, want the bytes received %s", i, r.Data, st.raw)
				}
				if r.DHash == "" {
					t.Errorf("step %d: no hash stored", i)
				}
				if rewritten := r.Gen != gen; rewritten != st.rewritten {
					t.Errorf("step %d: rewritten %v (gen %d after %d), want %v", i, rewritten, r.Gen, gen, st.rewritten)
				}
				gen = r.Gen
			}
		}
		fs, err := s.ListFindings(ctx, store.FindingQuery{ClusterID: c.ID})
		if err != nil || len(fs) != 1 || fs[0].Remediation != "fix it" {
			t.Fatalf("listed %+v, %v", fs, err)
		}
	})
}

// TestSnapshotCopy: on PostgreSQL the new rows of a large report (a first
// snapshot) are written with COPY, and the result is the one an upsert
// gives: every finding stored once, counted, diffed by the next
// snapshot; rows already stored are not copied again.
func TestSnapshotCopy(t *testing.T) {
	const pods = 300 // 600 findings: above copyAbove
	snapshot := func(seq uint64, skip int) *fleetapi.Envelope {
		var objs []fleetapi.ObjectFindings
		for i := range pods {
			if i < skip {
				continue
			}
			objs = append(objs, objFindings("Pod", "ns", fmt.Sprintf("p%d", i), "r1", "r2"))
		}
		return findingsEnv(seq, true, objs...)
	}
	steps := []struct {
		name       string
		env        *fleetapi.Envelope
		wantRows   int
		wantCopied int64 // on PostgreSQL, cumulative
	}{
		{"first snapshot", snapshot(1, 0), 2 * pods, 2 * pods},
		{"the same again", snapshot(2, 0), 2 * pods, 2 * pods},
		{"ten pods gone", snapshot(3, 10), 2 * (pods - 10), 2 * pods},
		{"back: 20 new rows, upserted", snapshot(4, 0), 2 * pods, 2 * pods},
	}
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		c := enrolled(t, s, "edge", "ag")
		for _, st := range steps {
			if _, err := s.Ingest(ctx, "ag", st.env, t0); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			n, err := s.CountFindings(ctx, store.FindingQuery{ClusterID: c.ID})
			if err != nil || n != st.wantRows {
				t.Fatalf("%s: %d findings (%v), want %d", st.name, n, err, st.wantRows)
			}
			want := st.wantCopied
			if s.Backend() != "postgres" {
				want = 0
			}
			if got := store.CopiedRows(s); got != want {
				t.Errorf("%s: %d rows copied, want %d", st.name, got, want)
			}
		}
		got, err := s.GetCluster(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Findings["HIGH"] != 2*pods || got.FindingRows != 2*pods {
			t.Errorf("counted %v high, %d rows; want %d", got.Findings, got.FindingRows, 2*pods)
		}
	})
}
