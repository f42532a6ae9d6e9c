package hubbench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestPostgresDeltaStatements measures what PostgreSQL spends per
// findings delta applied through the store (no HTTP, no decoding): its
// CPU (/proc of the postmaster and its children) and, when the server
// has pg_stat_statements (track_planning on), each statement's calls,
// plans and planning and execution time. It runs against a server the
// caller started (bench/hub/README.md, "generic plans"):
//
//	PALISADE_BENCH=1 PALISADE_BENCH_PG_URL=postgres://… PALISADE_BENCH_PG_PID=<postmaster> \
//	  go test -run TestPostgresDeltaStatements -v ./bench/hub/
//
// 100 clusters of 100 pods (14 findings each) are seeded, then
// PALISADE_BENCH_DELTAS deltas (3,000) are sent by 16 callers, each
// cluster's in order: a pod deleted, a new one added, one finding's
// message changed. plan_cache_mode=auto in the URL gives PostgreSQL's
// default plans, for comparison. It also prints the WAL written per
// delta, each table's inserted, deleted, updated and HOT-updated rows
// per delta, and each statement's buffers and WAL (pg_stat_statements).
func TestPostgresDeltaStatements(t *testing.T) {
	benchEnabled(t)
	url, pid := os.Getenv("PALISADE_BENCH_PG_URL"), envInt("PALISADE_BENCH_PG_PID", 0)
	if url == "" || pid == 0 {
		t.Fatal("set PALISADE_BENCH_PG_URL and PALISADE_BENCH_PG_PID (the postmaster's pid)")
	}
	ctx := context.Background()
	s, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const clusters, pods, callers = 100, 100, 16
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	pod := func(name, message string) fleetapi.ObjectFindings {
		o := fleetapi.ObjectFindings{Object: finding.ObjectRef{Kind: "Pod", Namespace: "shop", Name: name}}
		for r := range 14 {
			o.Findings = append(o.Findings, finding.Finding{RuleID: fmt.Sprintf("r%d", r), Severity: finding.SeverityHigh,
				Title: "title", Message: fmt.Sprintf("r%d on %s%s", r, name, message), Object: o.Object})
		}
		return o
	}
	seedClusters(ctx, t, s, clusters, pods, t0, pod)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// PALISADE_BENCH_PG_SQL is run after the seed, to measure a schema
	// change (an index dropped, a fillfactor) without a migration.
	if q := os.Getenv("PALISADE_BENCH_PG_SQL"); q != "" {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("PALISADE_BENCH_PG_SQL: %v", err)
		}
	}
	// As in a hub that has run a while: statistics of the seeded tables.
	if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	// The seed's sessions flush their table counters when idle (at most
	// every 10 s in PostgreSQL 15): wait them out, so the counters read
	// before the deltas hold the seed's.
	time.Sleep(11 * time.Second)
	_, statsErr := db.ExecContext(ctx, "SELECT pg_stat_statements_reset()")
	n := envInt("PALISADE_BENCH_DELTAS", 3000)
	tables0 := tableWrites(ctx, t, db)
	var wal0 string
	if err := db.QueryRowContext(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&wal0); err != nil {
		t.Fatal(err)
	}
	cpu0, start := postgresCPU(pid), time.Now()
	var wg sync.WaitGroup
	for w := range callers {
		wg.Go(func() {
			for i := range n {
				c, k := i%clusters, i/clusters
				if c%callers != w {
					continue
				}
				d := &fleetapi.FindingsDelta{
					Objects: []fleetapi.ObjectFindings{pod(fmt.Sprintf("new-%d", k), ""), pod(fmt.Sprintf("web-%d", (k+50)%pods), fmt.Sprintf(" changed %d", k))},
					Deleted: []finding.ObjectRef{{Kind: "Pod", Namespace: "shop", Name: fmt.Sprintf("web-%d", k%pods)}}}
				env := &fleetapi.Envelope{Seq: uint64(k + 2), Time: t0, Kind: fleetapi.KindFindings, Findings: d}
				if _, err := s.Ingest(ctx, fmt.Sprintf("ag-%d", c), env, t0.Add(time.Duration(k)*time.Second)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), postgresCPU(pid)-cpu0
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("%d deltas in %v; PostgreSQL CPU %v, %.2f ms per delta; load %s", n, elapsed.Round(time.Millisecond), cpu, float64(cpu.Microseconds())/1000/float64(n), strings.TrimSpace(string(load)))
	var walBytes float64
	if err := db.QueryRowContext(ctx, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)", wal0).Scan(&walBytes); err != nil {
		t.Fatal(err)
	}
	t.Logf("WAL: %.0f bytes per delta", walBytes/float64(n))
	// The committers' sessions flush their counters when they end.
	s.Close()
	time.Sleep(time.Second)
	for name, w := range tableWrites(ctx, t, db) {
		w0 := tables0[name]
		if d := w.sub(w0); d != (writes{}) {
			t.Logf("table %-16s per delta: %.1f inserted, %.1f deleted, %.2f updated (%.2f HOT)", name,
				float64(d.ins)/float64(n), float64(d.del)/float64(n), float64(d.upd)/float64(n), float64(d.hot)/float64(n))
		}
	}
	if statsErr != nil {
		t.Logf("no pg_stat_statements: %v", statsErr)
		return
	}
	rows, err := db.QueryContext(ctx, `SELECT calls, plans, total_plan_time, total_exec_time, rows, shared_blks_hit, shared_blks_read,
		shared_blks_dirtied, wal_records, wal_fpi, wal_bytes, left(regexp_replace(query, '\s+', ' ', 'g'), 70)
		FROM pg_stat_statements WHERE calls > 0 ORDER BY total_plan_time + total_exec_time DESC LIMIT 10`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var calls, plans, nrows, hit, read, dirtied, walRecs, fpi int64
		var plan, exec, wal float64
		var q string
		if err := rows.Scan(&calls, &plans, &plan, &exec, &nrows, &hit, &read, &dirtied, &walRecs, &fpi, &wal, &q); err != nil {
			t.Fatal(err)
		}
		c := float64(calls)
		t.Logf("%6d calls %6d plans, planning %.3f ms and execution %.3f ms per call: %s", calls, plans, plan/c, exec/c, q)
		t.Logf("       per call: %.1f rows, buffers %.1f hit %.2f read %.2f dirtied; WAL %.1f records (%.2f full pages), %.0f bytes",
			float64(nrows)/c, float64(hit)/c, float64(read)/c, float64(dirtied)/c, float64(walRecs)/c, float64(fpi)/c, wal/c)
	}
}

// writes are a table's row counters (pg_stat_user_tables).
type writes struct{ ins, del, upd, hot int64 }

func (w writes) sub(o writes) writes {
	return writes{w.ins - o.ins, w.del - o.del, w.upd - o.upd, w.hot - o.hot}
}

// tableWrites reads every table's inserted, deleted, updated and
// HOT-updated row counts.
func tableWrites(ctx context.Context, t *testing.T, db *sql.DB) map[string]writes {
	t.Helper()
	rows, err := db.QueryContext(ctx, "SELECT relname, n_tup_ins, n_tup_del, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := map[string]writes{}
	for rows.Next() {
		var name string
		var w writes
		if err := rows.Scan(&name, &w.ins, &w.del, &w.upd, &w.hot); err != nil {
			t.Fatal(err)
		}
		m[name] = w
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// postgresCPU is the CPU time of the postmaster pid and its children.
func postgresCPU(pid int) time.Duration {
	ents, _ := os.ReadDir("/proc")
	var ticks int64
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		st := string(b)
		f := strings.Fields(st[strings.LastIndexByte(st, ')')+2:])
		if ppid, _ := strconv.Atoi(f[1]); p != pid && ppid != pid {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		k, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + k
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ 100
}
