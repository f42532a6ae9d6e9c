package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/pgtest"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestClaimReadAfterLockWait: on PostgreSQL a delta's claim also reads
// the stored rows of the delta's objects, in the statement's snapshot,
// taken before it waits for the agent's row lock. Another replica's
// transaction holds that lock, changes the rows of an object the delta
// sends (here it deletes one, as a delta that removed the finding
// would) and advances the cluster's gen, as every writer of findings
// does; it commits while the claim waits. The delta re-sends the object
// with the finding: its diff must see the row gone and write it again,
// not take the snapshot's stale rows for the stored ones. A writer that
// only touches the cluster's row (a heartbeat) leaves the claim's rows
// good: they are used, and the delta is two statements.
func TestClaimReadAfterLockWait(t *testing.T) {
	for _, tc := range []struct {
		name string
		// other is what the transaction holding the lock does.
		other func(cluster string) []string
		// statements bounds the delta's statements (0: not checked).
		statements int64
	}{
		{"another replica's findings", func(cluster string) []string {
			return []string{
				fmt.Sprintf(`DELETE FROM findings WHERE cluster_id = '%s' AND object_key = 'Pod/shop/web-3' AND rule_id = 'r1'`, cluster),
				fmt.Sprintf(`UPDATE clusters SET gen = gen + 1 WHERE id = '%s'`, cluster),
			}
		}, 0},
		{"a heartbeat", func(cluster string) []string {
			return []string{fmt.Sprintf(`UPDATE clusters SET last_seen = last_seen + 1 WHERE id = '%s'`, cluster)}
		}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) { testClaimReadAfterLockWait(t, tc.other, tc.statements) })
	}
}

func testClaimReadAfterLockWait(t *testing.T, other func(cluster string) []string, statements int64) {
	ctx := context.Background()
	url := pgtest.Shared(t).NewDatabase(t)
	s, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := enrolled(t, s, "edge", "ag")
	var pods []fleetapi.ObjectFindings
	for i := range 6 {
		pods = append(pods, objFindings("Pod", "shop", fmt.Sprintf("web-%d", i), "r1", "r2"))
	}
	if _, err := s.Ingest(ctx, "ag", findingsEnv(1, true, pods...), t0); err != nil {
		t.Fatal(err)
	}
	want := store.FindingRows(t, s, c.ID)
	if len(want) != 12 {
		t.Fatalf("%d rows stored, want 12", len(want))
	}

	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.ExecContext(ctx, `SELECT set_config('palisade.object_digests', 'kept', true), id FROM agents WHERE id = 'ag' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	for _, q := range other(c.ID) {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	// The delta re-sends web-3 as stored and deletes web-5.
	delta := &fleetapi.Envelope{Seq: 2, Time: t0, Kind: fleetapi.KindFindings, Findings: &fleetapi.FindingsDelta{
		Objects: []fleetapi.ObjectFindings{pods[3]},
		Deleted: []finding.ObjectRef{pods[5].Object},
	}}
	before := store.Statements(s)
	done := make(chan error, 1)
	go func() {
		_, err := s.Ingest(ctx, "ag", delta, t0.Add(time.Second))
		done <- err
	}()
	// Commit only once the claim waits for the lock, so that its
	// snapshot is older than this transaction's changes.
	deadline := time.Now().Add(3 * time.Minute)
	for waiting := false; !waiting; {
		if time.Now().After(deadline) {
			t.Fatal("the delta's claim never waited for the agent's row lock")
		}
		select {
		case err := <-done:
			t.Fatalf("the delta was applied while the agent's row was locked: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
		if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'WITH o AS%')`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := store.Statements(s) - before; statements > 0 && n > statements {
		t.Errorf("the delta took %d statements, want at most %d", n, statements)
	}

	got := store.FindingRows(t, s, c.ID)
	for k, r := range want {
		if strings.HasPrefix(k, "Pod/shop/web-5 ") {
			if _, ok := got[k]; ok {
				t.Errorf("%s: still stored after the delta deleted its object", k)
			}
			continue
		}
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: not stored after the delta re-sent it (the diff took stale rows for the stored ones)", k)
			continue
		}
		if g.DHash != r.DHash {
			t.Errorf("%s: data hash %s, want %s", k, g.DHash, r.DHash)
		}
	}
	if len(got) != 10 {
		t.Errorf("%d rows stored, want 10", len(got))
	}
}
