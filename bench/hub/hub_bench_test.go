// Package hubbench measures the fleet hub and agent with real parts:
// ingest from 1,000 simulated clusters over loopback mutual TLS into
// SQLite and PostgreSQL, and the RSS of an agent process watching 1,000
// pods in a real kube-apiserver. Run with PALISADE_BENCH=1 (figures in
// README.md); the tests skip otherwise because they take minutes.
package hubbench

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub"
	"github.com/palisade-sec/palisade/internal/hub/pgtest"
	"github.com/palisade-sec/palisade/internal/hub/store"
	"github.com/palisade-sec/palisade/internal/testenv"
)

func TestMain(m *testing.M) {
	testenv.Main(m) // stops the shared control plane; pgtest's server dies with the binary
}

func benchEnabled(t *testing.T) {
	if os.Getenv("PALISADE_BENCH") != "1" {
		t.Skip("set PALISADE_BENCH=1 to run the fleet benchmarks")
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

type simCluster struct {
	client *http.Client
	id     string
	seq    uint64
}

// durablePostgres starts a PostgreSQL server with its default durability
// (pgtest.Options.Durable): ingest figures of a server that may lose
// committed reports on a crash would flatter the hub. It is stopped at the
// test's end.
func durablePostgres(t *testing.T) *pgtest.Server {
	t.Helper()
	bin, err := pgtest.BinDir()
	if err != nil {
		if os.Getenv("PALISADE_REQUIRE_POSTGRES") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	srv, err := pgtest.StartWith(context.Background(), bin, pgtest.Options{Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

func startHub(t testing.TB, st store.Store) (*hub.Hub, string) {
	ctx, cancel := context.WithCancel(context.Background())
	h, err := hub.New(ctx, hub.Config{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = h.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return h, "https://" + ln.Addr().String()
}

func post(c *http.Client, url string, v any, out any) error {
	b, _ := json.Marshal(v)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: %d %s", url, resp.StatusCode, body)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	// Drained, so the connection is reused as an agent's is: an undrained
	// body closes it, and every report then paid a full mutual-TLS
	// handshake on both sides (the figures before 2026-11-25 did).
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// enrolConcurrency keeps enrolments in flight from one address below the
// hub's bootstrap-token guessing limit (DefaultAuthLimits().Token.Free,
// 10): attempts in flight count against it, and the 11th concurrent
// enrolment from 127.0.0.1 is answered 429 (the harness enrolled 16 at a
// time and panicked on the nil cluster of the refused one).
const enrolConcurrency = 8

// enrol creates a bootstrap token and enrols a simulated agent with it;
// a 429 (the guessing limit) is retried after its Retry-After. It returns
// an error instead of failing the test, since it runs in goroutines.
func enrol(h *hub.Hub, url, name string) (*simCluster, error) {
	tok, _, err := h.CreateBootstrapToken(context.Background(), name, time.Hour)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: token: %w", name, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(h.CACertificate())
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: time.Minute}
	var er fleetapi.EnrollResponse
	for attempt := 0; ; attempt++ {
		err = post(anon, url+fleetapi.PathEnroll, fleetapi.EnrollRequest{Token: tok, CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))}, &er)
		if err == nil || !strings.Contains(err.Error(), ": 429 ") || attempt == 5 {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster %s: enrol: %w", name, err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair([]byte(er.Certificate), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	if err != nil {
		return nil, fmt.Errorf("cluster %s: certificate: %w", name, err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}, MaxIdleConnsPerHost: 1}
	return &simCluster{client: &http.Client{Transport: tr, Timeout: time.Minute}, id: er.ClusterID}, nil
}

// enrolFleet enrols n simulated clusters, enrolConcurrency at a time.
func enrolFleet(t *testing.T, h *hub.Hub, url string, n int) []*simCluster {
	t.Helper()
	clusters := make([]*simCluster, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, enrolConcurrency)
	for i := range clusters {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			clusters[i], errs[i] = enrol(h, url, fmt.Sprintf("edge-%04d", i))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err) // in the test's goroutine
		}
	}
	return clusters
}

func podFindings(pod int, gen int) fleetapi.ObjectFindings {
	ref := finding.ObjectRef{Kind: "Pod", Namespace: fmt.Sprintf("ns-%d", pod%10), Name: fmt.Sprintf("pod-%d", pod)}
	o := fleetapi.ObjectFindings{Object: ref}
	for _, r := range []string{"pss/privileged", "hardening/read-only-root-fs"} {
		o.Findings = append(o.Findings, finding.Finding{RuleID: r, Severity: finding.SeverityHigh, Title: r, Object: ref,
			Message: fmt.Sprintf("%s on %s (%d)", r, ref.Name, gen%2), Container: "app"})
	}
	return o
}

// phase sends reports from workers and returns reports/s and latencies.
// With batch > 1, each request carries batch consecutive reports of one
// cluster (fleetapi.ReportBatch), as an agent draining a backlog does;
// reports/s still counts reports, latency is per request.
//
// Each cluster belongs to one worker, which sends its reports in order, one
// at a time, as an agent does: the hub answers a second concurrent report
// of a cluster 429, and reports of one cluster sent in parallel could
// arrive out of order and be taken for replays.
func phase(t *testing.T, clusters []*simCluster, url string, reports int, workers, batch int, mk func(c *simCluster, i int) *fleetapi.Envelope) (float64, []time.Duration) {
	workers = min(workers, len(clusters))
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			defer func() {
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
			for round := 0; ; round++ {
				for ci := w; ci < len(clusters); ci += workers {
					i := round*len(clusters) + ci
					if i*batch >= reports {
						return
					}
					c := clusters[ci]
					var b fleetapi.ReportBatch
					for k := range min(batch, reports-i*batch) {
						b.Envelopes = append(b.Envelopes, *mk(c, i*batch+k))
					}
					t0 := time.Now()
					var err error
					if batch == 1 {
						err = post(c.client, url+fleetapi.PathReports, &b.Envelopes[0], nil)
					} else {
						err = post(c.client, url+fleetapi.PathReportBatch, &b, nil)
					}
					if err != nil {
						t.Error(err)
						return
					}
					mine = append(mine, time.Since(t0))
				}
			}
		}()
	}
	wg.Wait()
	return float64(reports) / time.Since(start).Seconds(), lat
}

func pct(d []time.Duration, p float64) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// TestHubIngest: every cluster sends a full snapshot of its pods (2
// findings each), then the fleet sends steady-state deltas (5 changed pods
// per report). Reports/s and p50/p99 per phase and backend.
func TestHubIngest(t *testing.T) {
	benchEnabled(t)
	nClusters := envInt("PALISADE_BENCH_CLUSTERS", 1000)
	pods := envInt("PALISADE_BENCH_PODS", 500)
	deltas := envInt("PALISADE_BENCH_DELTAS", 10000)
	workers := envInt("PALISADE_BENCH_WORKERS", 32)
	batch := envInt("PALISADE_BENCH_BATCH", 1)
	backends := strings.Split(envStr("PALISADE_BENCH_BACKENDS", "sqlite,postgres"), ",")
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			var st store.Store
			var err error
			if backend == "sqlite" {
				st, err = store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "hub.db"))
			} else {
				st, err = store.OpenPostgres(context.Background(), durablePostgres(t).NewDatabase(t))
			}
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			h, url := startHub(t, st)
			clusters := enrolFleet(t, h, url, nClusters)
			snapRate, snapLat := phase(t, clusters, url, nClusters, workers, 1, func(c *simCluster, i int) *fleetapi.Envelope {
				d := &fleetapi.FindingsDelta{Full: true}
				for p := range pods {
					d.Objects = append(d.Objects, podFindings(p, 0))
				}
				c.seq++
				return &fleetapi.Envelope{Seq: c.seq, Kind: fleetapi.KindFindings, Findings: d}
			})
			var seqMu sync.Mutex
			deltaRate, deltaLat := phase(t, clusters, url, deltas, workers, batch, func(c *simCluster, i int) *fleetapi.Envelope {
				d := &fleetapi.FindingsDelta{}
				for k := range 5 {
					d.Objects = append(d.Objects, podFindings((i*7+k)%pods, i))
				}
				seqMu.Lock()
				c.seq++
				seq := c.seq
				seqMu.Unlock()
				return &fleetapi.Envelope{Seq: seq, Kind: fleetapi.KindFindings, Findings: d}
			})
			// Every cluster sends its full snapshot again (an agent restart
			// or outbox drop fleet-wide): the findings are those of the first
			// snapshot, so apart from the pods the deltas touched last nothing
			// is rewritten.
			resnapRate, resnapLat := phase(t, clusters, url, nClusters, workers, 1, func(c *simCluster, i int) *fleetapi.Envelope {
				d := &fleetapi.FindingsDelta{Full: true}
				for p := range pods {
					d.Objects = append(d.Objects, podFindings(p, 0))
				}
				seqMu.Lock()
				c.seq++
				seq := c.seq
				seqMu.Unlock()
				return &fleetapi.Envelope{Seq: seq, Kind: fleetapi.KindFindings, Findings: d}
			})
			t.Logf("%s: snapshot again (unchanged findings): %.0f reports/s (p50 %v, p99 %v)", backend, resnapRate, pct(resnapLat, .5), pct(resnapLat, .99))
			n, _ := st.CountFindings(context.Background(), store.FindingQuery{})
			t.Logf("%s: %d clusters x %d pods, %d workers: snapshot %.0f reports/s (p50 %v, p99 %v); deltas %d (batch %d): %.0f reports/s (p50 %v, p99 %v); %d findings stored",
				backend, nClusters, pods, workers, snapRate, pct(snapLat, .5), pct(snapLat, .99), deltas, batch, deltaRate, pct(deltaLat, .5), pct(deltaLat, .99), n)
			if n != nClusters*pods*2 {
				t.Errorf("stored %d findings, want %d", n, nClusters*pods*2)
			}
			// The dashboard's heaviest reads at this size.
			for _, q := range []struct {
				name string
				fn   func() error
			}{
				{"list clusters", func() error { _, err := st.ListClusters(context.Background()); return err }},
				{"compliance", func() error { _, err := st.Compliance(context.Background()); return err }},
				{"findings page", func() error {
					_, err := st.ListFindings(context.Background(), store.FindingQuery{ClusterID: clusters[0].id, Limit: 100})
					return err
				}},
			} {
				t0 := time.Now()
				if err := q.fn(); err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: %s in %v", backend, q.name, time.Since(t0))
			}
		})
	}
}
