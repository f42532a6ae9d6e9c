package agent

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// TestSendLoopOverLimitAnswers: the hub answers 429 with Retry-After
// (wait and resend), 413 to a batch (split it) and 413 to one report
// alone (drop and count it, do not resend it forever); every other report
// arrives once and the outbox drains.
func TestSendLoopOverLimitAnswers(t *testing.T) {
	const tooLarge = 2 // the seq the hub always refuses as too large
	var (
		mu       sync.Mutex
		accepted []uint64
		throttle = 1 // answer the first request 429
		refusals = map[uint64]int{}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != fleetapi.PathReportBatch {
			http.NotFound(w, r)
			return
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var b fleetapi.ReportBatch
		if err := json.NewDecoder(zr).Decode(&b); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if throttle > 0 {
			throttle--
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		for _, e := range b.Envelopes {
			if e.Seq == tooLarge {
				refusals[e.Seq]++
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				_, _ = io.WriteString(w, `{"error":"over 500000 JSON items: request too large"}`)
				return
			}
		}
		var res fleetapi.BatchResult
		for _, e := range b.Envelopes {
			accepted = append(accepted, e.Seq)
			res.Results = append(res.Results, fleetapi.ReportResult{Seq: e.Seq})
		}
		_ = json.NewEncoder(w).Encode(res)
	}))
	defer srv.Close()

	a := sendUntilDrained(t, srv, 4)
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(accepted)
	if want := []uint64{1, 3, 4}; !slices.Equal(accepted, want) {
		t.Errorf("hub accepted %v, want %v once each", accepted, want)
	}
	// Refused in the batch of 4, then of 2, then alone: halving finds it.
	if refusals[tooLarge] > 3 {
		t.Errorf("report %d refused as too large %d times: it is resent", tooLarge, refusals[tooLarge])
	}
	if n := a.refusedTooLarge.Load(); n != 1 {
		t.Errorf("refusedTooLarge %d, want 1", n)
	}
}

// TestSendLoopKeepsReportsOnTransportErrors: a request that ends without
// an answer (the hub's connection closed after it applied the batch, as
// a server timeout or a restart does: the agent sees EOF) leaves the
// reports in the outbox; the agent sends them again and the hub's
// answer (duplicates, by Seq) lets it drop them. Nothing is lost.
func TestSendLoopKeepsReportsOnTransportErrors(t *testing.T) {
	var (
		mu      sync.Mutex
		applied = map[uint64]int{}
		cut     = 1 // close the connection of the first request unanswered
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var b fleetapi.ReportBatch
		if err := json.NewDecoder(zr).Decode(&b); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		var res fleetapi.BatchResult
		for _, e := range b.Envelopes {
			applied[e.Seq]++
			res.Results = append(res.Results, fleetapi.ReportResult{Seq: e.Seq, Duplicate: applied[e.Seq] > 1})
		}
		if cut > 0 {
			cut--
			c, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			c.Close()
			return
		}
		_ = json.NewEncoder(w).Encode(res)
	}))
	defer srv.Close()

	sendUntilDrained(t, srv, 3)
	mu.Lock()
	defer mu.Unlock()
	for seq := uint64(1); seq <= 3; seq++ {
		if applied[seq] != 2 {
			t.Errorf("report %d received %d times, want 2 (cut, then resent)", seq, applied[seq])
		}
	}
}

// sendUntilDrained puts n admission reports in a fresh outbox and runs an
// agent's send loop against srv until the outbox is empty, failing the
// test if it does not drain within a minute (a guard against a hang, not
// a timing assertion). It returns the agent, stopped, for its counters.
func sendUntilDrained(t *testing.T, srv *httptest.Server, n int) *Agent {
	t.Helper()
	ob, err := OpenOutbox(filepath.Join(t.TempDir(), "outbox.db"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	for i := range n {
		if _, err := ob.Append(admissionEnv(string(rune('a' + i)))); err != nil {
			t.Fatal(err)
		}
	}
	a := testAgent(t, Config{})
	a.hub, a.outbox = &hubClient{base: srv.URL, http: srv.Client()}, ob
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.sendLoop(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.After(time.Minute)
	for ob.Stats().Pending > 0 {
		select {
		case <-deadline:
			t.Fatalf("outbox still holds %d reports", ob.Stats().Pending)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return a
}
