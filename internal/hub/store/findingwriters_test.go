package store

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// findingsWrite matches a statement that writes the findings table (not
// runtime_findings: no word boundary after its underscore), or a COPY
// into it.
var findingsWrite = regexp.MustCompile(`(?i)(\b(INSERT\s+INTO|DELETE\s+FROM|UPDATE|TRUNCATE(\s+TABLE)?|ALTER\s+TABLE)\s+findings\b|cp\(ctx,\s*"findings")`)

// TestOnlyFindingsReportsWriteFindings guards objectdigest.go's contract:
// a snapshot skips the objects whose digest is unchanged, so a write of
// findings rows anywhere but applier.findings (which keeps the digests)
// — a new resolve or exemption, an import, a backfill, a migration — that
// does not also delete the cluster's object_digests rows would make the
// next snapshot leave stale rows: a false clean on the dashboard. Every
// such statement in the module is listed here; a new one fails this test
// until it keeps the digests (delete the cluster's object_digests rows,
// or all of them in a migration) and is added to the list with the test
// that proves it (TestObjectDigestsBesideOtherWriters).
func TestOnlyFindingsReportsWriteFindings(t *testing.T) {
	allowed := map[string]int{
		// findingsUpsertList, deleteFindingsList, writeFindingsSQL's
		// upsert and delete, and the COPY: all in applier.findings.
		"internal/hub/store/ingest.go": 5,
	}
	got := map[string]int{}
	root := filepath.Join("..", "..", "..") // the module: the hub, its commands, bench and hack
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() && (d.Name() == "testdata" || d.Name() == ".git") {
			if err == nil {
				err = filepath.SkipDir
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if filepath.ToSlash(rel) == "internal/hub/store/migrations.go" {
			return nil // checked by migration below
		}
		if n := len(findingsWrite.FindAllIndex(src, -1)); n > 0 {
			got[filepath.ToSlash(rel)] = n
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for f, n := range got {
		if allowed[f] != n {
			t.Errorf("%s: %d statements write the findings table, %d known: a write outside applier.findings must keep object_digests (see objectdigest.go), then be counted here", f, n, allowed[f])
		}
	}
	for f, n := range allowed {
		if got[f] != n {
			t.Errorf("%s: %d statements write the findings table, %d expected (update the list)", f, got[f], n)
		}
	}
	// Migrations before 16 ran before object_digests existed (16 creates
	// it empty: every cluster's next snapshot is diffed whole). A later
	// one that writes findings must clear the digests it invalidates; one
	// that runs Go (post) must be read and listed here.
	checkedPost := map[int]bool{
		17: true, // findingsOutsideDigests: writes no findings, only a trigger that voids the digests
		18: true, // dropRuleIndexSQLite: drops an index, writes no findings
	}
	for _, m := range migrations {
		if m.version <= 16 {
			continue
		}
		if findingsWrite.MatchString(m.sql) && !regexp.MustCompile(`(?i)DELETE\s+FROM\s+object_digests\b`).MatchString(m.sql) {
			t.Errorf("migration %d (%s) writes findings without deleting object_digests", m.version, m.name)
		}
		if m.post != nil && !checkedPost[m.version] {
			t.Errorf("migration %d (%s) runs Go: check that it keeps object_digests when it writes findings, and list it in checkedPost", m.version, m.name)
		}
	}
}
