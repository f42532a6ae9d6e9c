package hub

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// ingestTurn gives the cluster the right to send one report or batch at
// a time; a second one while the first is decoded or stored is answered
// 429 with Retry-After (the agent sends its outbox in order, one request
// at a time, so only a misbehaving agent meets this). This is each
// cluster's fair share of ingest: the database writer is shared, and a
// cluster sending in parallel queued every other cluster behind it. The
// returned function ends the turn.
func (h *Hub) ingestTurn(w http.ResponseWriter, clusterID string) (func(), bool) {
	h.ingestMu.Lock()
	defer h.ingestMu.Unlock()
	if h.ingesting[clusterID] {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "a report of this cluster is already being ingested; send one at a time")
		return nil, false
	}
	if h.ingesting == nil {
		h.ingesting = map[string]bool{}
	}
	h.ingesting[clusterID] = true
	return func() {
		h.ingestMu.Lock()
		delete(h.ingesting, clusterID)
		h.ingestMu.Unlock()
	}, true
}

// reportBatch applies several outbox reports of one agent in one store
// transaction (fleetapi.ReportBatch). Each envelope is deduplicated by its
// Seq exactly as on the single-report path; an invalid envelope is refused
// alone (its result carries the reason), a report naming another cluster
// refuses the whole batch, and a store failure fails the whole batch so
// the agent resends it.
func (h *Hub) reportBatch(w http.ResponseWriter, r *http.Request, id agentIdentity) {
	done, ok := h.ingestTurn(w, id.ClusterID)
	if !ok {
		return
	}
	defer done()
	var b fleetapi.ReportBatch
	if !readAgentJSON(w, r, fleetapi.MaxReportBytes, &b) {
		return
	}
	if err := b.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	results := make([]fleetapi.ReportResult, len(b.Envelopes))
	envs := make([]*fleetapi.Envelope, 0, len(b.Envelopes))
	idx := make([]int, 0, len(b.Envelopes))
	for i := range b.Envelopes {
		env := &b.Envelopes[i]
		results[i].Seq = env.Seq
		if env.Cluster != "" && env.Cluster != id.ClusterID {
			h.log.WarnContext(r.Context(), "cross-cluster report refused", slog.String("agent", id.AgentID), slog.String("cluster", id.ClusterID))
			writeError(w, http.StatusForbidden, "an agent may only report for its own cluster")
			return
		}
		if err := env.Validate(); err != nil {
			results[i].Error = err.Error()
			continue
		}
		env.Dropped = max(env.Dropped, b.Dropped)
		envs = append(envs, env)
		idx = append(idx, i)
	}
	if len(envs) > 0 {
		applied, err := h.st.IngestBatch(r.Context(), id.AgentID, envs, h.cfg.Now())
		if errors.Is(err, store.ErrWrongCluster) {
			writeError(w, http.StatusForbidden, "an agent may only report for its own cluster")
			return
		}
		if errors.Is(err, store.ErrSeqAdvance) {
			h.log.WarnContext(r.Context(), "report sequence number refused", slog.String("agent", id.AgentID), slog.String("cluster", id.ClusterID), slog.Any("error", err))
			writeError(w, http.StatusConflict, err.Error()+"; re-enrol the agent if its state was reset")
			return
		}
		if err != nil {
			h.internal(w, r, err)
			return
		}
		quota := false
		for j, i := range idx {
			results[i].Duplicate = !applied[j]
			quota = quota || (applied[j] && envs[j].Kind == fleetapi.KindAdmission)
		}
		if quota {
			h.enforceQuota(r.Context(), id.ClusterID)
		}
	}
	writeJSON(w, http.StatusOK, fleetapi.BatchResult{Results: results})
}
