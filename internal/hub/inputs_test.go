package hub

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// brokenStore fails the calls behind the admin actions, the cluster
// listing and the readiness check with an error text that must stay in
// the hub's log, once broken is set.
type brokenStore struct {
	store.Store
	broken      atomic.Bool
	writeFailed atomic.Bool  // WriteFailure answers an error
	pings       atomic.Int32 // SchemaVersion calls
}

func (b *brokenStore) WriteFailure() error {
	if b.writeFailed.Load() {
		return errors.New(storeSecret)
	}
	return b.Store.WriteFailure()
}

func (b *brokenStore) err() error {
	if b.broken.Load() {
		return errors.New(storeSecret)
	}
	return nil
}

func (b *brokenStore) EnsureCluster(ctx context.Context, name string, now time.Time) (store.Cluster, error) {
	if err := b.err(); err != nil {
		return store.Cluster{}, err
	}
	return b.Store.EnsureCluster(ctx, name, now)
}

func (b *brokenStore) CreateUser(ctx context.Context, u store.User) error {
	if err := b.err(); err != nil {
		return err
	}
	return b.Store.CreateUser(ctx, u)
}

func (b *brokenStore) CreateAPIToken(ctx context.Context, t store.APIToken) error {
	if err := b.err(); err != nil {
		return err
	}
	return b.Store.CreateAPIToken(ctx, t)
}

func (b *brokenStore) PutBundle(ctx context.Context, bd fleetapi.Bundle, sign func(*fleetapi.Bundle) error) (fleetapi.Bundle, error) {
	if err := b.err(); err != nil {
		return bd, err
	}
	return b.Store.PutBundle(ctx, bd, sign)
}

func (b *brokenStore) QueryClusters(ctx context.Context, q store.ClusterQuery) ([]store.Cluster, int, error) {
	if err := b.err(); err != nil {
		return nil, 0, err
	}
	return b.Store.QueryClusters(ctx, q)
}

func (b *brokenStore) SchemaVersion(ctx context.Context) (int, error) {
	b.pings.Add(1)
	if err := b.err(); err != nil {
		return 0, err
	}
	return b.Store.SchemaVersion(ctx)
}

