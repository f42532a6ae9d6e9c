package agent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// TestIdempotentRequestsSurviveAClosedConnection: a hub closes a kept-alive
// connection just as the agent sends its next request on it (its idle
// timeout firing, a replica shutting down, a hub shedding idle
// connections under memory pressure). The agent's reports and heartbeats
// are idempotent — the hub deduplicates reports by (agent, seq) — so the
// HTTP transport must send them again on a new connection instead of
// failing them with EOF; the agent used to see these as transport errors
// (and count the hub offline until its backoff expired). Enrolment and
// renewal are not idempotent and are not sent twice.
func TestIdempotentRequestsSurviveAClosedConnection(t *testing.T) {
	for _, tc := range []struct {
		name  string
		path  string
		body  any
		retry bool
	}{
		{"heartbeat", fleetapi.PathHeartbeat, fleetapi.Heartbeat{AgentVersion: "test"}, true},
		{"report batch", fleetapi.PathReportBatch, gzipJSON(nil), true},
		{"report", fleetapi.PathReports, fleetapi.Envelope{Seq: 1}, true},
		{"enrolment", fleetapi.PathEnroll, fleetapi.EnrollRequest{Token: "t"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			perConn := map[string]int{}
			answered := 0
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				perConn[r.RemoteAddr]++
				second := perConn[r.RemoteAddr] == 2
				mu.Unlock()
				if second {
					// The request was read; the connection closes without
					// an answer, as a server closing it at that moment does.
					c, _, err := w.(http.Hijacker).Hijack()
					if err == nil {
						c.Close()
					}
					return
				}
				mu.Lock()
				answered++
				mu.Unlock()
				w.WriteHeader(http.StatusNoContent)
			}))
			defer srv.Close()
			c := &hubClient{base: srv.URL, http: srv.Client()}
			ctx := context.Background()
			if err := c.do(ctx, http.MethodPost, tc.path, tc.body, nil); err != nil {
				t.Fatalf("first request: %v", err)
			}
			err := c.do(ctx, http.MethodPost, tc.path, tc.body, nil)
			mu.Lock()
			defer mu.Unlock()
			if tc.retry && (err != nil || answered != 2 || len(perConn) != 2) {
				t.Fatalf("second request on a connection the hub closed: %v (answered %d, connections %d); want it sent again on a new connection", err, answered, len(perConn))
			}
			if !tc.retry && (err == nil || answered != 1) {
				t.Fatalf("a non-idempotent request was sent again (%v, answered %d)", err, answered)
			}
		})
	}
}
