package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestStatementsPerDelta bounds the statements a findings report costs
// the database, each a round trip and, on PostgreSQL, a parse or bind,
// an executor start and a snapshot: a CPU cost paid per report whatever
// its size (issue #17). A change that brings back a statement per
// table, per counter or per step of the bookkeeping fails here, not in a
// benchmark. The reports are a steady-state delta as the agent sends
// them (a rollout: pods deleted and added, a finding's message changed,
// a finding gone), one that names no stored object, and a snapshot
// again.
func TestStatementsPerDelta(t *testing.T) {
	pod := func(name string, rules ...string) fleetapi.ObjectFindings {
		return objFindings("Pod", "shop", name, rules...)
	}
	var first []fleetapi.ObjectFindings
	for i := range 30 {
		first = append(first, pod(fmt.Sprintf("web-%d", i), "r1", "r2", "r3"))
	}
	changed := pod("web-3", "r1", "r2", "r3")
	changed.Findings[0].Message = "rewritten"
	cleaned := pod("web-4", "r1", "r2")
	rollout := &fleetapi.FindingsDelta{
		Objects: []fleetapi.ObjectFindings{pod("web-new-1", "r1", "r2", "r4"), pod("web-new-2", "r1", "r2", "r4"), changed, cleaned},
		Deleted: []finding.ObjectRef{{Kind: "Pod", Namespace: "shop", Name: "web-0"}, {Kind: "Pod", Namespace: "shop", Name: "web-1"}},
	}
	added := &fleetapi.FindingsDelta{Objects: []fleetapi.ObjectFindings{pod("web-new-3", "r5")}}
	again := &fleetapi.FindingsDelta{Full: true, Objects: append([]fleetapi.ObjectFindings{pod("web-new-1", "r1", "r2", "r4")}, first[5:]...)}
	for _, tc := range []struct {
		name     string
		d        *fleetapi.FindingsDelta
		postgres int // statements
		sqlit    int // statements, none of them parsed
	}{
		// PostgreSQL: claimSeq, the read of the scope's rows,
		// writeFindings (which keeps the object digests too); a
		// snapshot after this hub's own reports takes the object
		// digests from its cache (digestcache.go), one read fewer than
		// before. SQLite: prepared
		// statements only (the rows in lists of prepared lengths: 70
		// rows are 64 + 4 + 2), the object digests' upsert one of them.
		{"rollout", rollout, 3, 20},
		{"new object", added, 3, 9},
		{"snapshot again", again, 3, 19},
	} {
		t.Run(tc.name, func(t *testing.T) { testStatements(t, first, tc.name, tc.d, tc.postgres, tc.sqlit) })
	}
}

func testStatements(t *testing.T, first []fleetapi.ObjectFindings, name string, d *fleetapi.FindingsDelta, postgres, sqlit int) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		enrolled(t, s, "edge", "ag")
		if _, err := s.Ingest(ctx, "ag", &fleetapi.Envelope{Seq: 1, Time: t0, Kind: fleetapi.KindFindings, Findings: &fleetapi.FindingsDelta{Full: true, Objects: first}}, t0); err != nil {
			t.Fatal(err)
		}
		before, parsedBefore := store.Statements(s), store.Parsed(s)
		applied, err := s.Ingest(ctx, "ag", &fleetapi.Envelope{Seq: 2, Time: t0, Kind: fleetapi.KindFindings, Findings: d}, t0)
		if err != nil || !applied {
			t.Fatalf("%s: applied %v, %v", name, applied, err)
		}
		want := sqlit
		if s.Backend() == "postgres" {
			want = postgres
		}
		if n := store.Statements(s) - before; n > int64(want) {
			t.Errorf("%s: %d statements, want at most %d", name, n, want)
		}
		if n := store.Parsed(s) - parsedBefore; s.Backend() == "sqlite" && n != 0 {
			t.Errorf("%s: %d statements parsed, want all prepared", name, n)
		}
		checkCounters(t, s, name)
	})
}
