package hub

import (
	"context"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"github.com/palisade-sec/palisade/internal/catalog"
	"github.com/palisade-sec/palisade/internal/catalog/frameworks"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// The hub computes each cluster's framework scores from what its agent
// reports (the rules it evaluates and the objects failing each, kept in
// the counter tables at ingest) rather than trusting a score the agent
// sends: the agent links no catalogue, and a score is then always
// computed by one version of the mappings for the whole fleet. Node,
// audit-log and netpol checks are not reported by agents, so controls
// only they assess are not applicable on the hub.

// hubFrameworks are the frameworks the hub scores: those of workload,
// RBAC and cluster checks (edge and the node-only CIS sections are
// reported as not applicable where no agent check assesses them).
var hubFrameworks = []string{"cis", "nsa", "mitre", "pss-baseline", "pss-restricted", "edge"}

// frameworkEvery is how often the hub records scores that changed.
const frameworkEvery = time.Minute

// frameworkLoop records changed framework scores until ctx ends.
func (h *Hub) frameworkLoop(ctx context.Context) {
	t := time.NewTicker(frameworkEvery)
	defer t.Stop()
	for {
		if _, err := h.recordFrameworkScores(ctx); err != nil && ctx.Err() == nil {
			h.log.ErrorContext(ctx, "framework scores", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// recordFrameworkScores computes every cluster's current scores and keeps
// those that changed; it returns the current scores.
func (h *Hub) recordFrameworkScores(ctx context.Context) ([]store.FrameworkScore, error) {
	cat, err := catalog.Load()
	if err != nil {
		return nil, err
	}
	clusters, err := h.st.ClusterRuleStatus(ctx)
	if err != nil {
		return nil, err
	}
	now := h.cfg.Now().UTC()
	var out []store.FrameworkScore
	for _, c := range clusters {
		if len(c.Evaluated) == 0 {
			continue // no report yet: nothing to score, never a clean score
		}
		run := catalog.Run{Command: "the agent", Scope: frameworks.ScopeCluster,
			Analysers: []string{catalog.AnalyserWorkload, catalog.AnalyserRBAC, catalog.AnalyserCluster},
			Evaluated: map[string]bool{}}
		for _, id := range c.Evaluated {
			run.Evaluated[id] = true
		}
		var findings []finding.Finding
		for id := range c.Failing {
			findings = append(findings, finding.Finding{RuleID: id})
		}
		for _, name := range hubFrameworks {
			f, err := frameworks.Get(name)
			if err != nil {
				return nil, err
			}
			comp := cat.Compliance(f, run, findings)
			out = append(out, store.FrameworkScore{ClusterID: c.ClusterID, Cluster: c.Cluster, Framework: name, At: now, Gen: c.Gen,
				Score: comp.Score, Passed: comp.Passed, Failed: comp.Failed, NotApplicable: comp.NotApplicable, Manual: comp.Manual})
		}
	}
	if err := h.st.RecordFrameworkScores(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// FleetFramework is the fleet's compliance with one framework: every
// cluster's current score, the fleet score (passed controls over assessed
// controls, summed over clusters) and the trend of the fleet score.
type FleetFramework struct {
	Framework string                 `json:"framework"`
	Title     string                 `json:"title"`
	Score     *float64               `json:"score"`
	Clusters  []store.FrameworkScore `json:"clusters"`
	Trend     []TrendPoint           `json:"trend"`
}

// TrendPoint is the fleet score after a change of any cluster's score.
type TrendPoint struct {
	At    time.Time `json:"at"`
	Score *float64  `json:"score"`
}

// fleetFrameworks computes current scores (recording changes) and the
// trend over the last days.
func (h *Hub) fleetFrameworks(ctx context.Context, days int) ([]FleetFramework, error) {
	current, err := h.recordFrameworkScores(ctx)
	if err != nil {
		return nil, err
	}
	history, err := h.st.FrameworkScores(ctx, h.cfg.Now().Add(-time.Duration(days)*24*time.Hour))
	if err != nil {
		return nil, err
	}
	var out []FleetFramework
	for _, name := range hubFrameworks {
		f, _ := frameworks.Get(name)
		ff := FleetFramework{Framework: name, Title: f.Title, Clusters: []store.FrameworkScore{}, Trend: []TrendPoint{}}
		for _, sc := range current {
			if sc.Framework == name {
				ff.Clusters = append(ff.Clusters, sc)
			}
		}
		ff.Score = fleetScore(ff.Clusters)
		// Replay the history: the fleet score after each recorded change.
		latest := map[string]store.FrameworkScore{}
		for _, sc := range history {
			if sc.Framework != name {
				continue
			}
			latest[sc.ClusterID] = sc
			ff.Trend = append(ff.Trend, TrendPoint{At: sc.At, Score: fleetScore(values(latest))})
		}
		out = append(out, ff)
	}
	return out, nil
}

// fleetScore is 100 × Σ passed / Σ (passed + failed) over clusters.
func fleetScore(scores []store.FrameworkScore) *float64 {
	var p, n int
	for _, s := range scores {
		p += s.Passed
		n += s.Passed + s.Failed
	}
	if n == 0 {
		return nil
	}
	v := float64(int(1000*float64(p)/float64(n)+0.5)) / 10
	return &v
}

func values(m map[string]store.FrameworkScore) []store.FrameworkScore {
	out := make([]store.FrameworkScore, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ClusterID < out[j].ClusterID })
	return out
}

// frameworksAPI is GET /api/v1/frameworks[?days=N]: the fleet's
// compliance per framework with each cluster's score and the trend.
func (h *Hub) frameworksAPI(w http.ResponseWriter, r *http.Request, _ principal) {
	days, err := intParam(r, "days", 30)
	if err != nil || days < 1 || days > 366 {
		writeError(w, http.StatusBadRequest, "days: want an integer from 1 to 366")
		return
	}
	ffs, err := h.fleetFrameworks(r.Context(), days)
	writeList(h, w, r, "frameworks", ffs, err)
}

// frameworksPage shows the fleet's compliance per framework with the trend.
func (h *Hub) frameworksPage(w http.ResponseWriter, r *http.Request, v viewer) {
	ffs, err := h.fleetFrameworks(r.Context(), 30)
	if err != nil {
		h.pageError(w, r, v, err)
		return
	}
	h.render(w, r, http.StatusOK, "frameworks", v, page{Title: "Frameworks", Nav: "frameworks", D: ffs})
}
