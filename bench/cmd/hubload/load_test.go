package main

import (
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// limitedHub answers report batches as the hub does where it matters to
// the client's batching: a body over the hub's decompressed bytes or JSON
// items (fleetapi.MaxReportBytes, MaxReportItems) is answered 413, and the
// first tooBusy requests 429 with Retry-After 1; any other batch is
// applied.
type limitedHub struct {
	mu       sync.Mutex
	applied  map[uint64]bool
	tooLarge atomic.Int64
	tooBusy  atomic.Int64
	requests atomic.Int64
}

func (h *limitedHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := h.requests.Add(1)
	if n <= h.tooBusy.Load() {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Retry-After", "1")
		http.Error(w, `{"error":"busy"}`, http.StatusTooManyRequests)
		return
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	body := &capped{r: zr, n: fleetapi.MaxReportBytes}
	var b fleetapi.ReportBatch
	err = json.NewDecoder(&fleetapi.ItemLimitReader{R: body, Max: fleetapi.MaxReportItems}).Decode(&b)
	switch {
	case errors.Is(err, fleetapi.ErrTooLarge):
		h.tooLarge.Add(1)
		http.Error(w, `{"error":"request too large"}`, http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	res := fleetapi.BatchResult{}
	h.mu.Lock()
	for _, e := range b.Envelopes {
		res.Results = append(res.Results, fleetapi.ReportResult{Seq: e.Seq, Duplicate: h.applied[e.Seq]})
		h.applied[e.Seq] = true
	}
	h.mu.Unlock()
	_ = json.NewEncoder(w).Encode(res)
}

// capped fails with fleetapi.ErrTooLarge after n bytes, as the hub's
// decompressed-size bound does.
type capped struct {
	r io.Reader
	n int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, fleetapi.ErrTooLarge
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

// TestSimSendsQueuedSnapshotsWithinLimits: a simulated agent with many
// full snapshots of 500 pods queued (3.2 MB of JSON each, as under
// snapshot overload) gets every one applied, in batches the hub accepts.
// The generator used to put up to 32 queued reports in one request
// whatever their size; 5 or more such snapshots are over the hub's items
// or bytes per request, answered 413, and it sent the same request again
// forever while the hub sat idle (the "snapshot overload stall" of
// bench/hub/README.md). The agent bounds a batch at 4 MiB of JSON and
// halves it after a 413; the generator must do the same.
func TestSimSendsQueuedSnapshotsWithinLimits(t *testing.T) {
	for _, tc := range []struct {
		name      string
		snapshots int
		pods      int
		busy      int64
		deltas    int
	}{
		{"snapshots of 500 pods queued", 12, 500, 0, 0},
		{"snapshots and deltas after 429s", 8, 500, 3, 40},
		{"many small deltas", 0, 20, 0, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hub := &limitedHub{applied: map[uint64]bool{}}
			hub.tooBusy.Store(tc.busy)
			srv := httptest.NewServer(hub)
			defer srv.Close()
			st := &stats{}
			s := newSim(&agentIdentity{clusterID: "c", tls: &tls.Config{}}, srv.URL, tc.pods, st, 1, true)
			now := time.Now()
			for range tc.snapshots {
				s.enqueue(job{sched: now, kind: jobSnapshot})
			}
			for range tc.deltas {
				s.enqueue(job{sched: now, kind: jobDelta})
			}
			want := tc.snapshots + tc.deltas
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Add(1)
			go s.run(ctx, &wg)
			// Not a timing assertion: a generous bound that only a client
			// stuck resending a refused request reaches.
			ok := waitIdle(context.Background(), []*sim{s}, time.Minute)
			cancel()
			wg.Wait()
			if !ok {
				t.Fatalf("reports still queued; %d requests, %d answered 413; errors %v", hub.requests.Load(), hub.tooLarge.Load(), st.errs)
			}
			hub.mu.Lock()
			defer hub.mu.Unlock()
			if len(hub.applied) != want || int(s.seq) != want || st.applied.Load() != int64(want) {
				t.Fatalf("applied %d on the hub, %d counted, %d numbered; want %d", len(hub.applied), st.applied.Load(), s.seq, want)
			}
			if hub.tooLarge.Load() != 0 || st.rejected.Load() != 0 {
				t.Fatalf("%d requests answered 413, %d rejected: batches must stay within the agent's 4 MiB of JSON", hub.tooLarge.Load(), st.rejected.Load())
			}
		})
	}
}

// TestCompletedCountsByCompletion: the fleet's per-minute line counts the
// reports completed in the minute, whenever they were scheduled. Counted
// by schedule (before), a hub working through a backlog showed 0 reports
// a minute, which read as a stall.
func TestCompletedCountsByCompletion(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC)
	st := &stats{}
	st.samples = []sample{
		{sched: t0, lat: 5 * time.Minute},                       // scheduled long before, done in the window
		{sched: t0.Add(4 * time.Minute), lat: 30 * time.Second}, // scheduled and done in the window
		{sched: t0.Add(4 * time.Minute), lat: 2 * time.Minute},  // scheduled in the window, done after
		{sched: t0, lat: time.Second},                           // done before the window
	}
	for _, tc := range []struct {
		from, to time.Time
		want     int
	}{
		{t0.Add(4 * time.Minute), t0.Add(5*time.Minute + time.Second), 2},
		{t0, t0.Add(time.Minute), 1},
		{t0.Add(6 * time.Minute), t0.Add(7 * time.Minute), 1},
	} {
		if got := len(st.completed(tc.from, tc.to)); got != tc.want {
			t.Errorf("completed in [%v, %v): %d, want %d", tc.from.Format("15:04:05"), tc.to.Format("15:04:05"), got, tc.want)
		}
	}
}

// TestSimResumesTLSSessions: a simulated agent whose connection was closed
// resumes its TLS session on the next one, as the agent does, so the hub's
// CPU per reconnect is measured as agents cost it; --tls-resume=false
// makes every handshake a full one. (Before, the sims kept no sessions.)
func TestSimResumesTLSSessions(t *testing.T) {
	for _, tc := range []struct {
		name        string
		resume      bool
		wantResumed int64
	}{
		{"resume", true, 2},
		{"no resume", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusNoContent)
			}))
			// Every connection is closed after its answer: each heartbeat
			// needs a new one.
			srv.Config.SetKeepAlivesEnabled(false)
			srv.StartTLS()
			defer srv.Close()
			pool := x509.NewCertPool()
			pool.AddCert(srv.Certificate())
			st := &stats{}
			s := newSim(&agentIdentity{clusterID: "c", tls: &tls.Config{RootCAs: pool}}, srv.URL, 1, st, 1, tc.resume)
			for range 3 {
				s.heartbeat(context.Background())
			}
			if st.nErrs != 0 || st.handshakes.Load() != 3 || st.resumed.Load() != tc.wantResumed {
				t.Fatalf("%d handshakes, %d resumed (want 3, %d); errors %v", st.handshakes.Load(), st.resumed.Load(), tc.wantResumed, st.errs)
			}
		})
	}
}
