package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// writerMeter reads the hub's writer figures from its /metrics (with the
// admin API token, so only with --tokens api) around each step: the time
// the committers spent in their transactions per report applied — the
// writer's serial time, which bounds one writer's throughput whatever the
// CPU — and, on SQLite, the WAL syncs. The metrics are SQLite's
// (palisade_hub_store_*, palisade_hub_sqlite_*); on PostgreSQL it prints
// nothing.
type writerMeter struct {
	api    *adminTokens
	before map[string]float64
	start  time.Time
}

// writerMetrics are the counters read.
var writerMetrics = []string{
	"palisade_hub_store_commit_seconds_sum", "palisade_hub_store_commits_total", "palisade_hub_store_committed_items_total",
	"palisade_hub_sqlite_wal_syncs_total", "palisade_hub_sqlite_wal_sync_seconds_total",
	"palisade_hub_sqlite_wal_restarts_total", "palisade_hub_sqlite_writer_paused_seconds_total",
	"palisade_hub_sqlite_writer_pause_max_seconds", "palisade_hub_store_commit_max_seconds",
}

func (w *writerMeter) reset(ctx context.Context) {
	if w == nil {
		return
	}
	w.before, _ = w.scrape(ctx)
	w.start = time.Now()
}

// per describes the writer's figures since reset for reports applied.
func (w *writerMeter) per(ctx context.Context, reports int64) string {
	if w == nil || w.before == nil || reports <= 0 {
		return ""
	}
	after, err := w.scrape(ctx)
	if err != nil {
		return "writer: " + err.Error()
	}
	d := func(name string) float64 { return after[name] - w.before[name] }
	commits := d("palisade_hub_store_commits_total")
	if commits <= 0 {
		return ""
	}
	wall := time.Since(w.start).Seconds()
	txn := d("palisade_hub_store_commit_seconds_sum")
	s := fmt.Sprintf("writer: %.0f commits, %.1f requests each; in transactions %.2f ms per report (busy %.0f%% of %.1fs)",
		commits, d("palisade_hub_store_committed_items_total")/commits, 1000*txn/float64(reports), 100*txn/wall, wall)
	if syncs := d("palisade_hub_sqlite_wal_syncs_total"); syncs > 0 {
		s += fmt.Sprintf("; WAL syncs off the writer %.0f, %.2f ms each", syncs, 1000*d("palisade_hub_sqlite_wal_sync_seconds_total")/syncs)
	}
	// What can hold a report past its group's commit and sync: the
	// WAL restarts, which hold the writer, and the longest transaction
	// (both maxima since the hub started).
	if r := d("palisade_hub_sqlite_wal_restarts_total"); r > 0 {
		s += fmt.Sprintf("; WAL restarts %.0f holding the writer %.1f ms each", r, 1000*d("palisade_hub_sqlite_writer_paused_seconds_total")/r)
	}
	if after["palisade_hub_store_commit_max_seconds"] > 0 {
		s += fmt.Sprintf("; longest since start: transaction %.0f ms, restart %.0f ms",
			1000*after["palisade_hub_store_commit_max_seconds"], 1000*after["palisade_hub_sqlite_writer_pause_max_seconds"])
	}
	return s
}

func (w *writerMeter) scrape(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.api.url+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+w.api.token)
	resp, err := w.api.c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %d", resp.StatusCode)
	}
	return parseMetrics(io.LimitReader(resp.Body, 8<<20), writerMetrics)
}

// parseMetrics reads the named unlabelled samples of a Prometheus text
// exposition.
func parseMetrics(r io.Reader, names []string) (map[string]float64, error) {
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !want[name] {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", name, err)
		}
		out[name] = v
	}
	return out, sc.Err()
}
