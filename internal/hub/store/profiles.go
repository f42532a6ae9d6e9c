package store

// Learned runtime profiles (issue #21): one per cluster and owner
// workload. A workload's first observation starts its learning window
// (IngestLimits.ProfileWindow, or the workload's own override); while it
// runs, observations are folded into the profile; once it has passed, the
// profile is locked and each observation outside it becomes a runtime
// finding (PAL-RT-009, PAL-RT-010) with an ID stable per learning epoch,
// so a deviation seen from many nodes or replayed is stored once.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/runtime/profile"
)

// Defaults of the learned profiles (IngestLimits).
const (
	DefaultProfileWindow      = 24 * time.Hour
	DefaultProfilesPerCluster = 5_000
)

// RuntimeProfile is a stored profile.
type RuntimeProfile struct {
	ClusterID string
	profile.Profile
}

// observations applies a node's observations to its cluster's profiles.
func (a *applier) observations(ctx context.Context, node string, obs []profile.Observation) error {
	lim := a.s.ingestLimits()
	now := time.UnixMilli(a.now).UTC()
	for i := range obs {
		o := &obs[i]
		p, found, err := a.s.runtimeProfile(ctx, a.tx, a.cluster, o.Workload)
		if err != nil {
			return err
		}
		if !found {
			if lim.ProfilesPerCluster > 0 {
				var n int
				if err := a.s.queryRow(ctx, a.tx, `SELECT COUNT(*) FROM runtime_profiles WHERE cluster_id = ?`, a.cluster).Scan(&n); err != nil {
					return fmt.Errorf("runtime profiles: %w", err)
				}
				if n >= lim.ProfilesPerCluster {
					// Over the quota the workload is not profiled: counted
					// on the cluster and shown, never silent.
					if _, err := a.s.exec(ctx, a.tx, `UPDATE clusters SET runtime_profiles_dropped = runtime_profiles_dropped + 1 WHERE id = ?`, a.cluster); err != nil {
						return fmt.Errorf("runtime profiles: %w", err)
					}
					continue
				}
			}
			p = profile.Profile{Workload: o.Workload, LearningSince: now, LearnUntil: now.Add(profileWindow(lim, 0))}
		}
		if p.Locked(now) {
			devs := profile.DeviationFindings(a.cluster, &p, o)
			rows := make([][]any, 0, len(devs))
			for _, d := range devs {
				data, err := json.Marshal(fleetapi.RuntimeFinding{ID: d.ID, Time: now, F: d.F})
				if err != nil {
					return err
				}
				rows = append(rows, []any{a.cluster, d.ID, ms(now), node, d.F.RuleID, int(d.F.Severity), d.F.Object.Namespace, d.F.Object.Name, string(data)})
			}
			if err := a.insertRows(ctx, `INSERT INTO runtime_findings (cluster_id, id, time, node, rule_id, severity, namespace, name, data) VALUES `,
				` ON CONFLICT (cluster_id, id) DO NOTHING`, 9, rows); err != nil {
				return fmt.Errorf("runtime profile of %s: %w", o.Workload, err)
			}
			p.DeviationCount += uint64(len(devs))
			// What the sensor could not keep while the profile is locked
			// was not judged: counted as the profile's overflow.
			p.Overflow += o.Overflow
		} else {
			p.Learn(o)
		}
		p.UpdatedAt = now
		if err := a.s.putRuntimeProfile(ctx, a.tx, a.cluster, &p); err != nil {
			return err
		}
	}
	return nil
}

func profileWindow(lim IngestLimits, override time.Duration) time.Duration {
	switch {
	case override > 0:
		return override
	case lim.ProfileWindow > 0:
		return lim.ProfileWindow
	}
	return DefaultProfileWindow
}

func (s *sqlStore) runtimeProfile(ctx context.Context, q execer, cluster string, w profile.Workload) (profile.Profile, bool, error) {
	var p profile.Profile
	var data string
	err := s.queryRow(ctx, q, `SELECT data FROM runtime_profiles WHERE cluster_id = ? AND workload = ?`, cluster, w.Key()).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return p, false, nil
	}
	if err != nil {
		return p, false, fmt.Errorf("runtime profile of %s: %w", w, err)
	}
	if err := json.Unmarshal([]byte(data), &p); err != nil {
		return p, false, fmt.Errorf("runtime profile of %s: %w", w, err)
	}
	return p, true, nil
}

