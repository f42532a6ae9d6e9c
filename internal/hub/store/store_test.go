package store_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/pgtest"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// backends opens a fresh, migrated store of each kind: the same suite runs
// against SQLite and PostgreSQL.
var backends = []struct {
	name string
	open func(t *testing.T) store.Store
}{
	{"sqlite", func(t *testing.T) store.Store {
		s, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "hub.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
	{"postgres", func(t *testing.T) store.Store {
		url := pgtest.Shared(t).NewDatabase(t)
		s, err := store.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
}

// backendURLs make a fresh database of each kind, for a test that opens
// it more than once.
var backendURLs = []struct {
	name string
	url  func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "hub.db") }},
	{"postgres", func(t *testing.T) string { return pgtest.Shared(t).NewDatabase(t) }},
}

func forEachBackend(t *testing.T, fn func(t *testing.T, s store.Store)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			t.Cleanup(func() { s.Close() })
			fn(t, s)
		})
	}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func hash(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

// enrolled creates a cluster with one enrolled agent.
func enrolled(t *testing.T, s store.Store, cluster, agent string) store.Cluster {
	t.Helper()
	ctx := context.Background()
	c, err := s.EnsureCluster(ctx, cluster, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateBootstrapToken(ctx, store.BootstrapToken{ID: "tok-" + agent, ClusterID: c.ID, Hash: hash("secret-" + agent), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnrollAgent(ctx, "tok-"+agent, hash("secret-"+agent), store.Agent{ID: agent}, t0); err != nil {
		t.Fatal(err)
	}
	return c
}

func fnd(kind, ns, name, rule string, sev finding.Severity) finding.Finding {
	return finding.Finding{RuleID: rule, Severity: sev, Title: rule + " title", Message: rule + " on " + name,
		Object: finding.ObjectRef{Kind: kind, Namespace: ns, Name: name}}
}

func objFindings(kind, ns, name string, rules ...string) fleetapi.ObjectFindings {
	o := fleetapi.ObjectFindings{Object: finding.ObjectRef{Kind: kind, Namespace: ns, Name: name}, Findings: []finding.Finding{}}
	for _, r := range rules {
		o.Findings = append(o.Findings, fnd(kind, ns, name, r, finding.SeverityHigh))
	}
	return o
}

func findingsEnv(seq uint64, full bool, objs ...fleetapi.ObjectFindings) *fleetapi.Envelope {
	return &fleetapi.Envelope{Seq: seq, Time: t0, Kind: fleetapi.KindFindings, Findings: &fleetapi.FindingsDelta{Full: full, Objects: objs}}
}

func TestMigrations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		v, err := s.SchemaVersion(context.Background())
		if err != nil || v != store.LatestSchemaVersion() {
			t.Fatalf("schema version = %d, %v; want %d", v, err, store.LatestSchemaVersion())
		}
	})
}

func TestMigrationsReopenAndRefuseNewer(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hub.db")
	s, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnsureCluster(ctx, "kept", t0); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Reopening applies nothing and keeps the data.
	s, err = store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := s.ListClusters(ctx)
	if err != nil || len(cs) != 1 {
		t.Fatalf("clusters after reopen = %v, %v", cs, err)
	}
	s.Close()
	// A database migrated by a newer hub is refused.
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := store.OpenSQLite(ctx, path); err == nil {
		t.Fatal("opened a database with a newer schema")
	}
}

func TestPostgresConcurrentMigrations(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := store.OpenPostgres(context.Background(), url)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
}

func TestSecretFirstWriterWins(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		a, err := s.Secret(ctx, "ca", func() ([]byte, error) { return []byte("first"), nil })
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Secret(ctx, "ca", func() ([]byte, error) { return []byte("second"), nil })
		if err != nil || string(a) != "first" || string(b) != "first" {
			t.Fatalf("secrets %q %q %v", a, b, err)
		}
	})
}

func TestBootstrapTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		c, _ := s.EnsureCluster(ctx, "edge-1", t0)
		mk := func(id string, exp time.Duration) {
			if err := s.CreateBootstrapToken(ctx, store.BootstrapToken{ID: id, ClusterID: c.ID, Hash: hash(id), CreatedAt: t0, ExpiresAt: t0.Add(exp)}); err != nil {
				t.Fatal(err)
			}
		}
		mk("good", time.Hour)
		mk("expired", time.Minute)
		tests := []struct {
			name, id, secret, agent string
			at                      time.Time
			wantErr                 error
		}{
			{"wrong secret is refused", "good", "nope", "a0", t0, store.ErrTokenRejected},
			{"right secret after a wrong guess", "good", "good", "a1", t0, nil},
			{"replayed token is refused", "good", "good", "a2", t0, store.ErrTokenRejected},
			{"expired token is refused", "expired", "expired", "a3", t0.Add(2 * time.Minute), store.ErrTokenRejected},
			{"unknown token is refused", "unknown", "unknown", "a4", t0, store.ErrTokenRejected},
		}
		for _, tt := range tests {
			got, err := s.EnrollAgent(ctx, tt.id, hash(tt.secret), store.Agent{ID: tt.agent}, tt.at)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("%s: err = %v, want %v", tt.name, err, tt.wantErr)
			}
			if err == nil && got.ID != c.ID {
				t.Errorf("%s: cluster %s, want %s", tt.name, got.ID, c.ID)
			}
		}
		if _, err := s.GetAgent(ctx, "a2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("agent from replayed token exists: %v", err)
		}
	})
}

func TestConcurrentEnrollmentUsesTokenOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		c, _ := s.EnsureCluster(ctx, "edge", t0)
		if err := s.CreateBootstrapToken(ctx, store.BootstrapToken{ID: "t", ClusterID: c.ID, Hash: hash("t"), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.EnrollAgent(ctx, "t", hash("t"), store.Agent{ID: "agent-" + string(rune('a'+i))}, t0)
				if err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				} else if !errors.Is(err, store.ErrTokenRejected) {
					t.Errorf("enrol: %v", err)
				}
			}()
		}
		wg.Wait()
		if ok != 1 {
			t.Fatalf("%d enrolments succeeded with one token, want 1", ok)
		}
	})
}

func TestIngestFindingsExactlyOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		c := enrolled(t, s, "edge", "ag")
		count := func() int {
			n, err := s.CountFindings(ctx, store.FindingQuery{ClusterID: c.ID})
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		steps := []struct {
			name        string
			env         *fleetapi.Envelope
			wantApplied bool
			wantCount   int
		}{
			{"first report", findingsEnv(1, false, objFindings("Pod", "a", "p1", "r1", "r2"), objFindings("Pod", "a", "p2", "r1")), true, 3},
			{"replay is not counted again", findingsEnv(1, false, objFindings("Pod", "a", "p1", "r1", "r2")), false, 3},
			{"older seq is not applied", findingsEnv(0+1, false, objFindings("Pod", "a", "p9", "r1")), false, 3},
			{"object's set replaces its findings", findingsEnv(2, false, objFindings("Pod", "a", "p1", "r2", "r3")), true, 3},
			{"clean object clears", findingsEnv(3, false, objFindings("Pod", "a", "p2")), true, 2},
			{"gap in seq is accepted", findingsEnv(7, false, objFindings("Pod", "b", "q", "r1")), true, 3},
			{"full snapshot clears unnamed objects", findingsEnv(8, true, objFindings("Pod", "b", "q", "r1", "r4")), true, 2},
		}
		for _, st := range steps {
			applied, err := s.Ingest(ctx, "ag", st.env, t0)
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if applied != st.wantApplied || count() != st.wantCount {
				t.Fatalf("%s: applied %v count %d, want %v %d", st.name, applied, count(), st.wantApplied, st.wantCount)
			}
		}
		del := &fleetapi.Envelope{Seq: 9, Kind: fleetapi.KindFindings, Findings: &fleetapi.FindingsDelta{Deleted: []finding.ObjectRef{{Kind: "Pod", Namespace: "b", Name: "q"}}}}
		if _, err := s.Ingest(ctx, "ag", del, t0); err != nil || count() != 0 {
			t.Fatalf("delete: %v, count %d", err, count())
		}
		a, _ := s.GetAgent(ctx, "ag")
		if a.LastSeq != 9 {
			t.Fatalf("last seq %d, want 9", a.LastSeq)
		}
	})
}

