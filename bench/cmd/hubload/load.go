package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// jobKind is what one scheduled report carries.
type jobKind int

const (
	jobDelta jobKind = iota
	jobImages
	jobSnapshot
)

// job is one report due at sched: its latency is counted from sched, not
// from when it was sent (open loop: a slow hub does not slow the
// schedule, it lengthens the queue).
type job struct {
	sched time.Time
	kind  jobKind
}

// A request carries at most maxBatch queued reports and about
// maxBatchBytes of their JSON, as the agent's send loop (internal/agent
// sendBatchReports, sendBatchBytes): the hub refuses a request over its
// decompressed bytes or JSON items with 413, and 5 snapshots of 500 pods
// are already over its items.
const (
	maxBatch      = 32
	maxBatchBytes = 4 << 20
)

// outReport is one report numbered and encoded, waiting in the sim's
// outbox: its gzip member(s) and the size of its JSON.
type outReport struct {
	job
	z    []byte
	size int
}

// sim is one simulated agent: its identity, its connection, the findings
// it has reported, and its outbox (jobs), sent in order, one request at a
// time, as the agent's send loop does.
type sim struct {
	id     *agentIdentity
	client *http.Client
	url    string
	model  *clusterModel
	seq    uint64
	rng    *rand.Rand
	jobs   chan job
	hbBusy atomic.Bool
	stats  *stats
	// pending counts jobs queued or in flight (the heartbeat's Pending);
	// lastSeq is the highest Seq numbered (its LastSeq), as the agent's.
	pending atomic.Int64
	lastSeq atomic.Uint64
	// logRetries logs every resend (--log-retries).
	logRetries bool
	// outbox holds the reports numbered and encoded but not yet taken by
	// the hub, oldest first (only the run goroutine touches it).
	outbox []outReport
}

// newSim makes a simulated agent; with resume, it keeps TLS sessions in a
// bounded cache of its own and resumes them on reconnect, as the agent
// does (internal/agent identitySessions).
func newSim(id *agentIdentity, url string, pods int, st *stats, seed uint64, resume bool) *sim {
	tc := id.tls.Clone()
	if resume {
		tc.ClientSessionCache = tls.NewLRUClientSessionCache(16)
	}
	tr := &http.Transport{TLSClientConfig: tc, MaxIdleConnsPerHost: 2, IdleConnTimeout: 90 * time.Second, DisableCompression: true}
	return &sim{id: id, url: url, model: newClusterModel(pods), rng: rand.New(rand.NewPCG(seed, 17)),
		client: &http.Client{Transport: tr, Timeout: 2 * time.Minute}, jobs: make(chan job, 512), stats: st}
}

// enqueue schedules a report; a full outbox (512 reports behind) is
// counted as a loss of the load client, never silently.
func (s *sim) enqueue(j job) {
	s.pending.Add(1)
	select {
	case s.jobs <- j:
	default:
		s.pending.Add(-1)
		s.stats.overflow.Add(1)
	}
}

// deltaShape draws a rollout size and a number of changed pods; the mix
// is in bench/hub/README.md (mean 1.7 pods rolled out and 2 changed per
// report: about 50 findings, the measured rollouts of 1–20 pods weighted
// towards the small ones).
func (s *sim) deltaShape() (k, c int) {
	r := s.rng.IntN(100)
	switch {
	case r < 40:
		k = 0
	case r < 70:
		k = 1
	case r < 85:
		k = 2
	case r < 95:
		k = 5
	case r < 99:
		k = 10
	default:
		k = 20
	}
	return k, 1 + s.rng.IntN(3)
}

// run sends the sim's reports until ctx ends: a batch at a time of the
// oldest queued reports, within maxBatch and maxBatchBytes; after a 413
// it sends half as many at once, as the agent does, so a refused request
// is never sent again unchanged. When ctx ends, the request in flight is
// finished but nothing is sent again.
func (s *sim) run(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	split := 0 // reports per batch after a 413 (0: full batches)
	for {
		if len(s.outbox) == 0 {
			select {
			case j := <-s.jobs:
				s.outbox = append(s.outbox, s.encode(j))
			case <-ctx.Done():
				return
			}
		}
		n := maxBatch
		if split > 0 {
			n = split
		}
		batch := s.nextBatch(n)
		switch s.send(ctx, batch) {
		case sendApplied:
			s.outbox = s.outbox[len(batch):]
			s.pending.Add(-int64(len(batch)))
			if len(s.outbox) == 0 {
				split = 0
			}
		case sendTooLarge:
			if len(batch) > 1 {
				split = len(batch) / 2
				continue
			}
			// One report over the hub's limits: the generator's fault,
			// counted as rejected (the run fails), and dropped as the
			// agent drops it so the queue behind it moves.
			s.stats.rejected.Add(1)
			s.stats.errorf("cluster %s: report %d alone answered 413", s.id.clusterID, s.seq)
			s.outbox = s.outbox[1:]
			s.pending.Add(-1)
			split = 0
		case sendAborted:
			return
		}
	}
}