// brokenHub is a hub over a brokenStore with its log in a buffer, and an
// admin API token.
func brokenHub(t *testing.T) (*testHub, *brokenStore, *logBuffer, map[string]string) {
	t.Helper()
	logs := &logBuffer{}
	th := startHubWith(t, Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	bs := &brokenStore{Store: th.st}
	th.st, th.Hub.st = bs, bs
	tok, err := th.CreateAPIToken(context.Background(), "admin", store.RoleAdmin, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := th.CreateUser(context.Background(), "alice", "correct horse battery", store.RoleViewer); err != nil {
		t.Fatal(err)
	}
	return th, bs, logs, map[string]string{"Authorization": "Bearer " + tok}
}

// TestAdminActionErrors: the caller's mistakes are 400 (409 for a
// duplicate) with a message naming the field or object; database
// failures are 500 with a generic message, their text only in the log.
func TestAdminActionErrors(t *testing.T) {
	th, bs, logs, admin := brokenHub(t)
	c := th.client(nil)
	const pw = "correct horse battery"
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		broken bool
		want   int
		msg    string // the answer's error contains it
	}{
		{"empty cluster name", "POST", "/api/v1/clusters", CreateClusterRequest{}, false, 400, "cluster name: empty"},
		{"cluster name with a newline", "POST", "/api/v1/clusters", CreateClusterRequest{Name: "edge\n1"}, false, 400, "cluster name:"},
		{"cluster name too long", "POST", "/api/v1/clusters", CreateClusterRequest{Name: strings.Repeat("e", 200)}, false, 400, "cluster name: 200 bytes"},
		{"bootstrap ttl too long", "POST", "/api/v1/clusters", CreateClusterRequest{Name: "edge", TTL: "200h"}, false, 400, "ttl: 200h0m0s"},
		{"unknown role", "POST", "/api/v1/users", CreateUserRequest{Name: "bob", Password: pw, Role: "root"}, false, 400, `user "bob": role: "root": want viewer or admin`},
		{"short password", "POST", "/api/v1/users", CreateUserRequest{Name: "bob", Password: "short", Role: "viewer"}, false, 400, "password: want at least 12"},
		{"empty user name", "POST", "/api/v1/users", CreateUserRequest{Password: pw, Role: "viewer"}, false, 400, "user name: empty"},
		{"duplicate user", "POST", "/api/v1/users", CreateUserRequest{Name: "alice", Password: pw, Role: "viewer"}, false, 409, `user "alice": already exists`},
		{"empty token name", "POST", "/api/v1/tokens", CreateTokenRequest{Role: "viewer"}, false, 400, "token name: empty"},
		{"unknown token role", "POST", "/api/v1/tokens", CreateTokenRequest{Name: "ci", Role: "owner"}, false, 400, `api token "ci": role: "owner"`},
		{"negative token ttl", "POST", "/api/v1/tokens", CreateTokenRequest{Name: "ci", Role: "viewer", TTL: "-1h"}, false, 400, `expires: "-1h"`},
		{"unknown bundle kind", "POST", "/api/v1/bundles", PublishBundleRequest{Kind: "script", Name: "x"}, false, 400, `kind: "script"`},
		{"empty bundle name", "POST", "/api/v1/bundles", PublishBundleRequest{Kind: "policy"}, false, 400, "bundle name: empty"},
		{"bundle name agents cannot use", "POST", "/api/v1/bundles", PublishBundleRequest{Kind: "policy", Name: "../../etc/x"}, false, 400, "kind and name must be letters"},
		{"bundle for an unknown cluster", "POST", "/api/v1/bundles", PublishBundleRequest{Kind: "policy", Name: "x", Cluster: "c-nope"}, false, 400, `cluster: no cluster with ID "c-nope"`},
		{"unknown state filter", "GET", "/api/v1/clusters?state=sleeping", nil, false, 400, `state: "sleeping"`},

		{"database fails creating a cluster", "POST", "/api/v1/clusters", CreateClusterRequest{Name: "edge"}, true, 500, "internal error"},
		{"database fails creating a user", "POST", "/api/v1/users", CreateUserRequest{Name: "bob", Password: pw, Role: "viewer"}, true, 500, "internal error"},
		{"database fails creating a token", "POST", "/api/v1/tokens", CreateTokenRequest{Name: "ci", Role: "viewer"}, true, 500, "internal error"},
		{"database fails publishing a bundle", "POST", "/api/v1/bundles", PublishBundleRequest{Kind: "policy", Name: "x"}, true, 500, "internal error"},
		{"database fails listing by state", "GET", "/api/v1/clusters?state=online", nil, true, 500, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bs.broken.Store(tt.broken)
			defer bs.broken.Store(false)
			resp, body := call(t, c, tt.method, th.url+tt.path, tt.body, admin)
			var e fleetapi.Error
			_ = json.Unmarshal(body, &e)
			if resp.StatusCode != tt.want || !strings.Contains(e.Error, tt.msg) {
				t.Fatalf("%d %s, want %d with %q", resp.StatusCode, body, tt.want, tt.msg)
			}
			if strings.Contains(string(body), "hunter2") || strings.Contains(string(body), "10.0.0.5") {
				t.Fatalf("store internals in the answer: %s", body)
			}
		})
	}
	if !strings.Contains(logs.String(), "hunter2") {
		t.Error("the database error is not in the log")
	}
}

