package hub

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

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

// largeReportBytes splits reports into two classes by the size of their
// body on the wire (gzip): over it (or of unknown length) is a large one,
// typically a full snapshot (500 pods: about 160 KB of gzip; a delta of
// a 20-pod rollout: 9 KB).
const largeReportBytes = 64 << 10

// refusedBodyDrain is how much of a refused report's body is read and
// discarded to keep its connection open (a 500-pod snapshot is about
// 160 KB of gzip).
const refusedBodyDrain = 1 << 20

// ingestGate bounds the reports a replica decodes and stores at once, in
// two classes with their own slots, so that snapshots, which hold tens of
// megabytes while they are decoded and take a writer for hundreds of
// milliseconds, can neither exhaust memory (100 snapshots of 500 pods at
// once took a hub to 3.5 GiB) nor take every slot from the clusters'
// small deltas. A report waits at most wait for a slot of its class;
// then it is answered 429 with Retry-After, and the agent keeps it in its
// outbox and sends it again after that (internal/agent sendLoop): the
// queue is bounded in time, and the backlog stays on the agents' disks
// instead of in the hub's memory.
type ingestGate struct {
	small, large chan struct{}
	wait         time.Duration
	// waitingSmall and waitingLarge count the reports waiting for a slot
	// of each class; holdSmall and holdLarge are how long a slot of each
	// class is held, on average (ewma of the last reports, nanoseconds).
	// Together they set the Retry-After of the reports refused.
	waitingSmall, waitingLarge atomic.Int32
	holdSmall, holdLarge       atomic.Int64
}

// maxRetryAfter bounds the Retry-After of a report refused for want of a
// slot: an agent reports about once a minute.
const maxRetryAfter = 60

// slotRetryAfter is the Retry-After, in seconds, of a report refused
// after waiting for one of slots, with waiting others still waiting and
// a slot held for hold on average: the time those others need (waiting
// × hold ÷ slots), at least base (1 s for a delta, 5 s for a snapshot)
// and at most maxRetryAfter. A replica behind its load then spreads the
// resends over the time it needs to work through the reports already
// waiting, where a fixed second had every refused agent back at once: in
// a 10,000-cluster run, hundreds of answers 429 a second, each a TLS
// request and a body read for nothing, took the CPU the replica needed
// to catch up. Measured from the hold time, not fixed, so that a replica
// that is merely busy (short holds) does not send its agents away for
// longer than its queue lasts.
func slotRetryAfter(base, waiting int, hold time.Duration, slots int) int {
	if slots <= 0 || waiting <= 0 {
		return base
	}
	need := time.Duration(waiting) * hold / time.Duration(slots)
	secs := int((need + time.Second - 1) / time.Second)
	return min(maxRetryAfter, max(base, secs))
}

// holdEWMA folds one slot's hold time into the class's average (weight
// 1/8).
func holdEWMA(avg *atomic.Int64, d time.Duration) {
	for {
		old := avg.Load()
		next := old + (int64(d)-old)/8
		if old == 0 {
			next = int64(d)
		}
		if avg.CompareAndSwap(old, next) {
			return
		}
	}
}

// newIngestGate: small and large slots (defaults: 8 per CPU and one per
// CPU, at least 16 and 2).
func newIngestGate(small, large int) *ingestGate {
	if small <= 0 {
		small = max(16, 8*runtime.GOMAXPROCS(0))
	}
	if large <= 0 {
		large = max(2, runtime.GOMAXPROCS(0))
	}
	return &ingestGate{small: make(chan struct{}, small), large: make(chan struct{}, large), wait: 2 * time.Second}
}

// ingestSlot takes a slot of the request's class, waiting at most the
// gate's wait; on false the 429 is written. A hub built without a gate
// (tests that make a Hub by hand) admits everything.
func (h *Hub) ingestSlot(w http.ResponseWriter, r *http.Request) (func(), bool) {
	g := h.gate
	if g == nil {
		return func() {}, true
	}
	slots, class, retry, waiting, hold := g.small, "small", 1, &g.waitingSmall, &g.holdSmall
	if r.ContentLength < 0 || r.ContentLength > largeReportBytes {
		slots, class, retry, waiting, hold = g.large, "large", 5, &g.waitingLarge, &g.holdLarge
	}
	taken := func() func() {
		start := time.Now()
		return func() {
			holdEWMA(hold, time.Since(start))
			<-slots
		}
	}
	select {
	case slots <- struct{}{}:
		return taken(), true
	default:
	}
	waiting.Add(1)
	defer waiting.Add(-1)
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case slots <- struct{}{}:
		return taken(), true
	case <-t.C:
	case <-r.Context().Done():
	}
	if h.metrics != nil {
		h.metrics.throttled.WithLabelValues("reports", "busy-"+class).Inc()
	}
	// The body is read (up to refusedBodyDrain) before the answer, so
	// the agent's connection stays usable: a body left unread makes the
	// server close the connection, and the agent pays a new mutual-TLS
	// handshake for its next request (or sees EOF if it was already
	// writing the next one).
	_, _ = io.CopyN(io.Discard, r.Body, refusedBodyDrain)
	w.Header().Set("Retry-After", strconv.Itoa(slotRetryAfter(retry, int(waiting.Load())-1, time.Duration(hold.Load()), cap(slots))))
	writeError(w, http.StatusTooManyRequests, "the hub is busy storing other reports; send this one again after Retry-After")
	return nil, false
}

// storeBusy answers 429 with Retry-After when the store's writer could
// not start the request's work in time (store.ErrBusy: nothing was
// applied); the agent keeps its reports and sends them again.
func (h *Hub) storeBusy(w http.ResponseWriter, err error) bool {
	if !errors.Is(err, store.ErrBusy) {
		return false
	}
	if h.metrics != nil {
		h.metrics.throttled.WithLabelValues("reports", "busy-writer").Inc()
	}
	w.Header().Set("Retry-After", "5")
	writeError(w, http.StatusTooManyRequests, "the hub's database writer is busy; nothing was applied, send this again after Retry-After")
	return true
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
	release, ok := h.ingestSlot(w, r)
	if !ok {
		return
	}
	defer release()
	var b fleetapi.ReportBatch
	body, ok := readAgentReportInto(w, r, h.bodies, &b)
	if !ok {
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
		if h.storeBusy(w, err) {
			return
		}
		if err != nil {
			h.ingestFailed(w, r, id, err)
			return
		}
		h.refused.clear(id.ClusterID)
		quota := false
		for j, i := range idx {
			results[i].Duplicate = !applied[j]
			quota = quota || (applied[j] && (envs[j].Kind == fleetapi.KindAdmission || envs[j].Kind == fleetapi.KindRuntime))
		}
		// The store is done with the reports (answered without an
		// error), and nothing below reads them: their body's buffer
		// serves the next one.
		h.bodies.put(body)
		if quota {
			h.enforceQuota(r.Context(), id.ClusterID)
		}
	}
	writeJSON(w, http.StatusOK, fleetapi.BatchResult{Results: results})
}
