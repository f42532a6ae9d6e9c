package hub

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
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
		"palisade_hub_sqlite_wal_free_restarts_total ",
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

// walFigures is a SQLite store's figures as set by the test: the real
// store reaches a free restart only after megabytes of WAL (the store's
// TestWALRestartsWithoutHoldingWriter makes them), too slow for a hub test.
type walFigures store.WALStats

func (w walFigures) WALStats() store.WALStats { return store.WALStats(w) }

// TestSQLiteRestartMetrics: the WAL restarts the writer did by itself
// (FreeRestarts) are counted apart from those that held it (Restarts),
// each from its own field.
func TestSQLiteRestartMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(sqliteCollectors(walFigures{Restarts: 2, FreeRestarts: 7})...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if m := mf.GetMetric(); len(m) == 1 && m[0].GetCounter() != nil {
			got[mf.GetName()] = m[0].GetCounter().GetValue()
		}
	}
	for name, want := range map[string]float64{
		"palisade_hub_sqlite_wal_restarts_total":      2,
		"palisade_hub_sqlite_wal_free_restarts_total": 7,
	} {
		v, ok := got[name]
		if !ok {
			t.Errorf("%s not collected", name)
		} else if v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
}
