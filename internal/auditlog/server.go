package auditlog

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
)

// DefaultMaxBatchBytes bounds one webhook request. The API server sends
// batches of up to 400 events by default; MaxItemsPerDocument bounds the
// events read from one batch.
const DefaultMaxBatchBytes = 32 << 20

// Server is an audit webhook backend: the API server POSTs EventLists to
// it (--audit-webhook-config-file) and it runs the detections live.
type Server struct {
	Engine *Engine
	// Sink receives the findings of each batch, in event order.
	Sink func([]finding.Finding)
	// MaxBatchBytes bounds a request body; 0 means DefaultMaxBatchBytes.
	MaxBatchBytes int64
	Log           *slog.Logger

	mu      sync.Mutex // the engine keeps per-identity state; dec is reused
	dec     eventDecoder
	events  int64
	batches int64
}

// ServeHTTP handles one batch: an EventList of audit.k8s.io/v1 or
// v1beta1 (as --audit-webhook-version sends it), or events in any shape
// 'auditlog analyze' reads. A body with no event gets 400 and a log line;
// items of a good batch that are not events are skipped, counted and
// logged.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "ok\n")
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "POST an audit.k8s.io/v1 EventList", http.StatusMethodNotAllowed)
		return
	}
	max := s.MaxBatchBytes
	if max <= 0 {
		max = DefaultMaxBatchBytes
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		status := http.StatusBadRequest
		if errors.As(err, &mbe) {
			status = http.StatusRequestEntityTooLarge
		}
		s.logger().Warn("audit webhook: rejected batch", "remote", r.RemoteAddr, "error", err.Error())
		http.Error(w, "reading the batch: "+err.Error(), status)
		return
	}
	var out []finding.Finding
	collect := func(_ Record, fs []finding.Finding) { out = append(out, fs...) }
	s.mu.Lock()
	batch, reason := s.dec.decode(body)
	if reason == "" {
		s.batches++
		for i, ev := range batch.events {
			s.events++
			s.Engine.Feed(Record{Event: ev, File: fmt.Sprintf("webhook batch %d", s.batches), Line: i + 1}, collect)
		}
	}
	s.mu.Unlock()
	if reason != "" {
		s.logger().Warn("audit webhook: rejected batch", "remote", r.RemoteAddr, "reason", reason)
		http.Error(w, "no audit events: "+reason, http.StatusBadRequest)
		return
	}
	if len(batch.skipped) > 0 {
		s.logger().Warn("audit webhook: skipped items that are not audit events", "count", len(batch.skipped), "first", batch.skipped[0])
	}
	s.sink(out)
	w.WriteHeader(http.StatusOK)
}

// Expire judges the requests that waited longer than the engine's stage
// window for their final stage; call it periodically so a quiet cluster's
// long-running requests are still reported.
func (s *Server) Expire(now time.Time) {
	var out []finding.Finding
	s.mu.Lock()
	s.Engine.Expire(now, func(_ Record, fs []finding.Finding) { out = append(out, fs...) })
	s.mu.Unlock()
	s.sink(out)
}

// Flush judges every request still waiting for its final stage (at
// shutdown).
func (s *Server) Flush() {
	var out []finding.Finding
	s.mu.Lock()
	s.Engine.Flush(func(_ Record, fs []finding.Finding) { out = append(out, fs...) })
	s.mu.Unlock()
	s.sink(out)
}

func (s *Server) sink(fs []finding.Finding) {
	if len(fs) > 0 && s.Sink != nil {
		s.Sink(fs)
	}
}

// Events is how many events the server has judged.
func (s *Server) Events() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.events
}

func (s *Server) logger() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
