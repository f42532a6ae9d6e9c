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
// default plans, for comparison.
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
	// As in a hub that has run a while: statistics of the seeded tables.
	if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	_, statsErr := db.ExecContext(ctx, "SELECT pg_stat_statements_reset()")
	n := envInt("PALISADE_BENCH_DELTAS", 3000)
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
	if statsErr != nil {
		t.Logf("no pg_stat_statements: %v", statsErr)
		return
	}
	rows, err := db.QueryContext(ctx, `SELECT calls, plans, total_plan_time, total_exec_time, left(regexp_replace(query, '\s+', ' ', 'g'), 70)
		FROM pg_stat_statements WHERE calls > 0 ORDER BY total_plan_time + total_exec_time DESC LIMIT 8`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var calls, plans int64
		var plan, exec float64
		var q string
		if err := rows.Scan(&calls, &plans, &plan, &exec, &q); err != nil {
			t.Fatal(err)
		}
		t.Logf("%6d calls %6d plans, planning %.3f ms and execution %.3f ms per call: %s", calls, plans, plan/float64(calls), exec/float64(calls), q)
	}
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
