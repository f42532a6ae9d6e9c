package hub

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/pgtest"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// startReplicas starts n hubs on one new PostgreSQL database at the same
// time, as replicas behind a load balancer start: each opens its own pool,
// runs the migrations and loads (or creates) the CA concurrently.
// Every replica is given the same key files (one directory, as a shared
// Kubernetes Secret would be), created by whichever starts first.
func startReplicas(t *testing.T, n int) []*testHub {
	t.Helper()
	hubs, _, _ := startReplicasWithKeys(t, n)
	return hubs
}

func startReplicasWithKeys(t *testing.T, n int) ([]*testHub, string, KeyFiles) {
	t.Helper()
	dsn := pgtest.Shared(t).NewDatabase(t)
	keyDir := filepath.Join(t.TempDir(), "keys")
	keys := KeyFiles{CAKey: filepath.Join(keyDir, "ca.key"), BundleKey: filepath.Join(keyDir, "bundle-signing.key")}
	ctx, cancel := context.WithCancel(context.Background())
	hubs := make([]*testHub, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range hubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := store.OpenPostgres(ctx, dsn)
			if err != nil {
				errs[i] = err
				return
			}
			h, err := New(ctx, Config{Store: st, Keys: keys, Hosts: []string{"127.0.0.1"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				st.Close()
				errs[i] = err
				return
			}
			hubs[i] = &testHub{Hub: h, st: st}
		}()
	}
	wg.Wait()
	var done []chan struct{}
	t.Cleanup(func() {
		cancel()
		for _, d := range done {
			<-d
		}
		for _, h := range hubs {
			if h != nil {
				h.st.Close()
			}
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	for _, h := range hubs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		d := make(chan struct{})
		done = append(done, d)
		go func() { _ = h.Serve(ctx, ln); close(d) }()
		h.url = "https://" + ln.Addr().String()
	}
	return hubs, dsn, keys
}

// TestReplicasShareOnePostgreSQL: hub replicas on one database behave as
// one hub whichever replica the load balancer picks: one CA, bootstrap
// tokens single-use across replicas, reports deduplicated across
// replicas, sessions valid on every replica and ended on all by a logout.
func TestReplicasShareOnePostgreSQL(t *testing.T) {
	hubs := startReplicas(t, 2)
	a, b := hubs[0], hubs[1]
	ctx := context.Background()
	if a.CAFingerprint() != b.CAFingerprint() {
		t.Fatalf("replicas created two CAs: %s and %s", a.CAFingerprint(), b.CAFingerprint())
	}

	// Token created through a, redeemed through b, replayed through a.
	tok, _, err := a.CreateBootstrapToken(ctx, "edge-r", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, csr := keyAndCSR(t)
	resp, body := call(t, b.client(nil), "POST", b.url+fleetapi.PathEnroll, fleetapi.EnrollRequest{Token: tok, CSR: csr}, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("enrol through replica b: %d %s", resp.StatusCode, body)
	}
	var er fleetapi.EnrollResponse
	if err := json.Unmarshal(body, &er); err != nil {
		t.Fatal(err)
	}
	_, csr2 := keyAndCSR(t)
	if resp, _ := call(t, a.client(nil), "POST", a.url+fleetapi.PathEnroll, fleetapi.EnrollRequest{Token: tok, CSR: csr2}, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("token replayed through replica a: %d, want 401", resp.StatusCode)
	}

	// The agent's certificate, issued by b, works on a; a report sent to
	// a and retried to b (the load balancer moved it) is counted once.
	cert := tlsCert(t, er.Certificate, key)
	for i, tc := range []struct {
		h       *testHub
		seq     uint64
		wantDup bool
	}{{a, 1, false}, {b, 1, true}, {b, 2, false}, {a, 2, true}} {
		resp, body := call(t, tc.h.client(cert), "POST", tc.h.url+fleetapi.PathReports, report(tc.seq, er.ClusterID), nil)
		var res fleetapi.ReportResult
		_ = json.Unmarshal(body, &res)
		if resp.StatusCode != http.StatusOK || res.Duplicate != tc.wantDup {
			t.Fatalf("report %d (seq %d): %d %s, want duplicate=%v", i, tc.seq, resp.StatusCode, body, tc.wantDup)
		}
	}

	// A session opened on a is valid on b; a logout on b ends it on a.
	if err := a.CreateUser(ctx, "ops", "correct horse battery", store.RoleViewer); err != nil {
		t.Fatal(err)
	}
	resp, body = call(t, a.client(nil), "POST", a.url+"/api/v1/login", LoginRequest{Username: "ops", Password: "correct horse battery"}, nil)
	var lr LoginResponse
	_ = json.Unmarshal(body, &lr)
	var sess string
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			sess = ck.Value
		}
	}
	if resp.StatusCode != http.StatusOK || sess == "" {
		t.Fatalf("login on a: %d %s", resp.StatusCode, body)
	}
	cookie := map[string]string{"Cookie": sessionCookie + "=" + sess}
	if resp, _ := call(t, b.client(nil), "GET", b.url+"/api/v1/clusters", nil, cookie); resp.StatusCode != http.StatusOK {
		t.Fatalf("a's session on b: %d", resp.StatusCode)
	}
	call(t, b.client(nil), "POST", b.url+"/api/v1/logout", nil, map[string]string{"Cookie": cookie["Cookie"], csrfHeader: lr.CSRFToken})
	if resp, _ := call(t, a.client(nil), "GET", a.url+"/api/v1/me", nil, cookie); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("session alive on a after logout on b: %d", resp.StatusCode)
	}
}

// TestReplicasShareKeyFiles: replicas started at once on one PostgreSQL
// database with one key directory agree on one CA; the database holds no
// private key; a replica given no key files, or others, refuses to start
// rather than mint a second CA.
func TestReplicasShareKeyFiles(t *testing.T) {
	hubs, dsn, keys := startReplicasWithKeys(t, 3)
	for _, h := range hubs[1:] {
		if h.CAFingerprint() != hubs[0].CAFingerprint() {
			t.Fatalf("replicas created two CAs")
		}
	}
	ctx := context.Background()
	st := hubs[0].st
	for _, name := range []string{legacySecretCA, legacySecretBKey} {
		if _, err := st.LookupSecret(ctx, name); err == nil {
			t.Errorf("private key %s in the database", name)
		}
	}
	if _, err := st.LookupSecret(ctx, secretCACert); err != nil {
		t.Errorf("no CA certificate in the database: %v", err)
	}
	for name, kf := range map[string]KeyFiles{"no key files": {}, "an empty key directory": testKeyFiles(t.TempDir())} {
		st2, err := store.OpenPostgres(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(ctx, Config{Store: st2, Keys: kf, Logger: quietLogger()})
		st2.Close()
		if err == nil || !strings.Contains(err.Error(), "give this replica the same --ca-key-file") {
			t.Errorf("replica with %s: %v, want a refusal", name, err)
		}
	}
	if fi, err := os.Stat(keys.CAKey); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("shared CA key file: %v %v", fi, err)
	}
}