func TestFirstSeenKept(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		c := enrolled(t, s, "edge", "ag")
		_, _ = s.Ingest(ctx, "ag", findingsEnv(1, false, objFindings("Pod", "a", "p", "r1")), t0)
		_, _ = s.Ingest(ctx, "ag", findingsEnv(2, false, objFindings("Pod", "a", "p", "r1")), t0.Add(time.Hour))
		fs, err := s.ListFindings(ctx, store.FindingQuery{ClusterID: c.ID})
		if err != nil || len(fs) != 1 {
			t.Fatalf("findings %v %v", fs, err)
		}
		if !fs[0].FirstSeen.Equal(t0) || !fs[0].LastSeen.Equal(t0.Add(time.Hour)) {
			t.Fatalf("first %v last %v", fs[0].FirstSeen, fs[0].LastSeen)
		}
	})
}

func TestConcurrentReplaysApplyOnce(t *testing.T) {
	// Two hub replicas receiving the same report (a retry after a timeout)
	// must apply it once.
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		enrolled(t, s, "edge", "ag")
		var wg sync.WaitGroup
		var mu sync.Mutex
		applied := 0
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := s.Ingest(ctx, "ag", findingsEnv(1, false, objFindings("Pod", "a", "p", "r1")), t0)
				if err != nil {
					t.Errorf("ingest: %v", err)
				}
				if ok {
					mu.Lock()
					applied++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if applied != 1 {
			t.Fatalf("applied %d times", applied)
		}
	})
}

func TestIngestRefusesOtherCluster(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		enrolled(t, s, "a", "agent-a")
		b := enrolled(t, s, "b", "agent-b")
		env := findingsEnv(1, false, objFindings("Pod", "x", "y", "r"))
		env.Cluster = b.ID
		if _, err := s.Ingest(ctx, "agent-a", env, t0); !errors.Is(err, store.ErrWrongCluster) {
			t.Fatalf("err = %v, want ErrWrongCluster", err)
		}
		if n, _ := s.CountFindings(ctx, store.FindingQuery{ClusterID: b.ID}); n != 0 {
			t.Fatalf("cluster b has %d findings", n)
		}
		if _, err := s.Ingest(ctx, "ghost", findingsEnv(1, false), t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown agent: %v", err)
		}
	})
}

func TestImagesAndVulnerabilities(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		a := enrolled(t, s, "a", "agent-a")
		b := enrolled(t, s, "b", "agent-b")
		enrolled(t, s, "c", "agent-c")
		const d1, d2 = "sha256:1111", "sha256:2222"
		imgs := func(seq uint64, uses ...fleetapi.ImageUse) *fleetapi.Envelope {
			return &fleetapi.Envelope{Seq: seq, Kind: fleetapi.KindImages, Images: &fleetapi.ImageSet{Images: uses}}
		}
		vuln := func(id string, aliases ...string) finding.Finding {
			return finding.Finding{RuleID: "vuln/" + id, Severity: finding.SeverityCritical, Vulnerability: &finding.Vulnerability{ID: id, Aliases: aliases,
				Package: finding.VulnerablePackage{Name: "openssl", Ecosystem: "deb"}, Installed: "3.0.1", Fixed: "3.0.2"}}
		}
		scan := func(seq uint64, digest string, vs ...finding.Finding) *fleetapi.Envelope {
			return &fleetapi.Envelope{Seq: seq, Kind: fleetapi.KindImageScan, ImageScan: &fleetapi.ImageScan{Digest: digest, Ref: "nginx", ScannedAt: t0, Vulnerabilities: vs}}
		}
		for _, step := range []struct {
			agent string
			env   *fleetapi.Envelope
		}{
			{"agent-a", imgs(1, fleetapi.ImageUse{Ref: "nginx:1", Digest: d1, Workloads: 2, Namespaces: []string{"web"}})},
			{"agent-a", scan(2, d1, vuln("GHSA-xxxx", "CVE-2026-1"))},
			{"agent-b", imgs(1, fleetapi.ImageUse{Ref: "nginx:1", Digest: d1, Workloads: 1}, fleetapi.ImageUse{Ref: "redis:7", Digest: d2, Workloads: 1})},
			{"agent-b", scan(2, d1, vuln("GHSA-xxxx", "CVE-2026-1"))},
			// c scanned d1 but no longer runs it: not affected.
			{"agent-c", scan(1, d1, vuln("GHSA-xxxx", "CVE-2026-1"))},
		} {
			if _, err := s.Ingest(ctx, step.agent, step.env, t0); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range []string{"CVE-2026-1", "GHSA-xxxx"} {
			got, err := s.ClustersAffectedBy(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0].ClusterID != a.ID || got[1].ClusterID != b.ID || got[0].Digest != d1 {
				t.Fatalf("%s: affected = %+v", q, got)
			}
		}
		if got, _ := s.ClustersAffectedBy(ctx, "CVE-0000-0"); len(got) != 0 {
			t.Fatalf("unknown CVE affects %v", got)
		}
		ims, err := s.ListImages(ctx, b.ID)
		if err != nil || len(ims) != 2 {
			t.Fatalf("images %v %v", ims, err)
		}
		if ims[0].Vulnerabilities["CRITICAL"] != 1 || ims[0].ScannedAt.IsZero() || ims[1].Vulnerabilities["CRITICAL"] != 0 {
			t.Fatalf("image counts %+v", ims)
		}
		vs, err := s.ImageVulnerabilities(ctx, a.ID, d1)
		if err != nil || len(vs) != 1 || vs[0].Fixed != "3.0.2" {
			t.Fatalf("vulns %+v %v", vs, err)
		}
		// A rescan without the vulnerability clears it.
		if _, err := s.Ingest(ctx, "agent-a", scan(3, d1), t0); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.ClustersAffectedBy(ctx, "CVE-2026-1"); len(got) != 1 || got[0].ClusterID != b.ID {
			t.Fatalf("after rescan: %+v", got)
		}
	})
}

