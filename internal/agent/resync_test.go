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

// seqHub is a hub that applies reports as the real one bounds them: a
// Seq more than maxAdvance beyond the last applied is refused 409; a
// heartbeat that asks to resync is answered with the last applied Seq,
// unless the hub predates resync (answers 204).
type seqHub struct {
	mu         sync.Mutex
	last       uint64
	maxAdvance uint64
	oldHub     bool
	applied    []string // admission event messages, in the order applied
	refused    int
}

func (h *seqHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch r.URL.Path {
	case fleetapi.PathHeartbeat:
		var hb fleetapi.Heartbeat
		_ = json.NewDecoder(r.Body).Decode(&hb)
		if !hb.Resync || h.oldHub {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		last := h.last
		_ = json.NewEncoder(w).Encode(fleetapi.HeartbeatResult{LastApplied: &last})
	case fleetapi.PathReportBatch:
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
		for _, e := range b.Envelopes {
			if e.Seq > h.last && e.Seq-h.last > h.maxAdvance {
				h.refused++
				w.WriteHeader(http.StatusConflict)
				_, _ = io.WriteString(w, `{"error":"sequence number too far beyond the last applied report"}`)
				return
			}
		}
		var res fleetapi.BatchResult
		for _, e := range b.Envelopes {
			dup := e.Seq <= h.last
			if !dup {
				h.last = e.Seq
				h.applied = append(h.applied, e.Admission[0].Message)
			}
			res.Results = append(res.Results, fleetapi.ReportResult{Seq: e.Seq, Duplicate: dup})
		}
		_ = json.NewEncoder(w).Encode(res)
	default:
		http.NotFound(w, r)
	}
}

// TestSendLoopResyncsAfter409: an agent whose reports the hub refuses as
// too far ahead (its database restored from an older backup) renumbers
// its queue after the hub's last applied report and delivers every
// report, in order, once; it used to resend the refused batch forever.
func TestSendLoopResyncsAfter409(t *testing.T) {
	tests := []struct {
		name    string
		oldHub  bool
		wantAll bool
	}{
		{"hub says its last applied report", false, true},
		{"hub before resync: reports stay queued", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub := &seqHub{last: 7, maxAdvance: 1000, oldHub: tt.oldHub}
			srv := httptest.NewServer(hub)
			defer srv.Close()
			ob, err := OpenOutbox(filepath.Join(t.TempDir(), "outbox.db"), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			defer ob.Close()
			ob.nextSeq = 5_000 // the agent went on numbering; the hub forgot
			ids := []string{"a", "b", "c", "d"}
			for _, id := range ids {
				if _, err := ob.Append(admissionEnv(id)); err != nil {
					t.Fatal(err)
				}
			}
			a := testAgent(t, Config{})
			a.hub, a.outbox = &hubClient{base: srv.URL, http: srv.Client()}, ob
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); a.sendLoop(ctx) }()
			deadline := time.After(time.Minute) // a guard against a hang, not a timing assertion
		wait:
			for {
				hub.mu.Lock()
				n, refused := len(hub.applied), hub.refused
				hub.mu.Unlock()
				switch {
				case tt.wantAll && n == len(ids) && ob.Stats().Pending == 0:
					break wait
				case !tt.wantAll && refused >= 2:
					break wait
				}
				select {
				case <-deadline:
					cancel()
					<-done
					t.Fatalf("applied %d, refused %d, queued %d", n, refused, ob.Stats().Pending)
				case <-time.After(20 * time.Millisecond):
				}
			}
			cancel()
			<-done
			hub.mu.Lock()
			defer hub.mu.Unlock()
			if tt.wantAll {
				if !slices.Equal(hub.applied, ids) {
					t.Errorf("hub applied %v, want %v once each in order", hub.applied, ids)
				}
				if hub.last != 7+uint64(len(ids)) {
					t.Errorf("hub's last applied %d, want %d", hub.last, 7+len(ids))
				}
				// The next report follows the renumbered ones.
				if seq, err := ob.Append(admissionEnv("e")); err != nil || seq != 12 {
					t.Errorf("next report numbered %d (%v), want 12", seq, err)
				}
				return
			}
			if len(hub.applied) != 0 || ob.Stats().Pending != len(ids) {
				t.Errorf("old hub: applied %v, queued %d; want none applied and all %d kept", hub.applied, ob.Stats().Pending, len(ids))
			}
		})
	}
}

func TestOutboxResequence(t *testing.T) {
	ob, err := OpenOutbox(filepath.Join(t.TempDir(), "outbox.db"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		if _, err := ob.Append(admissionEnv(id)); err != nil {
			t.Fatal(err)
		}
	}
	// The hub applied 1 and 2 (acks lost); 3..5 move after 2 as they are.
	if n, err := ob.Resequence(2); err != nil || n != 0 {
		t.Fatalf("resequence after 2: %d %v", n, err)
	}
	if got := ob.Stats().Pending; got != 3 {
		t.Fatalf("pending %d, want 3", got)
	}
	// The hub applied nothing: 3..5 become 1..3.
	if n, err := ob.Resequence(0); err != nil || n != 3 {
		t.Fatalf("resequence after 0: %d %v", n, err)
	}
	envs, err := ob.Oldest(10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, e := range envs {
		if e.Seq != uint64(i+1) {
			t.Errorf("report %s numbered %d, want %d", e.Admission[0].Message, e.Seq, i+1)
		}
		got = append(got, e.Admission[0].Message)
	}
	if !slices.Equal(got, []string{"c", "d", "e"}) {
		t.Errorf("queue %v, want c d e", got)
	}
}
