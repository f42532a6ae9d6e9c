package hub

// Runtime sensor reports (issue #21): each node's sensor state, a gap in
// coverage whenever it is degraded or lost events, and the runtime
// findings the agents forward. Runtime findings are appended like
// admission events and share their quota and retention (Config's
// AdmissionEventsPerCluster and AdmissionEventRetention).

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/palisade-sec/palisade/internal/hub/store"
)

func (h *Hub) routeRuntime(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/runtime/sensors", h.user(store.RoleViewer, h.runtimeSensorsAPI))
	mux.Handle("GET /api/v1/runtime/findings", h.user(store.RoleViewer, h.runtimeFindingsAPI))
	h.routeRuntimeProfiles(mux)
}

func (h *Hub) runtimeSensorsAPI(w http.ResponseWriter, r *http.Request, _ principal) {
	s, err := h.st.ListRuntimeSensors(r.Context(), r.URL.Query().Get("cluster"))
	writeList(h, w, r, "sensors", s, err)
}

func (h *Hub) runtimeFindingsAPI(w http.ResponseWriter, r *http.Request, _ principal) {
	q, ok := runtimeQuery(w, r)
	if !ok {
		return
	}
	fs, err := h.st.ListRuntimeFindings(r.Context(), q)
	writeList(h, w, r, "findings", fs, err)
}

// runtimeQuery reads cluster, rule, since (RFC 3339) and limit (≤ 5000).
func runtimeQuery(w http.ResponseWriter, r *http.Request) (store.RuntimeQuery, bool) {
	v := r.URL.Query()
	q := store.RuntimeQuery{ClusterID: v.Get("cluster"), RuleID: v.Get("rule")}
	if s := v.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "since: want RFC 3339")
			return q, false
		}
		q.Since = t
	}
	var err error
	if q.Limit, err = intParam(r, "limit", 200); err != nil || q.Limit > 5000 {
		writeError(w, http.StatusBadRequest, "limit: want a non-negative integer, at most 5000")
		return q, false
	}
	return q, true
}

// pruneRuntime applies the admission-event quota (clusterID, "" all) and
// retention to runtime findings.
func (h *Hub) pruneRuntime(ctx context.Context, clusterID string, withAge bool) {
	r := store.Retention{MaxDeletes: pruneMaxDeletes, PerCluster: max(h.cfg.AdmissionEventsPerCluster, 0)}
	if withAge {
		r.MaxAge = max(h.cfg.AdmissionEventRetention, 0)
	}
	if r.PerCluster == 0 && r.MaxAge == 0 {
		return
	}
	if _, err := h.st.PruneRuntimeFindings(ctx, clusterID, r, h.cfg.Now()); err != nil {
		h.log.ErrorContext(ctx, "runtime findings quota and retention", "cluster", clusterID, "error", err)
	}
}

// runtimeCollector reports the runtime sensors' coverage at each scrape
// from the store: sensors by mode, nodes with a gap, events lost.
type runtimeCollector struct {
	st                     store.Store
	sensors, gaps, dropped *prometheus.Desc
}

func newRuntimeCollector(st store.Store) *runtimeCollector {
	return &runtimeCollector{st: st,
		sensors: prometheus.NewDesc("palisade_hub_runtime_sensors", "Node runtime sensors by their last reported mode (ok, degraded).", []string{"mode"}, nil),
		gaps:    prometheus.NewDesc("palisade_hub_runtime_sensor_gaps", "Node runtime sensors whose last state is a gap in coverage: degraded, events dropped or malformed, findings over the node's rate.", nil, nil),
		dropped: prometheus.NewDesc("palisade_hub_runtime_events_dropped", "Sum over nodes of the sensor records the kernel could not queue (ring buffer full), as last reported.", nil, nil)}
}

func (c *runtimeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.sensors
	ch <- c.gaps
	ch <- c.dropped
}

