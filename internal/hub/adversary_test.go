package hub

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// hostileAgent is an enrolled agent that misbehaves on purpose: it sends
// whatever body it likes, to any agent endpoint, with its genuine
// identity (the certificate the hub issued it), straight into the hub's
// handler. The TLS layer's part (a chain verified against the hub CA) is
// what the connection state says; everything after it is the hub's real
// code. Used by the fuzz test below and by tests of attacks.
type hostileAgent struct {
	h         *Hub
	handler   http.Handler
	leaf      *x509.Certificate
	ClusterID string
}

// newHostileAgent enrols an agent for cluster through the hub's handler.
func newHostileAgent(t testing.TB, h *Hub, cluster string) *hostileAgent {
	t.Helper()
	tok, _, err := h.CreateBootstrapToken(context.Background(), cluster, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, csr := keyAndCSR(t)
	a := &hostileAgent{h: h, handler: h.Handler()}
	body, _ := json.Marshal(fleetapi.EnrollRequest{Token: tok, CSR: csr})
	rec := a.raw(http.MethodPost, fleetapi.PathEnroll, body, false, nil)
	var er fleetapi.EnrollResponse
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &er) != nil {
		t.Fatalf("enrol %s: %d %s", cluster, rec.Code, rec.Body)
	}
	blk, _ := pem.Decode([]byte(er.Certificate))
	if blk == nil {
		t.Fatal("no certificate")
	}
	if a.leaf, err = x509.ParseCertificate(blk.Bytes); err != nil {
		t.Fatal(err)
	}
	a.ClusterID = er.ClusterID
	return a
}

// raw sends body (gzip-compressed when gz) as the agent (leaf nil: no
// client certificate) and returns the recorded answer.
func (a *hostileAgent) raw(method, path string, body []byte, gz bool, leaf *x509.Certificate) *httptest.ResponseRecorder {
	if gz {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(body)
		_ = zw.Close()
		body = b.Bytes()
	}
	r := httptest.NewRequest(method, "https://hub"+path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if gz {
		r.Header.Set("Content-Encoding", "gzip")
	}
	if leaf != nil {
		r.TLS = &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: []*x509.Certificate{leaf},
			VerifiedChains: [][]*x509.Certificate{{leaf, a.h.CACertificate()}}}
	}
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, r)
	return rec
}

// send is raw with the agent's own certificate.
func (a *hostileAgent) send(method, path string, body []byte, gz bool) *httptest.ResponseRecorder {
	return a.raw(method, path, body, gz, a.leaf)
}

// agentPaths are the endpoints an agent's certificate opens.
var agentPaths = []struct{ method, path string }{
	{http.MethodPost, fleetapi.PathReports},
	{http.MethodPost, fleetapi.PathReportBatch},
	{http.MethodPost, fleetapi.PathHeartbeat},
	{http.MethodPost, fleetapi.PathRenew},
	{http.MethodGet, fleetapi.PathBundles},
	{http.MethodGet, fleetapi.PathBundleContent},
}

// FuzzAgentAPI sends arbitrary bodies to every agent endpoint with a
// genuine agent identity, through the hub's whole handler and a real
// store: the hub never panics, never fails with a 500 (every hostile body
// is the agent's fault, answered 4xx), and never touches another
// cluster's data. Seeds in testdata/fuzz/FuzzAgentAPI.
func FuzzAgentAPI(f *testing.F) {
	st, err := store.OpenSQLite(context.Background(), filepath.Join(f.TempDir(), "hub.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	h, err := New(context.Background(), Config{Store: st, Logger: quietLogger(), Hosts: []string{"127.0.0.1"},
		AuthLimits: AuthLimits{Account: lockPolicy(-1), Client: lockPolicy(-1), Token: lockPolicy(-1)}, RenewInterval: time.Nanosecond})
	if err != nil {
		f.Fatal(err)
	}
	hostile := newHostileAgent(f, h, "edge-hostile")
	victim := newHostileAgent(f, h, "edge-victim")
	if rec := victim.send(http.MethodPost, fleetapi.PathReports, mustJSON(f, report(1, victim.ClusterID)), false); rec.Code != http.StatusOK {
		f.Fatalf("victim's report: %d %s", rec.Code, rec.Body)
	}
	before, err := st.GetCluster(context.Background(), victim.ClusterID)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, endpoint uint8, body []byte, gz bool) {
		p := agentPaths[int(endpoint)%len(agentPaths)]
		rec := hostile.send(p.method, p.path, body, gz)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: %d %s", p.method, p.path, rec.Code, rec.Body)
		}
		after, err := st.GetCluster(context.Background(), victim.ClusterID)
		if err != nil {
			t.Fatal(err)
		}
		if after.LastSeen != before.LastSeen || after.KubernetesVersion != before.KubernetesVersion {
			t.Fatalf("a hostile agent's %s changed another cluster: %+v", p.path, after)
		}
	})
}

