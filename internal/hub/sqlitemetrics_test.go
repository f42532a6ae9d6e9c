package hub

import (
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// TestSQLiteWriterMetrics: a SQLite hub's /metrics shows its writer's
// commits (each a sync of the WAL), their durations and the WAL's
// checkpoints, so an operator sees the writer's tail and the WAL's size.
func TestSQLiteWriterMetrics(t *testing.T) {
	gh := startGuardedHub(t, AuthLimits{Account: lockPolicy(3), Client: off, Token: off})
	cert, er, _ := gh.enrol(t, "edge")
	for seq := uint64(1); seq <= 3; seq++ {
		if resp, body := call(t, gh.client(cert), "POST", gh.url+fleetapi.PathReports, report(seq, er.ClusterID), nil); resp.StatusCode != 200 {
			t.Fatalf("report %d: %d %s", seq, resp.StatusCode, body)
		}
	}
	m := metricsText(t, gh)
	for _, want := range []string{
		"palisade_hub_store_commits_total 3",
		"palisade_hub_store_committed_items_total 3",
		`palisade_hub_store_commit_seconds_bucket{le="+Inf"} 3`,
		"palisade_hub_store_commit_max_seconds ",
		"palisade_hub_sqlite_checkpoints_total ",
		"palisade_hub_sqlite_checkpoint_seconds_total ",
		"palisade_hub_sqlite_wal_restarts_total ",
		"palisade_hub_sqlite_writer_paused_seconds_total ",
		"palisade_hub_sqlite_writer_pause_max_seconds ",
		"palisade_hub_sqlite_wal_pages ",
		"palisade_hub_sqlite_checkpoint_errors_total 0",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