// TestDashboardAdminErrors: the admin forms answer like the API: the
// caller's mistakes with their message, database failures with the
// generic error page.
func TestDashboardAdminErrors(t *testing.T) {
	th, bs, _, _ := brokenHub(t)
	ctx := context.Background()
	if err := th.CreateUser(ctx, "root", "correct horse battery", store.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	u, err := th.st.GetUserByName(ctx, "root")
	if err != nil {
		t.Fatal(err)
	}
	sid, now := randomSecret(), time.Now()
	if err := th.st.CreateSession(ctx, store.Session{IDHash: hashSecret(sid), UserID: u.ID, CSRFToken: "csrf-1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, 0); err != nil {
		t.Fatal(err)
	}
	post := func(path string, form url.Values) (int, string) {
		form.Set("csrf", "csrf-1")
		req, _ := http.NewRequest("POST", th.url+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Cookie", sessionCookie+"="+sid)
		resp, err := th.client(nil).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		name   string
		path   string
		form   url.Values
		broken bool
		want   int
		msg    string
	}{
		{"duplicate user", "/admin/users", url.Values{"name": {"alice"}, "password": {"correct horse battery"}, "role": {"viewer"}}, false, 409, "already exists"},
		{"unknown role", "/admin/users", url.Values{"name": {"bob"}, "password": {"correct horse battery"}, "role": {"root"}}, false, 400, "want viewer or admin"},
		{"database fails creating a user", "/admin/users", url.Values{"name": {"bob"}, "password": {"correct horse battery"}, "role": {"viewer"}}, true, 500, "the error is in its log"},
		{"database fails creating a cluster", "/admin/clusters", url.Values{"name": {"edge"}}, true, 500, "the error is in its log"},
		{"database fails creating a token", "/admin/tokens", url.Values{"name": {"ci"}, "role": {"viewer"}}, true, 500, "the error is in its log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bs.broken.Store(tt.broken)
			defer bs.broken.Store(false)
			status, page := post(tt.path, tt.form)
			if status != tt.want || !strings.Contains(page, tt.msg) || strings.Contains(page, "hunter2") {
				t.Fatalf("%d, want %d with %q:\n%s", status, tt.want, tt.msg, page)
			}
		})
	}
}

// TestHealthAndReadiness: /healthz is a liveness answer without details
// or database; /readyz reaches the database at most once per interval;
// details need a signed-in caller.
func TestHealthAndReadiness(t *testing.T) {
	th, bs, _, admin := brokenHub(t)
	c := th.client(nil)
	get := func(path string, hdr map[string]string) (int, map[string]any) {
		t.Helper()
		resp, body := call(t, c, "GET", th.url+path, nil, hdr)
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s: %v: %s", path, err, body)
		}
		return resp.StatusCode, m
	}
	t.Run("liveness says nothing and touches no database", func(t *testing.T) {
		bs.broken.Store(true)
		defer bs.broken.Store(false)
		before := bs.pings.Load()
		for range 5 {
			status, m := get(fleetapi.PathHealth, nil)
			if status != 200 || len(m) != 1 || m["status"] != "ok" {
				t.Fatalf("healthz: %d %v, want 200 {status: ok} only", status, m)
			}
		}
		if n := bs.pings.Load() - before; n != 0 {
			t.Fatalf("healthz queried the database %d times", n)
		}
	})
	t.Run("readiness is cached", func(t *testing.T) {
		th.ready.mu.Lock()
		th.ready.every, th.ready.at = time.Hour, time.Time{}
		th.ready.mu.Unlock()
		before := bs.pings.Load()
		for range 20 {
			if status, m := get(PathReady, nil); status != 200 || len(m) != 1 || m["status"] != "ready" {
				t.Fatalf("readyz: %d %v", status, m)
			}
		}
		if n := bs.pings.Load() - before; n != 1 {
			t.Fatalf("20 readiness checks queried the database %d times, want 1", n)
		}
	})
	for _, tt := range []struct {
		name  string
		fault *atomic.Bool
	}{
		{"readiness fails without details when the database does", &bs.broken},
		{"readiness fails without details when the store stopped writing (a failed WAL sync)", &bs.writeFailed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.fault.Store(true)
			defer tt.fault.Store(false)
			th.ready.mu.Lock()
			th.ready.every, th.ready.at = time.Millisecond, time.Time{}
			th.ready.mu.Unlock()
			status, m := get(PathReady, nil)
			if status != http.StatusServiceUnavailable || len(m) != 1 || m["status"] != "unavailable" {
				t.Fatalf("readyz: %d %v, want 503 {status: unavailable} only", status, m)
			}
		})
	}
	t.Run("details need a signed-in caller", func(t *testing.T) {
		if status, _ := get("/api/v1/status", nil); status != http.StatusUnauthorized {
			t.Fatalf("anonymous status: %d", status)
		}
		status, m := get("/api/v1/status", admin)
		if status != 200 || m["backend"] != "sqlite" || m["schemaVersion"] != float64(store.LatestSchemaVersion()) {
			t.Fatalf("status: %d %v", status, m)
		}
	})
}