// TestHostileAgentAttacks keeps attacks of issue #16 as tests, through
// the hostile agent: each is refused with the status an agent
// understands, and the victim's data stays its own.
func TestHostileAgentAttacks(t *testing.T) {
	st := newStore(t)
	h, err := New(context.Background(), Config{Store: st, Logger: quietLogger(), Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	hostile := newHostileAgent(t, h, "edge-hostile")
	victim := newHostileAgent(t, h, "edge-victim")
	tests := []struct {
		name     string
		method   string
		path     string
		body     []byte
		noCert   bool
		wantCode int
	}{
		{"no client certificate", http.MethodPost, fleetapi.PathReports, mustJSON(t, report(1, hostile.ClusterID)), true, http.StatusUnauthorized},
		{"report naming another cluster", http.MethodPost, fleetapi.PathReports, mustJSON(t, report(1, victim.ClusterID)), false, http.StatusForbidden},
		{"forged sequence number 2^63-1", http.MethodPost, fleetapi.PathReports, mustJSON(t, report(1<<63-1, hostile.ClusterID)), false, http.StatusConflict},
		{"not JSON", http.MethodPost, fleetapi.PathReports, []byte("{"), false, http.StatusBadRequest},
		{"batch out of order", http.MethodPost, fleetapi.PathReportBatch,
			mustJSON(t, fleetapi.ReportBatch{Envelopes: []fleetapi.Envelope{report(2, hostile.ClusterID), report(1, hostile.ClusterID)}}), false, http.StatusBadRequest},
	}
	for _, tt := range tests {
		var rec *httptest.ResponseRecorder
		if tt.noCert {
			rec = hostile.raw(tt.method, tt.path, tt.body, false, nil)
		} else {
			rec = hostile.send(tt.method, tt.path, tt.body, false)
		}
		if rec.Code != tt.wantCode {
			t.Errorf("%s: %d %s, want %d", tt.name, rec.Code, rec.Body, tt.wantCode)
		}
	}
	if c, err := st.GetCluster(context.Background(), victim.ClusterID); err != nil || !c.LastSeen.IsZero() {
		t.Errorf("victim cluster touched: %+v %v", c, err)
	}
}

// TestHostileAgentCannotGrowImageScans: scans of forged digests are
// bounded by the cluster's quota at the next prune, and counted in
// palisade_hub_image_scans_pruned_total.
func TestHostileAgentCannotGrowImageScans(t *testing.T) {
	st := newStore(t)
	h, err := New(context.Background(), Config{Store: st, Logger: quietLogger(), Hosts: []string{"127.0.0.1"}, ImageScansPerCluster: 3})
	if err != nil {
		t.Fatal(err)
	}
	hostile := newHostileAgent(t, h, "edge-hostile")
	for i := 1; i <= 10; i++ {
		env := fleetapi.Envelope{Seq: uint64(i), Kind: fleetapi.KindImageScan, Cluster: hostile.ClusterID,
			ImageScan: &fleetapi.ImageScan{Digest: "sha256:forged" + string(rune('a'+i)), ScannedAt: time.Now()}}
		if rec := hostile.send(http.MethodPost, fleetapi.PathReports, mustJSON(t, env), false); rec.Code != http.StatusOK {
			t.Fatalf("scan %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	h.prune(context.Background())
	rec := httptest.NewRecorder()
	promText(t, h, rec)
	if !bytes.Contains(rec.Body.Bytes(), []byte(`palisade_hub_image_scans_pruned_total{reason="quota"} 7`)) {
		t.Errorf("metric of pruned scans missing:\n%s", rec.Body)
	}
}

// promText writes the hub's metrics to rec.
func promText(t *testing.T, h *Hub, rec *httptest.ResponseRecorder) {
	t.Helper()
	mfs, err := h.metrics.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if c := m.GetCounter(); c != nil {
				var labels []string
				for _, l := range m.GetLabel() {
					labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
				}
				lbl := ""
				if len(labels) > 0 {
					lbl = "{" + strings.Join(labels, ",") + "}"
				}
				rec.Body.WriteString(mf.GetName() + lbl + " " + strconv.FormatFloat(c.GetValue(), 'f', -1, 64) + "\n")
			}
		}
	}
}
