package admission

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/testenv"
)

func TestBadInput(t *testing.T) {
	ts := newTestServer(t, policyHeader+"spec: {}\n", Options{})
	good := reviewFor(t, pod("p", container("a", "nginx:1")), podGVK, "prod", reviewOpts{})
	huge := append([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","object":{"pad":"`),
		bytes.Repeat([]byte("a"), MaxReviewBytes)...)
	huge = append(huge, []byte(`"}}}`)...)
	tests := []struct {
		name   string
		method string
		body   []byte
		want   int
		log    string
	}{
		{"malformed", "POST", []byte("{not json"), 400, "bad AdmissionReview"},
		{"truncated", "POST", good[:len(good)/2], 400, "bad AdmissionReview"},
		{"empty", "POST", nil, 400, "bad AdmissionReview"},
		{"oversized", "POST", huge, 400, "body over 3145728 bytes"},
		{"wrong version", "POST", bytes.Replace(good, []byte("admission.k8s.io/v1"), []byte("admission.k8s.io/v1beta1"), 1), 400, "admission.k8s.io/v1beta1"},
		{"wrong kind", "POST", bytes.Replace(good, []byte(`"kind":"AdmissionReview"`), []byte(`"kind":"Review"`), 1), 400, "bad AdmissionReview"},
		{"no request", "POST", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), 400, "no request"},
		{"no uid", "POST", bytes.Replace(good, []byte(`"uid":"uid-p"`), []byte(`"uid":""`), 1), 400, "no uid"},
		{"trailing data", "POST", append(append([]byte{}, good...), good...), 400, "data after the review"},
		{"trailing ]", "POST", append(append([]byte{}, good...), ']'), 400, "data after the review"},
		{"trailing }", "POST", append(append([]byte{}, good...), "\n}"...), 400, "data after the review"},
		{"trailing garbage", "POST", append(append([]byte{}, good...), " x"...), 400, "data after the review"},
		{"object of the wrong type", "POST", bytes.Replace(good, []byte(`"containers":[`), []byte(`"containers":7,"x":[`), 1), 200, ""},
		{"GET", "GET", nil, 405, "want POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(tt.method, "/validate", bytes.NewReader(tt.body))
			ts.h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body.String())
			}
			if tt.log != "" && !strings.Contains(ts.log.String(), tt.log) {
				t.Errorf("no log line with %q:\n%s", tt.log, ts.log.String())
			}
			if tt.want == 200 && !strings.Contains(rec.Body.String(), `"allowed":false`) {
				t.Errorf("undecodable object admitted: %s", rec.Body.String())
			}
		})
	}
	if !strings.Contains(ts.log.String(), `"msg":"bad admission request"`) {
		t.Error("bad requests are not logged as JSON lines")
	}
}

// FuzzDecodeReview feeds the decoder and the decision arbitrary bytes: no
// input may panic, and every input is either refused with ErrBadReview or
// answered for its own uid. Seeds: testdata/fuzz/FuzzDecodeReview.
func FuzzDecodeReview(f *testing.F) {
	f.Add(reviewFor(f, pod("p", privileged(container("a", "nginx"))), podGVK, "prod", reviewOpts{}))
	f.Add(reviewFor(f, deployment("d", nil, container("a", "x/y:1")), deploymentGVK, "prod", reviewOpts{}))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","kind":{"group":"batch","version":"v1","kind":"CronJob"},"operation":"CREATE","object":{"spec":{"jobTemplate":null}}}}`))
	path := filepath.Join(f.TempDir(), "p.yaml")
	if err := os.WriteFile(path, []byte(policyHeader+"spec:\n  rules: [pss-restricted, hardening]\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	p, err := LoadPolicy(context.Background(), path)
	if err != nil {
		f.Fatal(err)
	}
	d := &Decider{policy: func() *Policy { return p }, images: newImageChecks(nil, nil, nil)}
	f.Fuzz(func(t *testing.T, data []byte) {
		ar, err := DecodeReview(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, ep := range []string{EndpointValidate, EndpointMutate} {
			resp := d.Review(context.Background(), ep, ar.Request)
			if resp == nil || resp.UID != ar.Request.UID {
				t.Fatalf("response %+v for uid %s", resp, ar.Request.UID)
			}
		}
	})
}

func TestPolicyReloadKeepsLastGoodPolicy(t *testing.T) {
	ts := newTestServer(t, policyHeader+"spec:\n  mode: enforce\n", Options{})
	priv := reviewFor(t, pod("p", privileged(container("a", "nginx:1"))), podGVK, "prod", reviewOpts{})
	if resp, _, _ := ts.post(t, EndpointValidate, priv); resp.Allowed {
		t.Fatal("privileged pod allowed in enforce mode")
	}
	write := func(body string) {
		// A new mtime even on coarse file systems.
		if err := os.WriteFile(ts.opts.PolicyFile, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		future := time.Now().Add(time.Duration(len(body)) * time.Second)
		_ = os.Chtimes(ts.opts.PolicyFile, future, future)
		ts.ReloadPolicy(context.Background())
	}
	write(policyHeader + "spec:\n  mode: warn\n")
	resp, _, body := ts.post(t, EndpointValidate, priv)
	if !resp.Allowed || len(resp.Warnings) == 0 {
		t.Fatalf("after reload to warn: %s", body)
	}
	write(policyHeader + "spec:\n  mode: nonsense-that-fails\n")
	if resp, _, _ := ts.post(t, EndpointValidate, priv); !resp.Allowed {
		t.Error("a broken policy replaced the good one")
	}
	if !strings.Contains(ts.log.String(), "policy not reloaded; keeping the previous policy") {
		t.Errorf("broken policy not logged:\n%s", ts.log.String())
	}
}

func TestTLSCertificateRotation(t *testing.T) {
	ca1, err := testenv.NewCA("ca-1")
	if err != nil {
		t.Fatal(err)
	}
	ca2, err := testenv.NewCA("ca-2")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	issue := func(ca *testenv.CA) {
		cert, key, err := ca.IssueServing("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		// Written like a Secret volume update: both files, new mtimes.
		if err := os.WriteFile(keyFile, key, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(certFile, cert, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	issue(ca1)
	ts := newTestServer(t, policyHeader+"spec: {}\n", Options{CertFile: certFile, KeyFile: keyFile, ReloadInterval: 50 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	get := func(ca *testenv.CA) error {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca.CertPEM)
		c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}
		resp, err := c.Get("https://" + ln.Addr().String() + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	if err := get(ca1); err != nil {
		t.Fatalf("first certificate: %v", err)
	}
	time.Sleep(1100 * time.Millisecond) // past the once-a-second check and mtime granularity
	issue(ca2)
	deadline := time.Now().Add(time.Minute)
	for get(ca2) != nil {
		if time.Now().After(deadline) {
			t.Fatal("rotated certificate never served")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if get(ca1) == nil {
		t.Error("old certificate still served after rotation")
	}
}