func (s *sqlStore) putRuntimeProfile(ctx context.Context, q execer, cluster string, p *profile.Profile) error {
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if _, err := s.exec(ctx, q, `INSERT INTO runtime_profiles (cluster_id, workload, learn_until, updated_at, data) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (cluster_id, workload) DO UPDATE SET learn_until = excluded.learn_until, updated_at = excluded.updated_at, data = excluded.data`,
		cluster, p.Workload.Key(), ms(p.LearnUntil), ms(p.UpdatedAt), string(data)); err != nil {
		return fmt.Errorf("runtime profile of %s: %w", p.Workload, err)
	}
	return nil
}

// ListRuntimeProfiles returns a cluster's profiles ("" every cluster's),
// by cluster and workload.
func (s *sqlStore) ListRuntimeProfiles(ctx context.Context, clusterID string) ([]RuntimeProfile, error) {
	q, args := `SELECT cluster_id, data FROM runtime_profiles`, []any{}
	if clusterID != "" {
		q, args = q+` WHERE cluster_id = ?`, append(args, clusterID)
	}
	rows, err := s.query(ctx, s.db, q+` ORDER BY cluster_id, workload`, args...)
	if err != nil {
		return nil, fmt.Errorf("runtime profiles: %w", err)
	}
	defer rows.Close()
	var out []RuntimeProfile
	for rows.Next() {
		var r RuntimeProfile
		var data string
		if err := rows.Scan(&r.ClusterID, &data); err != nil {
			return nil, fmt.Errorf("runtime profiles: %w", err)
		}
		if err := json.Unmarshal([]byte(data), &r.Profile); err != nil {
			return nil, fmt.Errorf("runtime profile of cluster %s: %w", r.ClusterID, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RelearnRuntimeProfile starts a workload's learning window again from
// now, forgetting what it learned: window > 0 is the workload's own
// window (kept for later restarts), 0 the hub's default. A workload not
// profiled yet gets its profile (within the cluster's quota).
func (s *sqlStore) RelearnRuntimeProfile(ctx context.Context, clusterID string, w profile.Workload, window time.Duration, now time.Time) (profile.Profile, error) {
	var p profile.Profile
	if err := (&profile.Observation{Workload: w}).Validate(); err != nil {
		return p, &ValidationError{Field: "workload", Reason: err.Error()}
	}
	lim := s.ingestLimits()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := s.queryRow(ctx, tx, `SELECT COUNT(*) FROM clusters WHERE id = ?`, clusterID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("cluster %s: %w", clusterID, ErrNotFound)
		}
		old, found, err := s.runtimeProfile(ctx, tx, clusterID, w)
		if err != nil {
			return err
		}
		if !found && lim.ProfilesPerCluster > 0 {
			if err := s.queryRow(ctx, tx, `SELECT COUNT(*) FROM runtime_profiles WHERE cluster_id = ?`, clusterID).Scan(&n); err != nil {
				return err
			}
			if n >= lim.ProfilesPerCluster {
				return &QuotaError{Cluster: clusterID, What: "runtime profiles", Have: int64(n) + 1, Limit: int64(lim.ProfilesPerCluster)}
			}
		}
		if window <= 0 {
			window = old.Window
		}
		now = now.UTC()
		p = profile.Profile{Workload: w, LearningSince: now, LearnUntil: now.Add(profileWindow(lim, window)), Window: window, UpdatedAt: now}
		return s.putRuntimeProfile(ctx, tx, clusterID, &p)
	})
	return p, err
}

// PruneRuntimeProfiles deletes the profiles of workloads not observed for
// maxAge (gone, or their nodes' sensors are), at most maxDeletes a call.
func (s *sqlStore) PruneRuntimeProfiles(ctx context.Context, maxAge time.Duration, maxDeletes int64, now time.Time) (int64, error) {
	if maxDeletes <= 0 {
		maxDeletes = 1 << 62
	}
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, `DELETE FROM runtime_profiles WHERE (cluster_id, workload) IN (SELECT cluster_id, workload FROM runtime_profiles WHERE updated_at < ? ORDER BY updated_at LIMIT ?)`,
			ms(now.Add(-maxAge)), maxDeletes)
		if err != nil {
			return fmt.Errorf("runtime profiles older than %s: %w", maxAge, err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}

// RuntimeProfilesDropped returns, per cluster, the observations of
// workloads not profiled over the cluster's quota.
func (s *sqlStore) RuntimeProfilesDropped(ctx context.Context) (map[string]uint64, error) {
	return s.clusterCounts(ctx, "runtime_profiles_dropped", "runtime profiles dropped")
}
