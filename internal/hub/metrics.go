package hub

import (
	"github.com/palisade-sec/palisade/internal/hub/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the hub's Prometheus metrics, on their own registry (never
// the global one), served at GET /metrics to viewers (an API token in
// Prometheus's authorization setting). docs/fleet.md lists them.
type metrics struct {
	registry  *prometheus.Registry
	failures  *prometheus.CounterVec
	throttled *prometheus.CounterVec
	lockouts  *prometheus.CounterVec
	// admissionPruned counts admission events deleted by reason (quota,
	// age); per cluster, the quota drops are on the cluster (API).
	admissionPruned *prometheus.CounterVec
	// scansPruned counts image scans deleted by reason (unused, quota).
	scansPruned *prometheus.CounterVec
	// verificationsPruned counts image verifications deleted by reason.
	verificationsPruned *prometheus.CounterVec
	// reportsRefused counts reports refused by reason (quota,
	// unavailable): their data is not stored.
	reportsRefused *prometheus.CounterVec
	// scoresPruned counts framework score points deleted (age or limit).
	scoresPruned prometheus.Counter
	// handshakeErrors counts failed TLS handshakes by reason
	// (handshakeLog).
	handshakeErrors *prometheus.CounterVec
}

func newMetrics(g *guard) *metrics {
	m := &metrics{registry: prometheus.NewRegistry()}
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "palisade_hub_auth_failures_total",
		Help: "Rejected credentials by endpoint (login, dashboard-login, api-token, enroll).",
	}, []string{"endpoint"})
	m.throttled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "palisade_hub_auth_throttled_total",
		Help: "Attempts answered 429 because an account or client address was locked, by endpoint and limit (account, client).",
	}, []string{"endpoint", "limit"})
	m.lockouts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "palisade_hub_auth_lockouts_total",
		Help: "Failures that started or extended a lockout, by endpoint.",
	}, []string{"endpoint"})
	tracked := func(name string, n func() int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "palisade_hub_auth_limiter_keys",
			Help:        "Keys (accounts, client addresses) tracked per limiter; bounded by its capacity.",
			ConstLabels: prometheus.Labels{"limiter": name},
		}, func() float64 { return float64(n()) })
	}
	m.admissionPruned = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "palisade_hub_admission_events_pruned_total",
		Help: "Admission events deleted by reason: quota (a cluster over its quota, oldest first) or age (older than the retention).",
	}, []string{"reason"})
	m.scansPruned = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "palisade_hub_image_scans_pruned_total",
		Help: "Image scans (with their vulnerabilities) deleted by reason: unused (of an image no cluster's report lists any more, past the retention) or quota (a cluster over its quota, oldest first).",
	}, []string{"reason"})
	m.verificationsPruned = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "palisade_hub_image_verifications_pruned_total",
		Help: "Image verifications deleted by reason: unused (of an image the cluster no longer runs, past the image-scan retention) or quota (a cluster over its image-scan quota, oldest first).",
	}, []string{"reason"})

	m.reportsRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "palisade_hub_reports_refused_total",
		Help: "Agent requests (reports, batches) refused by reason: quota (over a per-cluster quota, 413; the agent drops the report and sends a full snapshot) or unavailable (the database unreachable or full, 503; the agent keeps the report and retries).",
	}, []string{"reason"})
	m.scoresPruned = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "palisade_hub_framework_scores_pruned_total",
		Help: "Framework score points deleted: older than 366 days, or beyond 5,000 per cluster and framework (oldest first).",
	})
	m.handshakeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "palisade_hub_tls_handshake_errors_total",
		Help: "TLS handshakes that failed, by reason: eof (the client closed, often after its own timeout), timeout (the hub's 10 s handshake deadline), reset, broken_pipe, certificate (a client certificate refused: expired, not from the hub CA), protocol (another TLS error), plaintext (HTTP sent to the HTTPS port), other.",
	}, []string{"reason"})
	m.registry.MustRegister(m.handshakeErrors, m.failures, m.throttled, m.lockouts, m.admissionPruned, m.scansPruned, m.reportsRefused, m.scoresPruned, m.verificationsPruned,
		tracked("account", g.account.Len), tracked("client", g.client.Len), tracked("token", g.token.Len),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// walStatser is a store with SQLite's checkpoint figures (store.SQLite).
type walStatser interface{ WALStats() store.WALStats }

// sqliteCollectors are the checkpoint and commit metrics of a SQLite
// store (none for another): how often and how long the WAL checkpoints
// ran, how long they held the writer, the WAL's length, and the reports
// per commit (each commit one sync of the WAL).
func sqliteCollectors(st any) []prometheus.Collector {
	ws, ok := st.(walStatser)
	if !ok {
		return nil
	}
	counter := func(name, help string, v func(store.WALStats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return v(ws.WALStats()) })
	}
	gauge := func(name, help string, v func(store.WALStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return v(ws.WALStats()) })
	}
	return []prometheus.Collector{
		counter("palisade_hub_sqlite_checkpoints_total", "PASSIVE WAL checkpoints that copied pages, run beside the writer.",
			func(s store.WALStats) float64 { return float64(s.PassiveCheckpoints) }),
		counter("palisade_hub_sqlite_checkpoint_seconds_total", "Time spent in the PASSIVE WAL checkpoints (the writer runs meanwhile).",
			func(s store.WALStats) float64 { return s.PassiveTime.Seconds() }),
		counter("palisade_hub_sqlite_wal_restarts_total", "RESTART checkpoints run on the writer's connection between two transactions, when the WAL reached its soft limit.",
			func(s store.WALStats) float64 { return float64(s.Restarts) }),
		counter("palisade_hub_sqlite_wal_free_restarts_total", "Times the WAL reached its soft limit with all of it already copied by the PASSIVE checkpoints, so the writer started it over by itself without being held.",
			func(s store.WALStats) float64 { return float64(s.FreeRestarts) }),
		counter("palisade_hub_sqlite_writer_paused_seconds_total", "Time the RESTART checkpoints held the writer.",
			func(s store.WALStats) float64 { return s.WriterPause.Seconds() }),
		gauge("palisade_hub_sqlite_writer_pause_max_seconds", "The longest a RESTART checkpoint held the writer since the hub started.",
			func(s store.WALStats) float64 { return s.MaxWriterPause.Seconds() }),
		gauge("palisade_hub_sqlite_wal_pages", "The WAL's length in pages at the last checkpoint.",
			func(s store.WALStats) float64 { return float64(s.WALFrames) }),
		counter("palisade_hub_sqlite_checkpoint_errors_total", "WAL checkpoints that failed (retried at the next interval).",
			func(s store.WALStats) float64 { return float64(s.Errors) }),
		commitHistogram{ws: ws, desc: prometheus.NewDesc("palisade_hub_store_commit_seconds",
			"Durations of the writer's group-commit transactions (the writer's serial time; the WAL is synced after them, off the writer).", nil, nil)},
		counter("palisade_hub_sqlite_wal_syncs_total", "Syncs of the WAL after the writer's group commits, each covering the groups committed before it; a group's reports are answered after it.",
			func(s store.WALStats) float64 { return float64(s.WALSyncs) }),
		counter("palisade_hub_sqlite_wal_sync_seconds_total", "Time spent in the syncs of the WAL after the group commits (the writer runs meanwhile).",
			func(s store.WALStats) float64 { return s.WALSyncTime.Seconds() }),
		gauge("palisade_hub_sqlite_wal_sync_failed", "1 once a sync of the WAL failed: the store refuses reports until the hub restarts.",
			func(s store.WALStats) float64 { return b2f(s.SyncFailed) }),
		gauge("palisade_hub_store_commit_max_seconds", "The longest group-commit transaction since the hub started.",
			func(s store.WALStats) float64 { return s.CommitTimes.Max.Seconds() }),
		counter("palisade_hub_store_commits_total", "Group commits of the writer.",
			func(s store.WALStats) float64 { return float64(s.Commits) }),
		counter("palisade_hub_store_committed_items_total", "Items applied by the group commits: an agent's request of reports (one report or a batch) or a heartbeat.",
			func(s store.WALStats) float64 { return float64(s.CommittedItems) }),
	}
}

// commitHistogram is the writer's transactions' durations of a SQLite
// store as a Prometheus histogram.
type commitHistogram struct {
	ws   walStatser
	desc *prometheus.Desc
}

func (c commitHistogram) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c commitHistogram) Collect(ch chan<- prometheus.Metric) {
	h := c.ws.WALStats().CommitTimes
	buckets := make(map[float64]uint64, len(store.DurationBuckets))
	var n uint64
	for i, b := range store.DurationBuckets {
		n += uint64(h.Counts[i])
		buckets[b.Seconds()] = n
	}
	n += uint64(h.Counts[len(store.DurationBuckets)])
	ch <- prometheus.MustNewConstHistogram(c.desc, n, h.Sum.Seconds(), buckets)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
