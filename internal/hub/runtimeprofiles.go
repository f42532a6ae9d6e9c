package hub

// Learned workload profiles (issue #21): exported per cluster as a
// profile.Export (what `palisade netpol generate --from-observed` reads),
// and restartable per workload by an admin, with the workload's own
// learning window. Deviations from locked profiles are runtime findings
// (PAL-RT-009, PAL-RT-010) and appear with the others.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/palisade-sec/palisade/internal/hub/store"
	"github.com/palisade-sec/palisade/internal/runtime/profile"
)

// Defaults of the profiles' retention (Config.RuntimeProfileRetention).
const DefaultRuntimeProfileRetention = 30 * 24 * time.Hour

func (h *Hub) routeRuntimeProfiles(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/runtime/profiles", h.user(store.RoleViewer, h.runtimeProfilesAPI))
	mux.Handle("POST /api/v1/runtime/profiles/learn", h.user(store.RoleAdmin, h.relearnProfileAPI))
}

// RuntimeProfilesExport returns a cluster's profiles (the cluster named by
// its ID, or by its name when no ID matches) as an export, each with its
// state at now.
func (h *Hub) RuntimeProfilesExport(ctx context.Context, cluster string) (*profile.Export, error) {
	clusterID := cluster
	if _, err := h.st.GetCluster(ctx, cluster); errors.Is(err, store.ErrNotFound) {
		cs, lerr := h.st.ListClusters(ctx)
		if lerr != nil {
			return nil, lerr
		}
		for _, c := range cs {
			if c.Name == cluster {
				clusterID = c.ID
			}
		}
		if clusterID == cluster {
			return nil, fmt.Errorf("cluster %s: %w", cluster, store.ErrNotFound)
		}
	} else if err != nil {
		return nil, err
	}
	ps, err := h.st.ListRuntimeProfiles(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	now := h.cfg.Now().UTC()
	x := &profile.Export{Kind: profile.ExportKind, Cluster: clusterID, GeneratedAt: now, Profiles: make([]profile.ExportedProfile, 0, len(ps))}
	for _, p := range ps {
		x.Profiles = append(x.Profiles, profile.ExportedProfile{Profile: p.Profile, State: p.State(now)})
	}
	return x, nil
}

func (h *Hub) runtimeProfilesAPI(w http.ResponseWriter, r *http.Request, _ principal) {
	cluster := r.URL.Query().Get("cluster")
	if cluster == "" {
		writeError(w, http.StatusBadRequest, "cluster: required (profiles are exported per cluster)")
		return
	}
	x, err := h.RuntimeProfilesExport(r.Context(), cluster)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no such cluster: "+cluster)
		return
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, x)
}

// RelearnProfileRequest restarts a workload's learning window; Window (a
// Go duration) sets the workload's own window, empty keeps its previous
// one or the hub's default.
type RelearnProfileRequest struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Window    string `json:"window,omitempty"`
}

// maxProfileWindow bounds a per-workload window: a profile learning for a
// year never judges anything.
const maxProfileWindow = 90 * 24 * time.Hour

func (h *Hub) relearnProfileAPI(w http.ResponseWriter, r *http.Request, p principal) {
	var req RelearnProfileRequest
	if !readJSON(w, r, 4<<10, &req) {
		return
	}
	var window time.Duration
	if req.Window != "" {
		d, err := time.ParseDuration(req.Window)
		if err != nil || d <= 0 || d > maxProfileWindow {
			writeError(w, http.StatusBadRequest, "window: want a positive Go duration of at most 2160h")
			return
		}
		window = d
	}
	wl := profile.Workload{Namespace: req.Namespace, Kind: req.Kind, Name: req.Name}
	prof, err := h.st.RelearnRuntimeProfile(r.Context(), req.Cluster, wl, window, h.cfg.Now())
	switch {
	case errors.Is(err, store.ErrQuota):
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	case err != nil:
		h.fail(w, r, err)
		return
	}
	h.log.InfoContext(r.Context(), "runtime profile learning restarted", slog.String("cluster", req.Cluster), slog.String("workload", wl.String()),
		slog.Time("learnUntil", prof.LearnUntil), slog.String("by", p.Name))
	writeJSON(w, http.StatusOK, profile.ExportedProfile{Profile: prof, State: prof.State(h.cfg.Now())})
}

// pruneRuntimeProfiles deletes the profiles of workloads not observed
// within the retention.
func (h *Hub) pruneRuntimeProfiles(ctx context.Context) {
	if h.cfg.RuntimeProfileRetention <= 0 {
		return
	}
	if _, err := h.st.PruneRuntimeProfiles(ctx, h.cfg.RuntimeProfileRetention, pruneMaxDeletes, h.cfg.Now()); err != nil {
		h.log.ErrorContext(ctx, "runtime profile retention", slog.Any("error", err))
	}
}