// nextBatch returns the oldest reports of the outbox, encoding more
// queued jobs as long as the batch has fewer than n reports and its JSON
// stays within maxBatchBytes (a single report over it goes alone). A job
// encoded that does not fit stays first in the outbox for the next batch.
func (s *sim) nextBatch(n int) []outReport {
	size, k := 0, 0
	for k < n {
		if k == len(s.outbox) {
			select {
			case j := <-s.jobs:
				s.outbox = append(s.outbox, s.encode(j))
			default:
				return s.outbox[:k]
			}
		}
		if k > 0 && size+s.outbox[k].size > maxBatchBytes {
			break
		}
		size += s.outbox[k].size
		k++
	}
	return s.outbox[:k]
}

// encode numbers a job's report and encodes it now (the model changes in
// the order the hub applies the reports).
func (s *sim) encode(j job) outReport {
	now := time.Now().UTC()
	s.seq++
	s.lastSeq.Store(s.seq)
	r := outReport{job: j}
	switch j.kind {
	case jobSnapshot:
		// A resnapshot after an agent restart: the pods changed a
		// little since the last one (the pool's variants are as far
		// apart).
		if s.model.pool == nil {
			s.model.delta(s.rng, 0, snapshotChangedPods)
		}
		r.z, r.size = s.model.snapshotEnvelopeZ(s.seq, now)
	case jobImages:
		r.z, r.size = envelopeZ(imagesEnvelope(s.seq, now, int(s.seq)))
	default:
		k, c := s.deltaShape()
		r.z, r.size = envelopeZ(&fleetapi.Envelope{Seq: s.seq, Time: now, Kind: fleetapi.KindFindings, Findings: s.model.delta(s.rng, k, c)})
	}
	return r
}

// snapshotChangedPods is how many pods changed between a cluster's
// successive snapshots.
const snapshotChangedPods = 5

// sendOutcome is how send ended.
type sendOutcome int

const (
	sendApplied  sendOutcome = iota // the hub answered for every report
	sendTooLarge                    // 413: the request is over the hub's limits
	sendAborted                     // ctx ended before the hub took it
)

// send posts the batch until the hub takes it: 429 waits its
// Retry-After, errors back off as the agent does; a 413 is returned for
// the caller to split the batch. A report is never dropped by the client
// except alone over the hub's limits, so anything missing on the hub is
// the hub's.
func (s *sim) send(ctx context.Context, batch []outReport) sendOutcome {
	members := make([][]byte, len(batch))
	jobs := make([]job, len(batch))
	for i, r := range batch {
		members[i], jobs[i] = r.z, r.job
	}
	body := batchBody(members)
	backoff := time.Second
	retried := false
	for {
		res, status, wait, err := s.post(ctx, fleetapi.PathReportBatch, body)
		switch {
		case err == nil && status == http.StatusOK:
			s.stats.record(jobs, res, time.Now(), retried, len(body))
			return sendApplied
		case status == http.StatusRequestEntityTooLarge:
			s.stats.tooLarge.Add(1)
			s.retryf(batch, len(body), status, err, 0)
			return sendTooLarge
		case status == http.StatusTooManyRequests:
			s.stats.throttled.Add(1)
			retried = true
			s.retryf(batch, len(body), status, err, wait)
			sleep(ctx, wait)
		default:
			s.stats.errorf("cluster %s: %d %v", s.id.clusterID, status, err)
			retried = true
			s.retryf(batch, len(body), status, err, backoff)
			sleep(ctx, backoff)
			backoff = min(2*backoff, 30*time.Second)
		}
		if ctx.Err() != nil {
			return sendAborted
		}
	}
}

// retryf logs one resend when --log-retries is on: which cluster, the
// batch, the answer or transport error, and the delay chosen.
func (s *sim) retryf(batch []outReport, n, status int, err error, delay time.Duration) {
	if !s.logRetries {
		return
	}
	json := 0
	for _, r := range batch {
		json += r.size
	}
	logf("retry cluster %s: %d reports (%d bytes of gzip, %d of JSON, oldest scheduled %v ago): status %d, %v; again in %v",
		s.id.clusterID, len(batch), n, json, time.Since(batch[0].sched).Round(time.Millisecond), status, err, delay)
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}

func (s *sim) post(ctx context.Context, path string, gz []byte) (fleetapi.BatchResult, int, time.Duration, error) {
	var res fleetapi.BatchResult
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, s.url+path, bytes.NewReader(gz))
	if err != nil {
		return res, 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header["Idempotency-Key"] = nil // as the agent's: resent on a new connection if the hub closed the reused one
	resp, err := s.stats.do(s.client, req)
	if err != nil {
		return res, 0, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body) // drained: the connection is kept, as the agent's
	if err != nil {
		return res, resp.StatusCode, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return res, resp.StatusCode, retryAfter(resp), fmt.Errorf("%s", bytes.TrimSpace(b))
	}
	return res, resp.StatusCode, 0, json.Unmarshal(b, &res)
}

