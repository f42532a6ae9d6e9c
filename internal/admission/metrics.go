package admission

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the server's Prometheus metrics, on their own registry
// (never the global one). docs/admission.md lists them.
type Metrics struct {
	Registry    *prometheus.Registry
	decisions   *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	badRequests prometheus.Counter
	events      *prometheus.CounterVec
	reloads     *prometheus.CounterVec
	checks      *prometheus.HistogramVec
}

func newMetrics(caches func() map[string]*cacheStats, policy func() *Policy) *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "palisade_admission_decisions_total",
		Help: "Admission decisions by endpoint (validate, mutate) and decision (allowed, denied, warned, audited, exempt, break-glass, patched, skipped).",
	}, []string{"endpoint", "decision"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "palisade_admission_request_duration_seconds",
		Help:    "Time from reading a review to writing its answer, by endpoint.",
		Buckets: []float64{.0005, .001, .002, .003, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"endpoint"})
	m.badRequests = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "palisade_admission_bad_requests_total",
		Help: "Requests answered 400: malformed, truncated, oversized or wrong-version reviews.",
	})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "palisade_admission_events_total",
		Help: "Structured events emitted, by type.",
	}, []string{"type"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "palisade_admission_reloads_total",
		Help: "Policy and certificate reloads by file kind (policy, certificate) and result (ok, error).",
	}, []string{"file", "result"})
	m.checks = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "palisade_admission_image_check_duration_seconds",
		Help:    "Duration of image checks that missed the cache, by check (resolve, signature, scan) and result (ok, error).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"check", "result"})
	// How old the trusted root of keyless verification is: an edge cluster
	// verifies offline, so its trust is as fresh as that file.
	rootAge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "palisade_admission_trusted_root_age_seconds",
		Help: "Age of the policy's Sigstore trusted root file (spec.images.trustedRoot); 0 when none is configured.",
	}, func() float64 {
		if p := policy(); p != nil && p.verifier != nil && p.verifier.Root != nil {
			return p.verifier.Root.Age(time.Now()).Seconds()
		}
		return 0
	})
	m.Registry.MustRegister(m.decisions, m.latency, m.badRequests, m.events, m.reloads, m.checks, rootAge,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&cacheCollector{caches: caches,
			requests: prometheus.NewDesc("palisade_admission_cache_requests_total", "Image cache lookups by cache (digest, signature, scan) and result (hit, miss).", []string{"cache", "result"}, nil),
			entries:  prometheus.NewDesc("palisade_admission_cache_entries", "Entries held per image cache.", []string{"cache"}, nil),
		})
	return m
}

type cacheStats struct {
	hits, misses uint64
	entries      int
}

// cacheCollector reads the caches' counters at scrape time, so the
// request path only does atomic adds.
type cacheCollector struct {
	caches   func() map[string]*cacheStats
	requests *prometheus.Desc
	entries  *prometheus.Desc
}

func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.requests; ch <- c.entries }

func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	for name, s := range c.caches() {
		ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(s.hits), name, "hit")
		ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(s.misses), name, "miss")
		ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(s.entries), name)
	}
}