func TestInventoryNodesAndCompliance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		a := enrolled(t, s, "a", "agent-a")
		enrolled(t, s, "b", "agent-b")
		inv := &fleetapi.Inventory{KubernetesVersion: "v1.37.2", Distribution: "k3s", Rules: []string{"r1", "r2"},
			Nodes: []fleetapi.Node{{Name: "n1", Architecture: "arm64", OS: "linux", Labels: map[string]string{"sensor": "yes"}}}}
		for _, agent := range []string{"agent-a", "agent-b"} {
			if _, err := s.Ingest(ctx, agent, &fleetapi.Envelope{Seq: 1, Kind: fleetapi.KindInventory, Inventory: inv}, t0); err != nil {
				t.Fatal(err)
			}
		}
		_, _ = s.Ingest(ctx, "agent-a", findingsEnv(2, false, objFindings("Pod", "a", "p1", "r1"), objFindings("Pod", "a", "p2", "r1")), t0)
		_, _ = s.Ingest(ctx, "agent-b", findingsEnv(2, false, objFindings("Pod", "a", "p1", "r1")), t0)
		c, err := s.GetCluster(ctx, a.ID)
		if err != nil || c.Distribution != "k3s" || c.KubernetesVersion != "v1.37.2" || c.Findings["HIGH"] != 2 {
			t.Fatalf("cluster %+v %v", c, err)
		}
		nodes, err := s.ListNodes(ctx, a.ID)
		if err != nil || len(nodes) != 1 || nodes[0].Labels["sensor"] != "yes" {
			t.Fatalf("nodes %+v %v", nodes, err)
		}
		comp, err := s.Compliance(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.RuleCompliance{
			{RuleID: "r1", Title: "r1 title", Severity: finding.SeverityHigh, FailingClusters: 2, FailingObjects: 3, EvaluatingClusters: 2},
			{RuleID: "r2", EvaluatingClusters: 2},
		}
		if len(comp) != len(want) || comp[0] != want[0] || comp[1] != want[1] {
			t.Fatalf("compliance %+v, want %+v", comp, want)
		}
	})
}

