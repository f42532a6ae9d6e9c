package hub

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// failingStore fails to record certificates after enrolment, with an
// error text that must stay in the hub's log.
type failingStore struct {
	store.Store
	fail bool
}

const storeSecret = "pq: relation certificates at 10.0.0.5 password=hunter2"

func (f *failingStore) RecordCertificate(ctx context.Context, c store.Certificate, now time.Time, minInterval time.Duration) error {
	if f.fail {
		return errors.New(storeSecret)
	}
	return f.Store.RecordCertificate(ctx, c, now, minInterval)
}

// TestRenewErrors: a bad CSR is the agent's fault (400 with the reason);
// a store failure is the hub's (500 without internals).
func TestRenewErrors(t *testing.T) {
	th := startHub(t)
	fs := &failingStore{Store: th.st}
	th.st, th.Hub.st = fs, fs
	cert, _, _ := th.enrol(t, "edge")
	c := th.client(cert)

	resp, body := call(t, c, "POST", th.url+fleetapi.PathRenew, fleetapi.RenewRequest{CSR: "not a csr"}, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "csr:") {
		t.Fatalf("bad CSR: %d %s, want 400 naming the CSR", resp.StatusCode, body)
	}
	fs.fail = true
	_, csr := keyAndCSR(t)
	resp, body = call(t, c, "POST", th.url+fleetapi.PathRenew, fleetapi.RenewRequest{CSR: csr}, nil)
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(string(body), "hunter2") || strings.Contains(string(body), "10.0.0.5") {
		t.Fatalf("store failure: %d %s, want 500 without internals", resp.StatusCode, body)
	}
}

func TestAdmissionEventsLimitCapped(t *testing.T) {
	th := startHub(t)
	tok, err := th.CreateAPIToken(context.Background(), "ci", store.RoleViewer, 0)
	if err != nil {
		t.Fatal(err)
	}
	auth := map[string]string{"Authorization": "Bearer " + tok}
	for q, want := range map[string]int{"?limit=5000": 200, "?limit=5001": 400, "?limit=100000000": 400, "?limit=-1": 400} {
		if resp, _ := call(t, th.client(nil), "GET", th.url+"/api/v1/admission-events"+q, nil, auth); resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", q, resp.StatusCode, want)
		}
	}
}

// busyStore answers every report and heartbeat as a writer too busy to
// start it (store.ErrBusy).
type busyStore struct{ store.Store }

func (busyStore) Ingest(context.Context, string, *fleetapi.Envelope, time.Time) (bool, error) {
	return false, store.ErrBusy
}

func (busyStore) IngestBatch(context.Context, string, []*fleetapi.Envelope, time.Time) ([]bool, error) {
	return nil, store.ErrBusy
}

func (busyStore) Heartbeat(context.Context, string, fleetapi.Heartbeat, time.Time) error {
	return store.ErrBusy
}

// TestStoreBusyIsRetryLater: a report or heartbeat the database writer
// could not start in time is answered 429 with Retry-After (the agent
// keeps it and sends it again), never 500 and never a closed connection.
func TestStoreBusyIsRetryLater(t *testing.T) {
	th := startHub(t)
	cert, _, _ := th.enrol(t, "edge")
	bs := busyStore{th.st}
	th.st, th.Hub.st = bs, bs
	c := th.client(cert)
	env := fleetapi.Envelope{Seq: 1, Kind: fleetapi.KindFindings, Findings: &fleetapi.FindingsDelta{Full: true}}
	for _, tc := range []struct {
		path string
		body any
	}{
		{fleetapi.PathReports, env},
		{fleetapi.PathReportBatch, fleetapi.ReportBatch{Envelopes: []fleetapi.Envelope{env}}},
		{fleetapi.PathHeartbeat, fleetapi.Heartbeat{Pending: 1}},
	} {
		resp, body := call(t, c, "POST", th.url+tc.path, tc.body, nil)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: %d (Retry-After %q) %s, want 429 with Retry-After", tc.path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
}