func (c *runtimeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ss, err := c.st.ListRuntimeSensors(ctx, "")
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.sensors, err)
		return
	}
	modes := map[string]int{"ok": 0, "degraded": 0}
	gaps, dropped := 0, uint64(0)
	for _, s := range ss {
		modes[s.Mode]++
		if s.Gap() != "" {
			gaps++
		}
		dropped += s.Dropped
	}
	for m, n := range modes {
		ch <- prometheus.MustNewConstMetric(c.sensors, prometheus.GaugeValue, float64(n), m)
	}
	ch <- prometheus.MustNewConstMetric(c.gaps, prometheus.GaugeValue, float64(gaps))
	ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.GaugeValue, float64(dropped))
}

type runtimeSensorRow struct {
	store.RuntimeSensor
	Cluster clusterRow
	Gap     string
}

type runtimeFindingRow struct {
	store.RuntimeFinding
	Cluster clusterRow
}

type runtimeData struct {
	Sensors  []runtimeSensorRow
	Findings []runtimeFindingRow
	Cluster  *clusterRow
	Limit    int
	// Dropped is the cluster's runtime findings pruned over its quota.
	Dropped uint64
	// Profiles are the learned workload profiles (at most
	// maxProfilesShown; ProfilesLimited when there are more), with their
	// state now; ProfilesDropped the observations not profiled over the
	// quota.
	Profiles        []runtimeProfileRow
	ProfilesLimited bool
	ProfilesDropped uint64
}

type runtimeProfileRow struct {
	store.RuntimeProfile
	Cluster clusterRow
	State   string
}

const maxProfilesShown = 500

// runtimePage shows the node sensors (a gap in red) and the latest
// runtime findings, of one cluster or all.
func (h *Hub) runtimePage(w http.ResponseWriter, r *http.Request, v viewer) {
	d := runtimeData{Limit: 200}
	cluster := r.URL.Query().Get("cluster")
	ss, err := h.st.ListRuntimeSensors(r.Context(), cluster)
	if err != nil {
		h.pageError(w, r, v, err)
		return
	}
	fs, err := h.st.ListRuntimeFindings(r.Context(), store.RuntimeQuery{ClusterID: cluster, Limit: d.Limit})
	if err != nil {
		h.pageError(w, r, v, err)
		return
	}
	dropped, err := h.st.RuntimeDropped(r.Context())
	if err != nil {
		h.pageError(w, r, v, err)
		return
	}
	ps, err := h.st.ListRuntimeProfiles(r.Context(), cluster)
	if err != nil {
		h.pageError(w, r, v, err)
		return
	}
	if len(ps) > maxProfilesShown {
		ps, d.ProfilesLimited = ps[:maxProfilesShown], true
	}
	profDropped, err := h.st.RuntimeProfilesDropped(r.Context())
	if err != nil {
		h.pageError(w, r, v, err)
		return
	}
	ids := []string{cluster}
	for _, s := range ss {
		ids = append(ids, s.ClusterID)
	}
	for _, f := range fs {
		ids = append(ids, f.ClusterID)
	}
	for _, p := range ps {
		ids = append(ids, p.ClusterID)
	}
	names := h.clusterNames(r, ids...)
	for _, s := range ss {
		d.Sensors = append(d.Sensors, runtimeSensorRow{RuntimeSensor: s, Cluster: names[s.ClusterID], Gap: s.Gap()})
	}
	for _, f := range fs {
		d.Findings = append(d.Findings, runtimeFindingRow{RuntimeFinding: f, Cluster: names[f.ClusterID]})
	}
	for id, n := range dropped {
		if cluster == "" || id == cluster {
			d.Dropped += n
		}
	}
	now := h.cfg.Now()
	for _, p := range ps {
		d.Profiles = append(d.Profiles, runtimeProfileRow{RuntimeProfile: p, Cluster: names[p.ClusterID], State: p.State(now)})
	}
	for id, n := range profDropped {
		if cluster == "" || id == cluster {
			d.ProfilesDropped += n
		}
	}
	if cluster != "" {
		c := names[cluster]
		d.Cluster = &c
	}
	h.render(w, r, http.StatusOK, "runtime", v, page{Title: "Runtime", Nav: "runtime", D: d})
}