func TestAdmissionEvents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		a := enrolled(t, s, "a", "agent-a")
		evs := []fleetapi.AdmissionEvent{
			{Time: t0, UID: "u1", Operation: "CREATE", Decision: "denied", Rules: []string{"pss/privileged"}},
			{Time: t0.Add(time.Second), UID: "u2", Operation: "CREATE", Decision: "allowed", BreakGlass: true},
		}
		for seq, e := range []*fleetapi.Envelope{
			{Seq: 1, Kind: fleetapi.KindAdmission, Admission: evs},
			// The same events under a new seq (webhook resent): kept once by UID.
			{Seq: 2, Kind: fleetapi.KindAdmission, Admission: evs},
		} {
			if _, err := s.Ingest(ctx, "agent-a", e, t0); err != nil {
				t.Fatalf("seq %d: %v", seq+1, err)
			}
		}
		tests := []struct {
			name string
			q    store.AdmissionQuery
			want int
		}{
			{"all", store.AdmissionQuery{ClusterID: a.ID}, 2},
			{"denials", store.AdmissionQuery{Decision: "denied"}, 1},
			{"break-glass", store.AdmissionQuery{BreakGlassOnly: true}, 1},
			{"since", store.AdmissionQuery{Since: t0.Add(time.Second)}, 1},
		}
		for _, tt := range tests {
			got, err := s.ListAdmissionEvents(ctx, tt.q)
			if err != nil || len(got) != tt.want {
				t.Errorf("%s: %d events (%v), want %d", tt.name, len(got), err, tt.want)
			}
		}
	})
}

func TestHeartbeatAndState(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		a := enrolled(t, s, "a", "agent-a")
		c, _ := s.GetCluster(ctx, a.ID)
		if st := c.State(t0, time.Minute, 5*time.Minute); st != fleetapi.StateNeverSeen {
			t.Fatalf("state before contact %s", st)
		}
		if err := s.Heartbeat(ctx, "agent-a", fleetapi.Heartbeat{Pending: 4, Dropped: 2}, t0); err != nil {
			t.Fatal(err)
		}
		c, _ = s.GetCluster(ctx, a.ID)
		if c.Pending != 4 || c.Dropped != 2 {
			t.Fatalf("pending %d dropped %d", c.Pending, c.Dropped)
		}
		for _, tt := range []struct {
			after time.Duration
			want  fleetapi.ClusterState
		}{{30 * time.Second, fleetapi.StateOnline}, {2 * time.Minute, fleetapi.StateStale}, {time.Hour, fleetapi.StateOffline}} {
			if got := c.State(t0.Add(tt.after), time.Minute, 5*time.Minute); got != tt.want {
				t.Errorf("after %v: %s, want %s", tt.after, got, tt.want)
			}
		}
		if err := s.Heartbeat(ctx, "ghost", fleetapi.Heartbeat{}, t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("ghost heartbeat: %v", err)
		}
	})
}

func TestCertificates(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		a := enrolled(t, s, "a", "agent-a")
		for _, serial := range []string{"01", "02"} {
			if err := s.RecordCertificate(ctx, store.Certificate{Serial: serial, ClusterID: a.ID, AgentID: "agent-a", NotBefore: t0, NotAfter: t0.Add(time.Hour)}, t0, 0); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := s.RevokeCertificates(ctx, store.CertificateFilter{Serial: "01"}, t0); err != nil || n != 1 {
			t.Fatalf("revoke serial: %d %v", n, err)
		}
		c, _ := s.GetCertificate(ctx, "01")
		if c.RevokedAt.IsZero() {
			t.Fatal("01 not revoked")
		}
		if n, _ := s.RevokeCertificates(ctx, store.CertificateFilter{AgentID: "agent-a"}, t0); n != 1 {
			t.Fatalf("revoke agent revoked %d, want 1 (02)", n)
		}
		if _, err := s.RevokeCertificates(ctx, store.CertificateFilter{}, t0); err == nil {
			t.Fatal("empty filter accepted")
		}
	})
}

func TestUsersSessionsTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		u := store.User{ID: "u1", Name: "alice", PasswordHash: "$argon2id$x", Role: store.RoleAdmin, CreatedAt: t0}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateUser(ctx, store.User{ID: "u2", Name: "alice", Role: store.RoleViewer}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate user: %v", err)
		}
		if err := s.CreateUser(ctx, store.User{Name: "bob", Role: "root"}); err == nil {
			t.Fatal("bad role accepted")
		}
		if err := s.CreateSession(ctx, store.Session{IDHash: hash("s"), UserID: "u1", CSRFToken: "c", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}, 0); err != nil {
			t.Fatal(err)
		}
		se, got, err := s.GetSession(ctx, hash("s"), t0)
		if err != nil || got.Name != "alice" || se.CSRFToken != "c" {
			t.Fatalf("session %+v %+v %v", se, got, err)
		}
		if _, _, err := s.GetSession(ctx, hash("s"), t0.Add(2*time.Hour)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired session: %v", err)
		}
		_ = s.DeleteSession(ctx, hash("s"))
		if _, _, err := s.GetSession(ctx, hash("s"), t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted session: %v", err)
		}
		if err := s.CreateAPIToken(ctx, store.APIToken{ID: "t1", Name: "ci", Role: store.RoleViewer, Hash: hash("x"), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if tok, err := s.GetAPIToken(ctx, "t1", t0); err != nil || tok.Role != store.RoleViewer {
			t.Fatalf("token %+v %v", tok, err)
		}
		if _, err := s.GetAPIToken(ctx, "t1", t0.Add(2*time.Hour)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired token: %v", err)
		}
	})
}

