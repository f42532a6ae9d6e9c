package hub

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/palisade-sec/palisade/internal/hub/store"
)

// Defaults of the admission-event and image-scan quotas and retentions
// (Config).
const (
	DefaultAdmissionEventsPerCluster = 100_000
	DefaultAdmissionEventRetention   = 30 * 24 * time.Hour
	DefaultImageScansPerCluster      = 20_000
	DefaultUnusedImageScanRetention  = 7 * 24 * time.Hour
	// Framework score history: the API's trend reaches back at most 366
	// days; a point is recorded at most once a minute per cluster and
	// framework, so 5,000 points are days of a score that changes every
	// minute and years of one that changes daily.
	FrameworkScoreRetention  = 366 * 24 * time.Hour
	FrameworkScoresPerSeries = 5_000
)

// pruneEvery is how often the hub applies the retention to every cluster;
// pruneMaxDeletes bounds the rows one pass deletes, so a pass never holds
// the database writer long (the next pass continues).
const (
	pruneEvery      = time.Minute
	pruneMaxDeletes = 20_000
)

// enforceQuota brings one cluster back within its admission-event quota
// right after a report added events, so the quota holds between passes of
// pruneLoop. A failure is logged: the report is stored, and the next pass
// retries.
func (h *Hub) enforceQuota(ctx context.Context, clusterID string) {
	if h.cfg.AdmissionEventsPerCluster <= 0 {
		return
	}
	h.pruneRuntime(ctx, clusterID, false)
	r := store.Retention{PerCluster: h.cfg.AdmissionEventsPerCluster, MaxDeletes: pruneMaxDeletes}
	n, err := h.st.PruneAdmissionEvents(ctx, clusterID, r, h.cfg.Now())
	if err != nil {
		h.log.ErrorContext(ctx, "admission event quota", slog.String("cluster", clusterID), slog.Any("error", err))
		return
	}
	if n > 0 {
		h.metrics.admissionPruned.WithLabelValues("quota").Add(float64(n))
		h.log.WarnContext(ctx, "admission events over the cluster's quota dropped", slog.String("cluster", clusterID),
			slog.Int64("dropped", n), slog.Int64("quota", h.cfg.AdmissionEventsPerCluster))
	}
}

// pruneLoop applies the retention and quotas to every cluster until ctx
// ends.
func (h *Hub) pruneLoop(ctx context.Context) {
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		h.prune(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// prune is one pass of pruneLoop: age first, then the quotas.
func (h *Hub) prune(ctx context.Context) {
	h.pruneRuntime(ctx, "", true)
	h.pruneRuntimeProfiles(ctx)
	if h.cfg.AdmissionEventRetention > 0 {
		n, err := h.st.PruneAdmissionEvents(ctx, "", store.Retention{MaxAge: h.cfg.AdmissionEventRetention, MaxDeletes: pruneMaxDeletes}, h.cfg.Now())
		if err != nil {
			h.log.ErrorContext(ctx, "admission event retention", slog.Any("error", err))
		} else if n > 0 {
			h.metrics.admissionPruned.WithLabelValues("age").Add(float64(n))
		}
	}
	if h.cfg.AdmissionEventsPerCluster > 0 {
		h.enforceQuota(ctx, "")
	}
	h.pruneLockouts(ctx)
	if n, err := h.st.PruneFrameworkScores(ctx, FrameworkScoreRetention, FrameworkScoresPerSeries, pruneMaxDeletes, h.cfg.Now()); err != nil {
		h.log.ErrorContext(ctx, "framework score retention", slog.Any("error", err))
	} else if n > 0 {
		h.metrics.scoresPruned.Add(float64(n))
	}
	// Image verifications are keyed by digest like scans, and kept by
	// the same quota and retention.
	r := store.ImageScanRetention{Unused: max(h.cfg.UnusedImageScanRetention, 0), PerCluster: max(h.cfg.ImageScansPerCluster, 0), MaxDeletes: pruneMaxDeletes}
	if r.Unused <= 0 && r.PerCluster <= 0 {
		return
	}
	for _, p := range []struct {
		what    string
		prune   func(context.Context, store.ImageScanRetention, time.Time) (store.PrunedScans, error)
		counter *prometheus.CounterVec
	}{{"image scans", h.st.PruneImageScans, h.metrics.scansPruned}, {"image verifications", h.st.PruneImageVerifications, h.metrics.verificationsPruned}} {
		n, err := p.prune(ctx, r, h.cfg.Now())
		if err != nil {
			h.log.ErrorContext(ctx, p.what+" retention", slog.Any("error", err))
			continue
		}
		p.counter.WithLabelValues("unused").Add(float64(n.Unused))
		p.counter.WithLabelValues("quota").Add(float64(n.Quota))
		if n.Quota > 0 {
			h.log.WarnContext(ctx, p.what+" over a cluster's quota dropped", slog.Int64("dropped", n.Quota), slog.Int64("quota", r.PerCluster))
		}
	}
}