// TestJSONBodies: every endpoint refuses data after the JSON value; user
// and admin endpoints refuse unknown fields; agent endpoints ignore them
// (a newer agent must keep reporting to an older hub).
func TestJSONBodies(t *testing.T) {
	th, _, _, admin := brokenHub(t)
	cert, enr, _ := th.enrol(t, "edge")
	agent := th.client(cert)
	anon := th.client(nil)
	env, _ := json.Marshal(report(1, enr.ClusterID))
	withField := func(b []byte, field string) string {
		return strings.TrimSuffix(string(b), "}") + `,"` + field + `":{"x":1}}`
	}
	gz := func(s string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write([]byte(s))
		_ = zw.Close()
		return b.Bytes()
	}
	batch := `{"envelopes":[` + withField(mustJSON(t, report(10, enr.ClusterID)), "futureField") + `]}`
	tests := []struct {
		name   string
		c      *http.Client
		path   string
		body   []byte
		gzip   bool
		hdr    map[string]string
		want   int
		errMsg string
	}{
		{"admin: trailing value", anon, "/api/v1/clusters", []byte(`{"name":"a"}{"name":"b"}`), false, admin, 400, "data after the first JSON value"},
		{"admin: trailing garbage", anon, "/api/v1/clusters", []byte(`{"name":"a"} x`), false, admin, 400, "data after the first JSON value"},
		{"admin: trailing white space is fine", anon, "/api/v1/clusters", []byte("{\"name\":\"a\"}\n\t "), false, admin, 201, ""},
		{"admin: unknown field", anon, "/api/v1/clusters", []byte(`{"name":"b","tll":"5m"}`), false, admin, 400, `unknown field "tll"`},
		{"login: trailing value", anon, "/api/v1/login", []byte(`{"username":"alice","password":"correct horse battery"}[]`), false, nil, 400, "data after the first JSON value"},
		{"login: unknown field", anon, "/api/v1/login", []byte(`{"username":"alice","password":"correct horse battery","admin":true}`), false, nil, 400, `unknown field "admin"`},
		{"enrol: trailing value", anon, fleetapi.PathEnroll, []byte(`{"token":"pbt_x.y"} {}`), false, nil, 400, "data after the first JSON value"},
		{"report: trailing value", agent, fleetapi.PathReports, append(append([]byte{}, env...), env...), false, nil, 400, "data after the first JSON value"},
		{"report: trailing value in gzip", agent, fleetapi.PathReports, gz(string(env) + `{}`), true, nil, 400, "data after the first JSON value"},
		{"report: unknown field from a newer agent", agent, fleetapi.PathReports, []byte(withField(env, "futureField")), false, nil, 200, ""},
		{"batch: unknown field in an envelope", agent, fleetapi.PathReportBatch, gz(batch), true, nil, 200, ""},
		{"heartbeat: unknown field", agent, fleetapi.PathHeartbeat, []byte(`{"outboxPending":1,"futureField":true}`), false, nil, 204, ""},
		{"heartbeat: trailing value", agent, fleetapi.PathHeartbeat, []byte(`{} {}`), false, nil, 400, "data after the first JSON value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", th.url+tt.path, bytes.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			if tt.gzip {
				req.Header.Set("Content-Encoding", "gzip")
			}
			for k, v := range tt.hdr {
				req.Header.Set(k, v)
			}
			resp, err := tt.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var e fleetapi.Error
			_ = json.Unmarshal(body, &e)
			if resp.StatusCode != tt.want || !strings.Contains(e.Error, tt.errMsg) {
				t.Fatalf("%d %s, want %d %q", resp.StatusCode, body, tt.want, tt.errMsg)
			}
		})
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSessionsPerUserCapped: signing in beyond the cap ends the user's
// oldest sessions, through the API and the dashboard alike; the newest
// stay valid and other users are untouched.
func TestSessionsPerUserCapped(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	tick := func() { mu.Lock(); now = now.Add(time.Second); mu.Unlock() }
	th := startHubWith(t, Config{MaxSessionsPerUser: 3, Now: clock})
	ctx := context.Background()
	for _, u := range []string{"alice", "bob"} {
		if err := th.CreateUser(ctx, u, "correct horse battery", store.RoleViewer); err != nil {
			t.Fatal(err)
		}
	}
	c := th.client(nil)
	login := func(user string) string {
		t.Helper()
		tick()
		resp, body := call(t, c, "POST", th.url+"/api/v1/login", LoginRequest{Username: user, Password: "correct horse battery"}, nil)
		for _, ck := range resp.Cookies() {
			if ck.Name == sessionCookie {
				return ck.Value
			}
		}
		t.Fatalf("login %s: %d %s", user, resp.StatusCode, body)
		return ""
	}
	bob := login("bob")
	var alice []string
	for range 5 {
		alice = append(alice, login("alice"))
	}
	tests := []struct {
		name string
		sid  string
		want int
	}{
		{"oldest ended", alice[0], 401},
		{"second oldest ended", alice[1], 401},
		{"third kept", alice[2], 200},
		{"fourth kept", alice[3], 200},
		{"newest kept", alice[4], 200},
		{"other user untouched", bob, 200},
	}
	for _, tt := range tests {
		if resp, _ := call(t, c, "GET", th.url+"/api/v1/me", nil, map[string]string{"Cookie": sessionCookie + "=" + tt.sid}); resp.StatusCode != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, resp.StatusCode, tt.want)
		}
	}
}