func TestBundles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		a := enrolled(t, s, "a", "agent-a")
		b := enrolled(t, s, "b", "agent-b")
		sign := func(x *fleetapi.Bundle) error { x.Signature = []byte("sig-" + x.SHA256[:8]); return nil }
		put := func(kind, name, cluster, content string) fleetapi.Bundle {
			got, err := s.PutBundle(ctx, fleetapi.Bundle{Kind: kind, Name: name, Cluster: cluster, Content: []byte(content)}, sign)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		if b := put("policy", "default", "", "v1"); b.Version != 1 || b.Size != 2 {
			t.Fatalf("put: %+v", b)
		}
		if v := put("policy", "default", "", "v2").Version; v != 2 {
			t.Fatalf("version %d", v)
		}
		put("allowlist", "edge", a.ID, "only-a")
		la, _ := s.ListBundles(ctx, a.ID)
		lb, _ := s.ListBundles(ctx, b.ID)
		if len(la) != 2 || len(lb) != 1 || string(lb[0].Content) != "v2" || lb[0].Size != 2 || len(lb[0].Signature) == 0 {
			t.Fatalf("bundles a=%d b=%+v", len(la), lb)
		}
		// A bundle over the inline limit is listed without its content,
		// which GetBundle returns.
		big := strings.Repeat("x", fleetapi.MaxInlineBundleBytes+1)
		put("vulndb", "osv", "", big)
		lb, _ = s.ListBundles(ctx, b.ID)
		if len(lb) != 2 || lb[1].Kind != "vulndb" || lb[1].Content != nil || lb[1].Size != int64(len(big)) || lb[1].SHA256 == "" {
			t.Fatalf("large bundle listed as %+v", lb[1:])
		}
		got, err := s.GetBundle(ctx, "vulndb", "osv", "")
		if err != nil || string(got.Content) != big || got.Version != 1 || got.SHA256 != lb[1].SHA256 || string(got.Signature) != string(lb[1].Signature) {
			t.Fatalf("GetBundle: v%d %d bytes %v", got.Version, len(got.Content), err)
		}
		if _, err := s.GetBundle(ctx, "allowlist", "edge", b.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another cluster's bundle: %v", err)
		}
		// GetBundleInfo: the same metadata, without the content.
		info, err := s.GetBundleInfo(ctx, "vulndb", "osv", "")
		if err != nil || info.Content != nil || info.Version != got.Version || info.SHA256 != got.SHA256 || info.Size != int64(len(big)) ||
			string(info.Signature) != string(got.Signature) || !info.CreatedAt.Equal(got.CreatedAt) || info.Cluster != "" {
			t.Fatalf("GetBundleInfo: %+v %v", info, err)
		}
		if info, err := s.GetBundleInfo(ctx, "allowlist", "edge", a.ID); err != nil || info.Size != int64(len("only-a")) || info.Cluster != a.ID || info.Version != 1 {
			t.Fatalf("GetBundleInfo of a cluster's bundle: %+v %v", info, err)
		}
		if _, err := s.GetBundleInfo(ctx, "allowlist", "edge", b.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetBundleInfo of another cluster's bundle: %v", err)
		}
	})
}