// heartbeat posts one heartbeat unless the last is still in flight (the
// agent's heartbeat loop is sequential); its latency is recorded apart.
func (s *sim) heartbeat(ctx context.Context) {
	if !s.hbBusy.CompareAndSwap(false, true) {
		return
	}
	defer s.hbBusy.Store(false)
	hb, _ := json.Marshal(fleetapi.Heartbeat{Time: time.Now().UTC(), AgentVersion: "hubload", Pending: uint64(max(0, s.pending.Load())), LastSeq: s.lastSeq.Load()})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.url+fleetapi.PathHeartbeat, bytes.NewReader(hb))
	req.Header.Set("Content-Type", "application/json")
	req.Header["Idempotency-Key"] = nil
	t0 := time.Now()
	resp, err := s.stats.do(s.client, req)
	if err != nil {
		if ctx.Err() == nil {
			s.stats.errorf("heartbeat %s: %v", s.id.clusterID, err)
		}
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests {
		// The agent's heartbeat loop tries again at its next tick.
		s.stats.hbThrottled.Add(1)
		return
	}
	if resp.StatusCode != http.StatusNoContent {
		s.stats.errorf("heartbeat %s: %d", s.id.clusterID, resp.StatusCode)
		return
	}
	s.stats.heartbeat(time.Since(t0))
}

// stats collects every report's outcome.
type stats struct {
	mu          sync.Mutex
	samples     []sample
	hbLat       []time.Duration
	errs        []string
	transport   map[string]int // transport errors by phase and kind
	nErrs       int
	applied     atomic.Int64
	dups        atomic.Int64 // duplicates answered to a first attempt: a report counted twice or a client bug
	dupsRetry   atomic.Int64 // duplicates answered to a retry of a request that may have been applied
	rejected    atomic.Int64 // per-report errors in a batch answer
	throttled   atomic.Int64 // 429 answers
	tooLarge    atomic.Int64 // 413 answers (the batch is split and sent again)
	hbThrottled atomic.Int64 // heartbeats answered 429
	overflow    atomic.Int64
	bytes       atomic.Int64
	requests    atomic.Int64
	handshakes  atomic.Int64 // TLS handshakes completed (new connections)
	resumed     atomic.Int64 // of which resumed a session
}

type sample struct {
	sched time.Time
	lat   time.Duration
	kind  jobKind
}

func (st *stats) record(batch []job, res fleetapi.BatchResult, done time.Time, retried bool, n int) {
	st.requests.Add(1)
	st.bytes.Add(int64(n))
	if len(res.Results) != len(batch) {
		st.errorf("batch of %d answered with %d results", len(batch), len(res.Results))
	}
	for _, r := range res.Results {
		switch {
		case r.Error != "":
			st.rejected.Add(1)
			st.errorf("report %d rejected: %s", r.Seq, r.Error)
		case r.Duplicate && retried:
			st.dupsRetry.Add(1)
		case r.Duplicate:
			st.dups.Add(1)
		default:
			st.applied.Add(1)
		}
	}
	st.mu.Lock()
	for _, j := range batch {
		st.samples = append(st.samples, sample{sched: j.sched, lat: done.Sub(j.sched), kind: j.kind})
	}
	st.mu.Unlock()
}

func (st *stats) heartbeat(d time.Duration) {
	st.mu.Lock()
	st.hbLat = append(st.hbLat, d)
	st.mu.Unlock()
}

func (st *stats) errorf(format string, args ...any) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.nErrs++
	if len(st.errs) < 20 {
		st.errs = append(st.errs, fmt.Sprintf(format, args...))
	}
}

// window returns the latencies of reports scheduled in [from, to).
func (st *stats) window(from, to time.Time, kind func(jobKind) bool) []time.Duration {
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []time.Duration
	for _, s := range st.samples {
		if !s.sched.Before(from) && s.sched.Before(to) && (kind == nil || kind(s.kind)) {
			out = append(out, s.lat)
		}
	}
	return out
}

// completed returns the latencies of reports completed in [from, to).
func (st *stats) completed(from, to time.Time) []time.Duration {
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []time.Duration
	for _, s := range st.samples {
		if done := s.sched.Add(s.lat); !done.Before(from) && done.Before(to) {
			out = append(out, s.lat)
		}
	}
	return out
}

// pct returns the p-quantile (nearest rank) of d, sorting it.
func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// schedule dispatches reports open-loop at rate per second for d, round
// robin over the sims, kind chosen by pick; it returns when the last is
// scheduled. The schedule is fixed in advance (report i at start+i/rate):
// a late dispatcher catches up instead of lowering the rate.
func schedule(ctx context.Context, sims []*sim, rate float64, d time.Duration, start time.Time, offset int, pick func(i int) jobKind) int {
	n := int(rate * d.Seconds())
	for i := range n {
		at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if w := time.Until(at); w > 0 {
			select {
			case <-time.After(w):
			case <-ctx.Done():
				return i
			}
		}
		sims[(offset+i)%len(sims)].enqueue(job{sched: at, kind: pick(i)})
	}
	return n
}
