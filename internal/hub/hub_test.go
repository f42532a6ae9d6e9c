package hub

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
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// testHub serves a hub over real TLS on loopback.
type testHub struct {
	*Hub
	url string
	st  store.Store
}

func startHub(t *testing.T) *testHub {
	t.Helper()
	return startHubWith(t, Config{})
}

// startHubWith starts a hub with cfg, filling in the store (SQLite unless
// cfg has one; closed at the end either way), the hosts and
// (unless set) a silent logger.
func startHubWith(t *testing.T, cfg Config) *testHub {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st := cfg.Store
	if st == nil {
		var err error
		if st, err = store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "hub.db")); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Store, cfg.Hosts = st, []string{"127.0.0.1"}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = h.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done; st.Close() })
	return &testHub{Hub: h, url: "https://" + ln.Addr().String(), st: st}
}

// client trusts the hub CA and presents cert when given.
func (th *testHub) client(cert *tls.Certificate) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(th.CACertificate())
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: time.Minute} // a bound against a hang, not a timing
}

func call(t *testing.T, c *http.Client, method, url string, body any, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func keyAndCSR(t testing.TB) (*ecdsa.PrivateKey, string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func tlsCert(t *testing.T, certPEM string, key *ecdsa.PrivateKey) *tls.Certificate {
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	c, err := tls.X509KeyPair([]byte(certPEM), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

// enrol registers an agent for cluster and returns its client certificate.
func (th *testHub) enrol(t *testing.T, cluster string) (*tls.Certificate, fleetapi.EnrollResponse, string) {
	t.Helper()
	tok, _, err := th.CreateBootstrapToken(context.Background(), cluster, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, csr := keyAndCSR(t)
	resp, body := call(t, th.client(nil), "POST", th.url+fleetapi.PathEnroll, fleetapi.EnrollRequest{Token: tok, CSR: csr}, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("enrol: %d %s", resp.StatusCode, body)
	}
	var er fleetapi.EnrollResponse
	if err := json.Unmarshal(body, &er); err != nil {
		t.Fatal(err)
	}
	return tlsCert(t, er.Certificate, key), er, tok
}

func report(seq uint64, cluster string) fleetapi.Envelope {
	return fleetapi.Envelope{Seq: seq, Kind: fleetapi.KindInventory, Cluster: cluster, Inventory: &fleetapi.Inventory{KubernetesVersion: "v1.37.2"}}
}

func TestHealth(t *testing.T) {
	th := startHub(t)
	resp, body := call(t, th.client(nil), "GET", th.url+"/healthz", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"status":"ok"`) {
		t.Fatalf("healthz: %d %s", resp.StatusCode, body)
	}
}

func TestAgentAuthorization(t *testing.T) {
	th := startHub(t)
	certA, a, tokA := th.enrol(t, "edge-a")
	_, b, _ := th.enrol(t, "edge-b")
	ca := th.client(certA)

	t.Run("own cluster report accepted, replay acknowledged as duplicate", func(t *testing.T) {
		for i, wantDup := range []bool{false, true} {
			resp, body := call(t, ca, "POST", th.url+fleetapi.PathReports, report(1, a.ClusterID), nil)
			var res fleetapi.ReportResult
			_ = json.Unmarshal(body, &res)
			if resp.StatusCode != 200 || res.Duplicate != wantDup {
				t.Fatalf("send %d: %d %s", i, resp.StatusCode, body)
			}
		}
	})
	t.Run("cross-cluster write refused", func(t *testing.T) {
		resp, _ := call(t, ca, "POST", th.url+fleetapi.PathReports, report(2, b.ClusterID), nil)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d, want 403", resp.StatusCode)
		}
		c, _ := th.st.GetCluster(context.Background(), b.ClusterID)
		if c.KubernetesVersion != "" {
			t.Fatal("cluster b was written")
		}
	})
	t.Run("agent certificate grants no user API", func(t *testing.T) {
		resp, _ := call(t, ca, "GET", th.url+"/api/v1/clusters/"+b.ClusterID, nil, nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", resp.StatusCode)
		}
	})
	t.Run("no certificate refused", func(t *testing.T) {
		resp, _ := call(t, th.client(nil), "POST", th.url+fleetapi.PathReports, report(3, ""), nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("replayed bootstrap token refused", func(t *testing.T) {
		_, csr := keyAndCSR(t)
		resp, _ := call(t, th.client(nil), "POST", th.url+fleetapi.PathEnroll, fleetapi.EnrollRequest{Token: tokA, CSR: csr}, nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", resp.StatusCode)
		}
	})
	t.Run("renewal keeps the identity", func(t *testing.T) {
		key, csr := keyAndCSR(t)
		resp, body := call(t, ca, "POST", th.url+fleetapi.PathRenew, fleetapi.RenewRequest{CSR: csr}, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("renew: %d %s", resp.StatusCode, body)
		}
		var er fleetapi.EnrollResponse
		_ = json.Unmarshal(body, &er)
		if er.AgentID != a.AgentID || er.ClusterID != a.ClusterID {
			t.Fatalf("renewed as %s/%s", er.ClusterID, er.AgentID)
		}
		resp, _ = call(t, th.client(tlsCert(t, er.Certificate, key)), "POST", th.url+fleetapi.PathReports, report(5, a.ClusterID), nil)
		if resp.StatusCode != 200 {
			t.Fatalf("report with renewed certificate: %d", resp.StatusCode)
		}
	})
	t.Run("revoked certificate refused", func(t *testing.T) {
		if _, err := th.RevokeCluster(context.Background(), a.ClusterID); err != nil {
			t.Fatal(err)
		}
		resp, body := call(t, th.client(certA), "POST", th.url+fleetapi.PathReports, report(9, a.ClusterID), nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "revoked") {
			t.Fatalf("status %d %s, want 401 revoked", resp.StatusCode, body)
		}
	})
}

func TestExpiredAndForeignCertificatesRefused(t *testing.T) {
	th := startHub(t)
	_, a, _ := th.enrol(t, "edge-a")
	// A certificate for the same agent that expired an hour ago.
	key, csr := keyAndCSR(t)
	cert, certPEM, err := th.ca.issueClient([]byte(csr), a.ClusterID, a.AgentID, time.Now().Add(-3*time.Hour), 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := th.st.RecordCertificate(context.Background(), store.Certificate{Serial: SerialHex(cert.SerialNumber), ClusterID: a.ClusterID, AgentID: a.AgentID, NotBefore: cert.NotBefore, NotAfter: cert.NotAfter}, time.Now(), 0); err != nil {
		t.Fatal(err)
	}
	// A certificate from another CA with the same identity.
	otherPEM, _ := newCAPEM()
	other, _ := parseCA(otherPEM)
	fkey, fcsr := keyAndCSR(t)
	_, foreignPEM, _ := other.issueClient([]byte(fcsr), a.ClusterID, a.AgentID, time.Now(), time.Hour)

	for name, c := range map[string]*tls.Certificate{"expired": tlsCert(t, string(certPEM), key), "foreign CA": tlsCert(t, string(foreignPEM), fkey)} {
		t.Run(name, func(t *testing.T) {
			b, _ := json.Marshal(report(1, a.ClusterID))
			req, _ := http.NewRequest("POST", th.url+fleetapi.PathReports, bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			resp, err := th.client(c).Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("accepted: %d", resp.StatusCode)
				}
			}
		})
	}
}

func TestEnrollRefusesBadCSRWithoutBurningToken(t *testing.T) {
	th := startHub(t)
	tok, _, _ := th.CreateBootstrapToken(context.Background(), "edge", time.Hour)
	rsaLike := "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
	resp, _ := call(t, th.client(nil), "POST", th.url+fleetapi.PathEnroll, fleetapi.EnrollRequest{Token: tok, CSR: rsaLike}, nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad CSR: %d", resp.StatusCode)
	}
	_, csr := keyAndCSR(t)
	resp, _ = call(t, th.client(nil), "POST", th.url+fleetapi.PathEnroll, fleetapi.EnrollRequest{Token: tok, CSR: csr}, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("token burnt by a bad CSR: %d", resp.StatusCode)
	}
}

func TestUsersSessionsCSRFAndRoles(t *testing.T) {
	th := startHub(t)
	ctx := context.Background()
	if err := th.CreateUser(ctx, "admin", "correct horse battery", store.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := th.CreateUser(ctx, "viewer", "correct horse battery", store.RoleViewer); err != nil {
		t.Fatal(err)
	}
	if err := th.CreateUser(ctx, "short", "short", store.RoleViewer); err == nil {
		t.Fatal("short password accepted")
	}
	c := th.client(nil)
	login := func(user, pass string) (string, string, int) {
		resp, body := call(t, c, "POST", th.url+"/api/v1/login", LoginRequest{Username: user, Password: pass}, nil)
		var lr LoginResponse
		_ = json.Unmarshal(body, &lr)
		for _, ck := range resp.Cookies() {
			if ck.Name == sessionCookie {
				if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
					t.Errorf("session cookie attributes: %+v", ck)
				}
				return ck.Value, lr.CSRFToken, resp.StatusCode
			}
		}
		return "", "", resp.StatusCode
	}
	if _, _, st := login("admin", "wrong password!!"); st != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", st)
	}
	if _, _, st := login("nobody", "correct horse battery"); st != http.StatusUnauthorized {
		t.Fatalf("unknown user: %d", st)
	}
	adminSess, adminCSRF, _ := login("admin", "correct horse battery")
	viewSess, viewCSRF, _ := login("viewer", "correct horse battery")
	cookie := func(v string) string { return sessionCookie + "=" + v }
	newCluster := CreateClusterRequest{Name: "edge-x"}
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		hdr    map[string]string
		want   int
	}{
		{"anonymous read refused", "GET", "/api/v1/clusters", nil, nil, 401},
		{"viewer reads", "GET", "/api/v1/clusters", nil, map[string]string{"Cookie": cookie(viewSess)}, 200},
		{"viewer write refused", "POST", "/api/v1/clusters", newCluster, map[string]string{"Cookie": cookie(viewSess), csrfHeader: viewCSRF}, 403},
		{"admin write without CSRF token refused", "POST", "/api/v1/clusters", newCluster, map[string]string{"Cookie": cookie(adminSess)}, 403},
		{"admin write with another session's CSRF token refused", "POST", "/api/v1/clusters", newCluster, map[string]string{"Cookie": cookie(adminSess), csrfHeader: viewCSRF}, 403},
		{"admin write with CSRF token", "POST", "/api/v1/clusters", newCluster, map[string]string{"Cookie": cookie(adminSess), csrfHeader: adminCSRF}, 201},
		{"forged session refused", "GET", "/api/v1/clusters", nil, map[string]string{"Cookie": cookie("forged")}, 401},
		{"bad API token refused", "GET", "/api/v1/clusters", nil, map[string]string{"Authorization": "Bearer pat_x.y"}, 401},
	}
	for _, tt := range tests {
		resp, body := call(t, c, tt.method, th.url+tt.path, tt.body, tt.hdr)
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, resp.StatusCode, body, tt.want)
		}
	}
	tok, err := th.CreateAPIToken(ctx, "ci", store.RoleViewer, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := call(t, c, "GET", th.url+"/api/v1/compliance", nil, map[string]string{"Authorization": "Bearer " + tok}); resp.StatusCode != 200 {
		t.Fatalf("API token read: %d", resp.StatusCode)
	}
	if resp, _ := call(t, c, "POST", th.url+"/api/v1/bundles", PublishBundleRequest{Kind: "policy", Name: "x"}, map[string]string{"Authorization": "Bearer " + tok}); resp.StatusCode != 403 {
		t.Fatalf("viewer API token wrote: %d", resp.StatusCode)
	}
	// Logout ends the session.
	call(t, c, "POST", th.url+"/api/v1/logout", nil, map[string]string{"Cookie": cookie(viewSess), csrfHeader: viewCSRF})
	if resp, _ := call(t, c, "GET", th.url+"/api/v1/me", nil, map[string]string{"Cookie": cookie(viewSess)}); resp.StatusCode != 401 {
		t.Fatalf("session alive after logout: %d", resp.StatusCode)
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		pw   string
		want bool
	}{{"correct horse battery", true}, {"correct horse batterY", false}, {"", false}} {
		if got := CheckPassword(h, tt.pw); got != tt.want {
			t.Errorf("CheckPassword(%q) = %v", tt.pw, got)
		}
	}
	if CheckPassword("$argon2id$garbage", "x") {
		t.Error("garbage hash matched")
	}
}

// TestBundleContent: the bundle list carries small bundles inline and
// large ones as metadata; the content endpoint serves a large bundle's
// raw bytes under its SHA-256 to an agent of the fleet or of the bundle's
// own cluster, only in its current version, and never another cluster's
// (403, whether it exists or not) or to a caller without a certificate.
func TestBundleContent(t *testing.T) {
	th, certA, certB, a, big := startBundleHub(t)
	ctx := context.Background()
	fleetDB := th.publish(t, "", big)
	ownDB := th.publish(t, a.ClusterID, append([]byte("a:"), big...))
	if _, err := th.PublishBundle(ctx, fleetapi.BundleAllowList, "registries", "", []byte("registry.example.com\n")); err != nil {
		t.Fatal(err)
	}

	resp, body := call(t, th.client(certA), "GET", th.url+fleetapi.PathBundles, nil, nil)
	var list fleetapi.BundleList
	if err := json.Unmarshal(body, &list); resp.StatusCode != 200 || err != nil || len(list.Bundles) != 3 {
		t.Fatalf("list: %d %v %s", resp.StatusCode, err, body)
	}
	for _, b := range list.Bundles {
		inline := b.Kind == fleetapi.BundleAllowList
		if (b.Content != nil) != inline || b.Size == 0 || len(b.Signature) == 0 {
			t.Errorf("listed %s/%s@%s: %d content bytes, size %d", b.Kind, b.Name, b.Cluster, len(b.Content), b.Size)
		}
	}
	if len(body) > 64<<10 {
		t.Errorf("bundle list of %d bytes: large content was inlined", len(body))
	}

	get := func(cert *tls.Certificate, q url.Values, hdr map[string]string) (*http.Response, []byte) {
		return call(t, th.client(cert), "GET", th.url+fleetapi.PathBundleContent+"?"+q.Encode(), nil, hdr)
	}
	for _, tt := range []struct {
		name string
		cert *tls.Certificate
		b    fleetapi.Bundle
		want []byte
	}{
		{"fleet bundle, agent a", certA, fleetDB, big},
		{"fleet bundle, agent b", certB, fleetDB, big},
		{"own cluster's bundle", certA, ownDB, append([]byte("a:"), big...)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(tt.cert, fleetapi.BundleContentQuery(&tt.b), nil)
			if resp.StatusCode != 200 || !bytes.Equal(body, tt.want) {
				t.Fatalf("status %d, %d bytes, want %d", resp.StatusCode, len(body), len(tt.want))
			}
			if ct, cl, etag := resp.Header.Get("Content-Type"), resp.ContentLength, resp.Header.Get("ETag"); ct != "application/octet-stream" || cl != int64(len(tt.want)) || etag != `"`+tt.b.SHA256+`"` {
				t.Errorf("headers: %s, %d, %s", ct, cl, etag)
			}
			resp, _ = get(tt.cert, fleetapi.BundleContentQuery(&tt.b), map[string]string{"If-None-Match": `"` + tt.b.SHA256 + `"`})
			if resp.StatusCode != http.StatusNotModified {
				t.Errorf("If-None-Match: %d", resp.StatusCode)
			}
		})
	}
	older := fleetDB
	if _, err := th.PublishBundle(ctx, fleetapi.BundleVulnDB, "osv", "", append([]byte("v2"), big...)); err != nil {
		t.Fatal(err)
	}
	missing := fleetapi.Bundle{Kind: fleetapi.BundleVulnDB, Name: "nvd", Version: 1}
	bad := fleetapi.BundleContentQuery(&fleetDB)
	bad.Set("name", "../x")
	for _, tt := range []struct {
		name   string
		cert   *tls.Certificate
		q      url.Values
		status int
	}{
		{"another cluster's bundle", certB, fleetapi.BundleContentQuery(&ownDB), http.StatusForbidden},
		{"another cluster's missing bundle", certB, fleetapi.BundleContentQuery(&fleetapi.Bundle{Kind: "vulndb", Name: "nvd", Cluster: a.ClusterID, Version: 1}), http.StatusForbidden},
		{"older version", certA, fleetapi.BundleContentQuery(&older), http.StatusNotFound},
		{"no such bundle", certA, fleetapi.BundleContentQuery(&missing), http.StatusNotFound},
		{"unsafe name", certA, bad, http.StatusBadRequest},
		{"no version", certA, url.Values{"kind": {"vulndb"}, "name": {"osv"}}, http.StatusBadRequest},
		{"no certificate", nil, fleetapi.BundleContentQuery(&ownDB), http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(tt.cert, tt.q, nil)
			if resp.StatusCode != tt.status || bytes.Contains(body, big[:64]) {
				t.Fatalf("status %d (%d bytes), want %d", resp.StatusCode, len(body), tt.status)
			}
		})
	}

	// While every send slot is taken, a download waits, then gets a 503.
	t.Run("every send slot taken", func(t *testing.T) {
		th.bundleWait = 50 * time.Millisecond
		for range cap(th.bundleSends) {
			th.bundleSends <- struct{}{}
		}
		resp, _ := get(certA, fleetapi.BundleContentQuery(&ownDB), nil)
		for range cap(th.bundleSends) {
			<-th.bundleSends
		}
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("status %d, want 503 with Retry-After", resp.StatusCode)
		}
		if resp, _ := get(certA, fleetapi.BundleContentQuery(&ownDB), nil); resp.StatusCode != 200 {
			t.Fatalf("with a free slot: %d", resp.StatusCode)
		}
	})
}

// startBundleHub starts a hub with the agents of clusters edge-a and
// edge-b, and returns a content too large to be listed inline.
func startBundleHub(t *testing.T) (th *testHub, certA, certB *tls.Certificate, a fleetapi.EnrollResponse, big []byte) {
	t.Helper()
	th = startHub(t)
	certA, a, _ = th.enrol(t, "edge-a")
	certB, _, _ = th.enrol(t, "edge-b")
	return th, certA, certB, a, bytes.Repeat([]byte("0123456789abcdef"), fleetapi.MaxInlineBundleBytes/16+1)
}

// publish makes content the next version of the vulndb bundle "osv" of
// cluster ("": the fleet's).
func (th *testHub) publish(t *testing.T, cluster string, content []byte) fleetapi.Bundle {
	t.Helper()
	b, err := th.PublishBundle(context.Background(), fleetapi.BundleVulnDB, "osv", cluster, content)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// contentStore counts the bundle contents read from the store and, while
// hold is set, stops the first read until hold is closed (a download in
// progress).
type contentStore struct {
	store.Store
	reads   atomic.Int32
	hold    chan struct{}
	entered chan struct{}
}

func (c *contentStore) GetBundle(ctx context.Context, kind, name, cluster string) (fleetapi.Bundle, error) {
	if c.reads.Add(1) == 1 && c.hold != nil {
		close(c.entered)
		<-c.hold
	}
	return c.Store.GetBundle(ctx, kind, name, cluster)
}

// TestBundleDownloadsPerCluster: while an agent downloads a bundle, its
// second download is refused with 429 and Retry-After, and another
// cluster's agent still gets its own; once the first ends, the agent
// downloads again.
func TestBundleDownloadsPerCluster(t *testing.T) {
	th, certA, certB, _, big := startBundleHub(t)
	db := th.publish(t, "", big)
	cs := &contentStore{Store: th.st, hold: make(chan struct{}), entered: make(chan struct{})}
	th.st, th.Hub.st = cs, cs
	get := func(cert *tls.Certificate) (*http.Response, []byte) {
		return call(t, th.client(cert), "GET", th.url+fleetapi.PathBundleContent+"?"+fleetapi.BundleContentQuery(&db).Encode(), nil, nil)
	}
	first := make(chan int)
	go func() {
		resp, err := th.client(certA).Get(th.url + fleetapi.PathBundleContent + "?" + fleetapi.BundleContentQuery(&db).Encode())
		if err != nil {
			first <- -1
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	select {
	case <-cs.entered:
	case <-time.After(time.Minute):
		t.Fatal("the first download never read the content")
	}
	resp, _ := get(certA)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		close(cs.hold)
		t.Fatalf("second download by the same agent: %d (Retry-After %q), want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp, body := get(certB); resp.StatusCode != 200 || !bytes.Equal(body, big) {
		close(cs.hold)
		t.Fatalf("another cluster's agent during the download: %d", resp.StatusCode)
	}
	close(cs.hold)
	if st := <-first; st != 200 {
		t.Fatalf("first download: %d", st)
	}
	if resp, body := get(certA); resp.StatusCode != 200 || !bytes.Equal(body, big) {
		t.Fatalf("download after the first ended: %d", resp.StatusCode)
	}
}

// TestBundleChecksReadNoContent: a 304 (If-None-Match), a stale version,
// a missing bundle and another cluster's bundle are answered from the
// metadata, without reading the content.
func TestBundleChecksReadNoContent(t *testing.T) {
	th, certA, certB, a, big := startBundleHub(t)
	old := th.publish(t, "", big)
	cur := th.publish(t, "", append([]byte("v2"), big...))
	own := th.publish(t, a.ClusterID, big)
	cs := &contentStore{Store: th.st}
	th.st, th.Hub.st = cs, cs
	for _, tt := range []struct {
		name   string
		cert   *tls.Certificate
		b      fleetapi.Bundle
		hdr    map[string]string
		status int
	}{
		{"If-None-Match", certA, cur, map[string]string{"If-None-Match": `"` + cur.SHA256 + `"`}, http.StatusNotModified},
		{"stale version", certA, old, nil, http.StatusNotFound},
		{"missing bundle", certA, fleetapi.Bundle{Kind: fleetapi.BundleVulnDB, Name: "nvd", Version: 1}, nil, http.StatusNotFound},
		{"another cluster's bundle", certB, own, nil, http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := cs.reads.Load()
			resp, _ := call(t, th.client(tt.cert), "GET", th.url+fleetapi.PathBundleContent+"?"+fleetapi.BundleContentQuery(&tt.b).Encode(), nil, tt.hdr)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if n := cs.reads.Load() - before; n != 0 {
				t.Fatalf("%d content reads for a %d", n, tt.status)
			}
		})
	}
	before := cs.reads.Load()
	if resp, _ := call(t, th.client(certA), "GET", th.url+fleetapi.PathBundleContent+"?"+fleetapi.BundleContentQuery(&cur).Encode(), nil, nil); resp.StatusCode != 200 || cs.reads.Load()-before != 1 {
		t.Fatalf("download: %d, %d content reads, want 200 and 1", resp.StatusCode, cs.reads.Load()-before)
	}
}
