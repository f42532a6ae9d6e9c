package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"
)

// TestMigration3Backfills upgrades a version-2 database holding findings
// and an inventory: the counters and evaluated rules are filled in.
func TestMigration3Backfills(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hub.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, sqliteDialect, 2); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO clusters (id, name, created_at, inventory) VALUES ('c1', 'one', 1, '{"rules":["r1","r2"]}')`,
		`INSERT INTO findings VALUES ('c1', 'Pod/ns/a', 'k1', 1, 'r1', 3, 'Pod', 'ns', 'a', 'R1', 0, '{}', 1, 1)`,
		`INSERT INTO findings VALUES ('c1', 'Pod/ns/a', 'k2', 1, 'r1', 3, 'Pod', 'ns', 'a', 'R1', 0, '{}', 1, 1)`,
		`INSERT INTO findings VALUES ('c1', 'Pod/ns/b', 'k3', 1, 'r1', 4, 'Pod', 'ns', 'b', 'R1', 0, '{}', 1, 1)`,
		`INSERT INTO findings VALUES ('c1', 'Pod/ns/b', 'k4', 1, 'r2', 1, 'Pod', 'ns', 'b', 'R2', 1, '{}', 1, 1)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := s.GetCluster(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Findings["HIGH"] != 2 || c.Findings["CRITICAL"] != 1 || c.Findings["LOW"] != 0 {
		t.Fatalf("counts %v", c.Findings)
	}
	comp, err := s.Compliance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []RuleCompliance{
		{RuleID: "r1", Title: "R1", Severity: 4, FailingClusters: 1, FailingObjects: 2, EvaluatingClusters: 1},
		{RuleID: "r2", EvaluatingClusters: 1},
	}
	if len(comp) != 2 || comp[0] != want[0] || comp[1] != want[1] {
		t.Fatalf("compliance %+v, want %+v", comp, want)
	}
}
