package hub

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// The provenance view answers "which clusters run images without
// provenance from our builder": every image in use with the Sigstore
// verification its cluster's agent reported against the fleet's
// verification bundle (an image with none reported is not-checked), by
// state and by signer, as the API (GET /api/v1/image-verifications) and
// the dashboard page /provenance.

// verificationQuery reads the filters shared by the API and the page:
// cluster, state (verified, unsigned, failed, not-checked), signer (a
// substring of who verified: a key's name, a workflow identity) and
// missing=true (images without provenance: not verified, or not by that
// signer), q (reference or digest).
func verificationQuery(r *http.Request) (store.VerificationQuery, string) {
	q := r.URL.Query()
	vq := store.VerificationQuery{ClusterID: q.Get("cluster"), Signer: strings.TrimSpace(q.Get("signer")),
		Search: strings.TrimSpace(q.Get("q")), Missing: q.Get("missing") == "true"}
	if s := fleetapi.VerificationState(q.Get("state")); s != "" {
		if !s.Valid() {
			return vq, "state: want verified, unsigned, failed or not-checked"
		}
		vq.State = s
	}
	return vq, ""
}

func (h *Hub) imageVerifications(w http.ResponseWriter, r *http.Request, _ principal) {
	vq, bad := verificationQuery(r)
	if bad != "" {
		writeError(w, http.StatusBadRequest, bad)
		return
	}
	var err error
	if vq.Limit, err = intParam(r, "limit", 200); err != nil || vq.Limit > 5000 {
		writeError(w, http.StatusBadRequest, "limit: want a non-negative integer, at most 5000")
		return
	}
	if vq.Offset, err = intParam(r, "offset", 0); err != nil {
		writeError(w, http.StatusBadRequest, "offset: want a non-negative integer")
		return
	}
	rows, total, sums, err := h.st.QueryImageVerifications(r.Context(), vq)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	if rows == nil {
		rows = []store.ImageVerificationRow{}
	}
	if sums == nil {
		sums = []store.VerificationSummary{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"total": total, "clusters": sums, "images": rows})
}

type provenanceRow struct {
	store.ImageVerificationRow
	Cluster clusterRow
}

type provenanceSummary struct {
	Cluster clusterRow
	Images  int
}

type provenanceData struct {
	Filter   store.VerificationQuery
	States   []fleetapi.VerificationState
	Clusters []provenanceSummary
	Rows     []provenanceRow
	Pager    pager
	Cluster  *clusterRow
	// OldestRoot is the oldest trusted root among the rows shown.
	OldestRoot time.Time
}

func (h *Hub) provenancePage(w http.ResponseWriter, r *http.Request, v viewer) {
	vq, bad := verificationQuery(r)
	if bad != "" {
		h.render(w, r, http.StatusBadRequest, "error", v, page{Title: "Bad request", Error: bad})
		return
	}
	vq.Limit, vq.Offset = pageSize, offsetParam(r)
	rows, total, sums, err := h.st.QueryImageVerifications(r.Context(), vq)
	if err != nil {
		h.pageError(w, r, v, err)
		return
	}
	ids := []string{vq.ClusterID}
	for _, s := range sums {
		ids = append(ids, s.ClusterID)
	}
	names := h.clusterNames(r, ids...)
	d := provenanceData{Filter: vq, Pager: pager{Total: total, Offset: vq.Offset, Limit: pageSize, Path: "/provenance", Query: r.URL.Query()},
		States: []fleetapi.VerificationState{fleetapi.VerificationVerified, fleetapi.VerificationUnsigned, fleetapi.VerificationFailed, fleetapi.VerificationNotChecked}}
	for _, s := range sums {
		d.Clusters = append(d.Clusters, provenanceSummary{Cluster: names[s.ClusterID], Images: s.Images})
	}
	for _, row := range rows {
		d.Rows = append(d.Rows, provenanceRow{ImageVerificationRow: row, Cluster: names[row.ClusterID]})
		if t := row.TrustedRootUpdated; !t.IsZero() && (d.OldestRoot.IsZero() || t.Before(d.OldestRoot)) {
			d.OldestRoot = t
		}
	}
	if vq.ClusterID != "" {
		c := names[vq.ClusterID]
		d.Cluster = &c
	}
	h.render(w, r, http.StatusOK, "provenance", v, page{Title: "Provenance", Nav: "provenance", D: d})
}

// trustedRootCollector reports at each scrape how old the Sigstore trusted
// root is that each cluster's agent verifies its images with (the oldest
// among the images it runs), and the oldest in the fleet: an edge cluster
// verifies offline, so its trust is as fresh as the root its policy
// carries.
type trustedRootCollector struct {
	st             store.Store
	now            func() time.Time
	perCluster, og *prometheus.Desc
}

func newTrustedRootCollector(st store.Store, now func() time.Time) *trustedRootCollector {
	return &trustedRootCollector{st: st, now: now,
		perCluster: prometheus.NewDesc("palisade_hub_trusted_root_age_seconds",
			"Age of the oldest Sigstore trusted root a cluster's agent verified the images it runs with (from the agents' image verifications), by cluster ID.", []string{"cluster"}, nil),
		og: prometheus.NewDesc("palisade_hub_trusted_root_oldest_age_seconds",
			"Age of the oldest Sigstore trusted root any agent verifies with; absent when no agent reported one.", nil, nil)}
}

func (c *trustedRootCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.perCluster
	ch <- c.og
}

func (c *trustedRootCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	roots, err := c.st.OldestTrustedRoots(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.perCluster, err)
		return
	}
	now := c.now()
	oldest := 0.0
	for id, t := range roots {
		age := max(now.Sub(t).Seconds(), 0)
		oldest = max(oldest, age)
		ch <- prometheus.MustNewConstMetric(c.perCluster, prometheus.GaugeValue, age, id)
	}
	if len(roots) > 0 {
		ch <- prometheus.MustNewConstMetric(c.og, prometheus.GaugeValue, oldest)
	}
}
