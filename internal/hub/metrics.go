package hub

import (
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
