package auditlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"github.com/palisade-sec/palisade/internal/finding"
)

// DefaultMaxBatchBytes bounds one webhook request. The API server sends
// batches of up to 400 events by default.
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

	mu     sync.Mutex // the engine keeps per-identity state; dec is reused
	dec    eventDecoder
	events int64
}

type eventList struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Items      []json.RawMessage `json:"items"`
}

// ServeHTTP handles one batch. Malformed batches get 400 and a log line;
// malformed events inside a good batch are skipped and counted.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "ok\n")
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "POST audit.k8s.io/v1 EventList", http.StatusMethodNotAllowed)
		return
	}
	max := s.MaxBatchBytes
	if max <= 0 {
		max = DefaultMaxBatchBytes
	}
	var list eventList
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, max))
	if err := dec.Decode(&list); err != nil {
		var mbe *http.MaxBytesError
		status := http.StatusBadRequest
		if errors.As(err, &mbe) {
			status = http.StatusRequestEntityTooLarge
		}
		s.logger().Warn("audit webhook: rejected batch", "remote", r.RemoteAddr, "error", err.Error())
		http.Error(w, "invalid EventList: "+err.Error(), status)
		return
	}
	if list.APIVersion != "audit.k8s.io/v1" || list.Kind != "EventList" {
		s.logger().Warn("audit webhook: rejected batch", "remote", r.RemoteAddr, "apiVersion", list.APIVersion, "kind", list.Kind)
		http.Error(w, fmt.Sprintf("want audit.k8s.io/v1 EventList, got %s %s", list.APIVersion, list.Kind), http.StatusBadRequest)
		return
	}
	var out []finding.Finding
	skipped := 0
	s.mu.Lock()
	for i, raw := range list.Items {
		ev, _ := s.dec.decode(raw, true)
		if ev == nil {
			skipped++
			continue
		}
		s.events++
		out = append(out, s.Engine.Observe(Record{Event: ev, File: "webhook", Line: i + 1})...)
	}
	s.mu.Unlock()
	if skipped > 0 {
		s.logger().Warn("audit webhook: skipped malformed events", "count", skipped)
	}
	if len(out) > 0 && s.Sink != nil {
		s.Sink(out)
	}
	w.WriteHeader(http.StatusOK)
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