// TestSessionCap: a login keeps the user's newest sessions up to the cap
// (the new one always among them), drops the oldest and the user's
// expired ones, and leaves other users' sessions alone.
func TestSessionCap(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		for _, u := range []store.User{{ID: "u1", Name: "alice", Role: store.RoleAdmin}, {ID: "u2", Name: "bob", Role: store.RoleViewer}} {
			if err := s.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		login := func(id, user string, at time.Time, ttl time.Duration, keep int) {
			t.Helper()
			if err := s.CreateSession(ctx, store.Session{IDHash: hash(id), UserID: user, CSRFToken: "c", CreatedAt: at, ExpiresAt: at.Add(ttl)}, keep); err != nil {
				t.Fatal(err)
			}
		}
		alive := func(id string, at time.Time) bool {
			_, _, err := s.GetSession(ctx, hash(id), at)
			return err == nil
		}
		login("bob-old", "u2", t0, time.Minute, 3) // expires before the others log in
		login("bob", "u2", t0, 24*time.Hour, 3)
		for i, id := range []string{"a1", "a2", "a3", "a4", "a5"} {
			login(id, "u1", t0.Add(time.Duration(i+1)*time.Hour), 24*time.Hour, 3)
		}
		// The same millisecond as a3..a5's newest: the new one must win.
		login("a6", "u1", t0.Add(5*time.Hour), 24*time.Hour, 3)
		now := t0.Add(5 * time.Hour)
		for id, want := range map[string]bool{"a1": false, "a2": false, "a3": false, "a4": true, "a5": true, "a6": true, "bob": true} {
			if got := alive(id, now); got != want {
				t.Errorf("session %s alive = %v, want %v", id, got, want)
			}
		}
		// Alice's logins leave bob's sessions alone, even the expired one;
		// bob's next login deletes it from the table, not only filters it.
		if !alive("bob-old", t0) {
			t.Error("another user's session deleted")
		}
		login("bob-2", "u2", now, 24*time.Hour, 3)
		if alive("bob-old", t0) || !alive("bob", now) {
			t.Error("expired session still stored, or a live one dropped")
		}
		login("n1", "u1", now, time.Hour, 0) // no cap
		if !alive("a4", now) || !alive("n1", now) {
			t.Error("keep 0 dropped sessions")
		}
	})
}

// TestValidationErrors: input the caller got wrong is an ErrInvalid
// naming the field; duplicates are ErrConflict; neither is a database error.
func TestValidationErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		sign := func(b *fleetapi.Bundle) error { return nil }
		tests := []struct {
			name  string
			err   error
			want  error
			field string
		}{
			{"empty cluster name", second(s.EnsureCluster(ctx, "", t0)), store.ErrInvalid, "cluster name"},
			{"control character in cluster name", second(s.EnsureCluster(ctx, "edge\n1", t0)), store.ErrInvalid, "cluster name"},
			{"long cluster name", second(s.EnsureCluster(ctx, string(make([]byte, 200)), t0)), store.ErrInvalid, "cluster name"},
			{"padded user name", s.CreateUser(ctx, store.User{Name: " alice", Role: store.RoleViewer}), store.ErrInvalid, "user name"},
			{"bad role", s.CreateUser(ctx, store.User{Name: "bob", Role: "root"}), store.ErrInvalid, "role"},
			{"empty token name", s.CreateAPIToken(ctx, store.APIToken{ID: "t", Role: store.RoleViewer}), store.ErrInvalid, "token name"},
			{"bad token role", s.CreateAPIToken(ctx, store.APIToken{ID: "t", Name: "ci", Role: "owner"}), store.ErrInvalid, "role"},
			{"empty bundle name", second(s.PutBundle(ctx, fleetapi.Bundle{Kind: "policy"}, sign)), store.ErrInvalid, "bundle name"},
			{"bad state", third(s.QueryClusters(ctx, store.ClusterQuery{State: "sleeping"})), store.ErrInvalid, "state"},
		}
		for _, tt := range tests {
			var ve *store.ValidationError
			if !errors.Is(tt.err, tt.want) || !errors.As(tt.err, &ve) || ve.Field != tt.field {
				t.Errorf("%s: %v, want %v on field %q", tt.name, tt.err, tt.want, tt.field)
			}
		}
		if err := s.CreateUser(ctx, store.User{Name: "carol", Role: store.RoleViewer}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateUser(ctx, store.User{Name: "carol", Role: store.RoleViewer}); !errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrInvalid) {
			t.Errorf("duplicate user: %v, want ErrConflict only", err)
		}
	})
}

func second[T any](_ T, err error) error        { return err }
func third[T, U any](_ T, _ U, err error) error { return err }
