package hubbench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestSQLiteDeltaWriter measures the SQLite writer per findings delta
// applied through the store (no HTTP, no decoding; issue #17): the
// writer's time inside its transactions (its serial time, which bounds
// one writer's throughput), the group sizes, and the process's CPU
// (callers' preparation, the writer, the WAL syncer and the
// checkpointer):
//
//	PALISADE_BENCH=1 go test -run TestSQLiteDeltaWriter -v ./bench/hub/
//
// 100 clusters of 100 pods (14 findings each) are seeded, then
// PALISADE_BENCH_DELTAS deltas (6,000) are sent by 32 callers, each
// cluster's in order: a pod deleted, a new one added, one pod's findings
// changed (42 findings written, 14 deleted: about hubload's mean delta).
// PALISADE_BENCH_CPUPROFILE names a file for a CPU profile of the
// deltas.
func TestSQLiteDeltaWriter(t *testing.T) {
	benchEnabled(t)
	ctx := context.Background()
	s, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const clusters, pods, callers = 100, 100, 32
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	pod := func(name, message string) fleetapi.ObjectFindings {
		o := fleetapi.ObjectFindings{Object: finding.ObjectRef{Kind: "Pod", Namespace: "shop", Name: name}}
		for r := range 14 {
			o.Findings = append(o.Findings, finding.Finding{RuleID: fmt.Sprintf("r%d", r), Severity: finding.SeverityHigh,
				Title: "title", Message: fmt.Sprintf("r%d on %s%s: %s", r, name, message, strings.Repeat("x", 300)), Object: o.Object})
		}
		return o
	}
	seedClusters(ctx, t, s, clusters, pods, t0, pod)
	n := envInt("PALISADE_BENCH_DELTAS", 6000)
	if f := os.Getenv("PALISADE_BENCH_CPUPROFILE"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		if err := pprof.StartCPUProfile(out); err != nil {
			t.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	before, cpu0, start := s.WALStats(), processCPU(), time.Now()
	var wg sync.WaitGroup
	for w := range callers {
		wg.Go(func() {
			for i := range n {
				c, k := i%clusters, i/clusters
				if c%callers != w {
					continue
				}
				d := &fleetapi.FindingsDelta{
					Objects: []fleetapi.ObjectFindings{pod(fmt.Sprintf("new-%d", k), ""), pod(fmt.Sprintf("web-%d", 50+k%50), fmt.Sprintf(" changed %d", k)),
						pod(fmt.Sprintf("web-%d", k%50), fmt.Sprintf(" again %d", k))},
					Deleted: []finding.ObjectRef{{Kind: "Pod", Namespace: "shop", Name: fmt.Sprintf("new-%d", k-1)}}}
				env := &fleetapi.Envelope{Seq: uint64(k + 2), Time: t0, Kind: fleetapi.KindFindings, Findings: d}
				if _, err := s.Ingest(ctx, fmt.Sprintf("ag-%d", c), env, t0.Add(time.Duration(k)*time.Second)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed, cpu, after := time.Since(start), processCPU()-cpu0, s.WALStats()
	load, _ := os.ReadFile("/proc/loadavg")
	commits, items := after.Commits-before.Commits, after.CommittedItems-before.CommittedItems
	txn := after.CommitTimes.Sum - before.CommitTimes.Sum
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }
	t.Logf("%d deltas in %v (%.0f/s); process CPU %.2f ms per delta; writer in transactions %.2f ms per delta (busy %.0f%%), %d commits of %.1f deltas; WAL syncs %d, %.2f ms each; load %s",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), per(cpu), per(txn), 100*txn.Seconds()/elapsed.Seconds(),
		commits, float64(items)/float64(max(commits, 1)), after.WALSyncs-before.WALSyncs,
		float64((after.WALSyncTime-before.WALSyncTime).Microseconds())/1000/float64(max(after.WALSyncs-before.WALSyncs, 1)), strings.TrimSpace(string(load)))
}
