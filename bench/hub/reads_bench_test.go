package hubbench

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub"
	"github.com/palisade-sec/palisade/internal/hub/pgtest"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestHubReadsAtScale stores PALISADE_BENCH_READ_CLUSTERS (1000) clusters
// × PALISADE_BENCH_READ_PODS (500) pods × 2 findings (1,000,000 rows) by
// ingesting full snapshots straight into the store, then times the
// dashboard's fleet-wide reads: from the counters maintained at ingest,
// and — on the same data — the whole-table aggregates they replace, plus
// the overview and compliance pages rendered end to end.
func TestHubReadsAtScale(t *testing.T) {
	benchEnabled(t)
	nClusters := envInt("PALISADE_BENCH_READ_CLUSTERS", 1000)
	pods := envInt("PALISADE_BENCH_READ_PODS", 500)
	for _, backend := range strings.Split(envStr("PALISADE_BENCH_BACKENDS", "sqlite,postgres"), ",") {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			var st store.Store
			var raw *sql.DB
			var err error
			if backend == "sqlite" {
				path := filepath.Join(t.TempDir(), "hub.db")
				if st, err = store.OpenSQLite(ctx, path); err == nil {
					raw, err = sql.Open("sqlite", "file:"+path)
				}
			} else {
				// Reads only: the seeding's durability does not change
				// them, so the tests' fast, non-durable server is used.
				url := pgtest.Shared(t).NewDatabase(t)
				if st, err = store.OpenPostgres(ctx, url); err == nil {
					raw, err = sql.Open("pgx", url)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			defer raw.Close()

			// Seed: enrol and ingest one full snapshot per cluster.
			start := time.Now()
			var wg sync.WaitGroup
			sem := make(chan struct{}, 4)
			errs := make(chan error, nClusters)
			for i := range nClusters {
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					errs <- seedCluster(ctx, st, i, pods)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			seedTime := time.Since(start)
			n, err := st.CountFindings(ctx, store.FindingQuery{})
			if err != nil || n != nClusters*pods*2 {
				t.Fatalf("stored %d findings (%v), want %d", n, err, nClusters*pods*2)
			}
			t.Logf("%s: seeded %d clusters × %d findings (%d rows) in %v (%.0f snapshots/s, counters included)",
				backend, nClusters, pods*2, n, seedTime.Round(time.Second), float64(nClusters)/seedTime.Seconds())

			h, err := hub.New(ctx, hub.Config{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			cookie := login(t, h)
			page := func(path string) error {
				req := httptest.NewRequest("GET", "https://hub"+path, nil)
				req.AddCookie(cookie)
				rec := httptest.NewRecorder()
				h.Handler().ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					return fmt.Errorf("%s: %d", path, rec.Code)
				}
				return nil
			}
			some, _, err := st.QueryClusters(ctx, store.ClusterQuery{Limit: 1, Offset: nClusters / 2})
			if err != nil || len(some) != 1 {
				t.Fatalf("a cluster: %v", err)
			}
			cut := store.Cutoffs(time.Now(), 90*time.Second, 10*time.Minute)
			reads := []struct {
				name string
				fn   func() error
			}{
				{"list clusters (all, counters)", func() error { _, err := st.ListClusters(ctx); return err }},
				{"cluster page of 50 (counters)", func() error {
					_, _, err := st.QueryClusters(ctx, store.ClusterQuery{Limit: 50, Offset: 500})
					return err
				}},
				{"fleet summary (counters)", func() error { _, err := st.FleetSummary(ctx, cut); return err }},
				{"compliance (counters)", func() error { _, err := st.Compliance(ctx); return err }},
				{"findings page", func() error {
					_, err := st.ListFindings(ctx, store.FindingQuery{ClusterID: some[0].ID, Limit: 50})
					return err
				}},
				{"before: severity counts over findings", func() error {
					return drain(raw.QueryContext(ctx, `SELECT cluster_id, severity, COUNT(*) FROM findings WHERE suppressed = 0 GROUP BY cluster_id, severity`))
				}},
				{"before: compliance over findings", func() error {
					return drain(raw.QueryContext(ctx, `SELECT rule_id, MAX(title), MAX(severity), COUNT(DISTINCT cluster_id), COUNT(DISTINCT cluster_id || '/' || object_key) FROM findings WHERE suppressed = 0 GROUP BY rule_id`))
				}},
				{"page / (overview, 50 clusters)", func() error { return page("/") }},
				{"page /compliance", func() error { return page("/compliance") }},
				{"page /findings?severity=HIGH", func() error { return page("/findings?severity=HIGH") }},
			}
			for _, q := range reads {
				best := time.Duration(1<<63 - 1)
				for range 3 { // best of three: the machine is shared
					t0 := time.Now()
					if err := q.fn(); err != nil {
						t.Fatalf("%s: %v", q.name, err)
					}
					best = min(best, time.Since(t0))
				}
				t.Logf("%s: %s: %v", backend, q.name, best.Round(10*time.Microsecond))
			}
		})
	}
}

func drain(rows *sql.Rows, err error) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
	}
	return rows.Err()
}

// seedCluster enrols cluster i through the store and ingests a full
// snapshot of pods × 2 findings.
func seedCluster(ctx context.Context, st store.Store, i, pods int) error {
	now := time.Now()
	c, err := st.EnsureCluster(ctx, fmt.Sprintf("edge-%04d", i), now)
	if err != nil {
		return err
	}
	secret := sha256.Sum256([]byte(c.ID))
	tok := fmt.Sprintf("tok-%d", i)
	if err := st.CreateBootstrapToken(ctx, store.BootstrapToken{ID: tok, ClusterID: c.ID, Hash: secret[:], CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		return err
	}
	agent := fmt.Sprintf("a-bench-%04d", i)
	if _, err := st.EnrollAgent(ctx, tok, secret[:], store.Agent{ID: agent}, now); err != nil {
		return err
	}
	d := &fleetapi.FindingsDelta{Full: true}
	for p := range pods {
		d.Objects = append(d.Objects, podFindings(p, 0))
	}
	inv := &fleetapi.Inventory{KubernetesVersion: "v1.31.4", Rules: []string{"pss/privileged", "hardening/read-only-root-fs", "pss/run-as-non-root"}}
	for seq, env := range []*fleetapi.Envelope{
		{Seq: 1, Kind: fleetapi.KindInventory, Inventory: inv},
		{Seq: 2, Kind: fleetapi.KindFindings, Findings: d},
	} {
		if _, err := st.Ingest(ctx, agent, env, now); err != nil {
			return fmt.Errorf("cluster %d report %d: %w", i, seq+1, err)
		}
	}
	if err := st.Heartbeat(ctx, agent, fleetapi.Heartbeat{}, now); err != nil {
		return err
	}
	return nil
}

// login signs in through the dashboard's form and returns the session
// cookie.
func login(t *testing.T, h *hub.Hub) *http.Cookie {
	t.Helper()
	if err := h.CreateUser(context.Background(), "bench", "bench-password-1", store.RoleViewer); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "https://hub/login", nil))
	var form *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == "__Host-palisade-login" {
			form = c
		}
	}
	if form == nil {
		t.Fatal("no login form cookie")
	}
	body := "token=" + form.Value + "&username=bench&password=bench-password-1&next=%2F"
	req := httptest.NewRequest("POST", "https://hub/login", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(form)
	rec = httptest.NewRecorder()
	h.Handler().ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == "__Host-palisade-session" && c.Value != "" {
			return c
		}
	}
	t.Fatalf("login: %d", rec.Code)
	return nil
}
