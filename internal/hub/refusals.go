package hub

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// Reports the hub refuses for a reason the agent cannot fix by resending
// differently (a quota) or can only wait out (the database unavailable)
// are answered so the agent does the right thing, counted in
// palisade_hub_reports_refused_total, and shown on the cluster: a cluster
// whose reports are refused is never shown online with frozen data.
//
//   - Over a quota (store.ErrQuota): 413. The agent drops the report
//     (resending it unchanged would be refused forever) and sends its next
//     findings as a full snapshot, which replaces the cluster's rows and
//     so converges whenever the cluster's real findings fit. The refusal is
//     recorded on the cluster (store.RecordQuotaRefusal) until a findings
//     report is applied again.
//   - The database unavailable or full (store.Unavailable): 503 with
//     Retry-After. The agent keeps the report in its outbox and sends it
//     again after that wait. The database cannot record anything then, so
//     the replica remembers the refusal in memory (refusedReports) until a
//     report of that cluster is applied: other replicas, and this one after
//     a restart, cannot tell.

// unavailableRetryAfter is the Retry-After of a 503 for a database that is
// unavailable: long enough not to hammer a recovering database, short
// enough that a restart of PostgreSQL costs the fleet seconds.
const unavailableRetryAfter = 5 * time.Second

// refusedReports remembers, per cluster, since when this replica refused
// its reports because the database was unavailable.
type refusedReports struct {
	mu    sync.Mutex
	since map[string]time.Time
}

func (r *refusedReports) refuse(cluster string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.since == nil {
		r.since = map[string]time.Time{}
	}
	if _, ok := r.since[cluster]; !ok {
		r.since[cluster] = now
	}
}

func (r *refusedReports) clear(cluster string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.since, cluster)
}

func (r *refusedReports) get(cluster string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.since[cluster]
	return t, ok
}

// writeUnavailable answers 503 with Retry-After for a store error that is
// the database being out of reach or full; false for any other error.
func (h *Hub) writeUnavailable(w http.ResponseWriter, r *http.Request, err error) bool {
	if !store.Unavailable(err) {
		return false
	}
	h.log.ErrorContext(r.Context(), "database unavailable", slog.String("path", r.URL.Path), slog.Any("error", err))
	w.Header().Set("Retry-After", strconv.Itoa(int(unavailableRetryAfter/time.Second)))
	writeError(w, http.StatusServiceUnavailable, "the hub's database is unavailable; retry after Retry-After")
	return true
}

// ingestFailed answers a report or batch the store did not apply.
func (h *Hub) ingestFailed(w http.ResponseWriter, r *http.Request, id agentIdentity, err error) {
	var qe *store.QuotaError
	switch {
	case errors.Is(err, store.ErrWrongCluster):
		writeError(w, http.StatusForbidden, "an agent may only report for its own cluster")
	case errors.Is(err, store.ErrSeqAdvance):
		h.log.WarnContext(r.Context(), "report sequence number refused", slog.String("agent", id.AgentID), slog.String("cluster", id.ClusterID), slog.Any("error", err))
		writeError(w, http.StatusConflict, err.Error()+"; re-enrol the agent if its state was reset")
	case errors.As(err, &qe):
		h.metrics.reportsRefused.WithLabelValues("quota").Inc()
		reason := qe.What + ": " + strconv.FormatInt(qe.Have, 10) + " over the quota of " + strconv.FormatInt(qe.Limit, 10)
		h.log.WarnContext(r.Context(), "report refused over the cluster's quota", slog.String("agent", id.AgentID), slog.String("cluster", id.ClusterID), slog.String("quota", reason))
		if err := h.st.RecordQuotaRefusal(context.WithoutCancel(r.Context()), id.ClusterID, reason, h.cfg.Now()); err != nil {
			h.log.ErrorContext(r.Context(), "record quota refusal", slog.String("cluster", id.ClusterID), slog.Any("error", err))
		}
		writeError(w, http.StatusRequestEntityTooLarge, "over the cluster's quota: "+reason+"; report refused, send a full snapshot")
	case store.Unavailable(err):
		h.metrics.reportsRefused.WithLabelValues("unavailable").Inc()
		h.refused.refuse(id.ClusterID, h.cfg.Now())
		h.writeUnavailable(w, r, err)
	default:
		h.internal(w, r, err)
	}
}

// reportsRefused says whether, and since when and why, the cluster's
// reports are refused: over a quota (recorded in the database) or, as far
// as this replica knows, for an unavailable database.
func (h *Hub) reportsRefused(c store.Cluster) (string, time.Time) {
	if t, ok := h.refused.get(c.ID); ok {
		return "database unavailable", t
	}
	if !c.QuotaRefusedAt.IsZero() {
		return "over quota: " + c.QuotaReason, c.QuotaRefusedAt
	}
	return "", time.Time{}
}

// refusedState turns a cluster that is in contact (online or stale) but
// whose reports are refused into fleetapi.StateRefused.
func refusedState(st fleetapi.ClusterState, reason string) fleetapi.ClusterState {
	if reason != "" && (st == fleetapi.StateOnline || st == fleetapi.StateStale) {
		return fleetapi.StateRefused
	}
	return st
}

// ingestLimits fills the zero fields of l with the store's defaults and
// turns negative ones (no limit) into zero, as the store reads them.
func ingestLimits(l store.IngestLimits) store.IngestLimits {
	d := store.DefaultIngestLimits()
	pick := func(v, def int64) int64 {
		switch {
		case v < 0:
			return 0
		case v == 0:
			return def
		}
		return v
	}
	return store.IngestLimits{
		FindingsPerCluster: pick(l.FindingsPerCluster, d.FindingsPerCluster),
		NodesPerCluster:    int(pick(int64(l.NodesPerCluster), int64(d.NodesPerCluster))),
		RulesPerCluster:    int(pick(int64(l.RulesPerCluster), int64(d.RulesPerCluster))),
		ImagesPerCluster:   int(pick(int64(l.ImagesPerCluster), int64(d.ImagesPerCluster))),
		VulnsPerScan:       int(pick(int64(l.VulnsPerScan), int64(d.VulnsPerScan))),
		ProfilesPerCluster: int(pick(int64(l.ProfilesPerCluster), int64(d.ProfilesPerCluster))),
		ProfileWindow:      time.Duration(pick(int64(l.ProfileWindow), int64(d.ProfileWindow))),
	}
}
