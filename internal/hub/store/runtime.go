package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// RuntimeSensor is a node's runtime sensor as its last report left it.
type RuntimeSensor struct {
	ClusterID string
	Node      string
	fleetapi.RuntimeSensorState
}

// RuntimeQuery filters runtime findings; Limit 0 means 1000.
type RuntimeQuery struct {
	ClusterID string
	RuleID    string
	Since     time.Time
	Limit     int
}

// RuntimeFinding is a stored runtime detection.
type RuntimeFinding struct {
	ClusterID string
	Node      string
	fleetapi.RuntimeFinding
}

// runtime stores a node's report: the sensor state when newer than the
// stored one (reports of two Events may arrive out of order), findings
// appended once each (replays of the same finding ID are ignored).
func (a *applier) runtime(ctx context.Context, r *fleetapi.RuntimeReport) error {
	if s := r.Sensor; s != nil {
		data, err := json.Marshal(s)
		if err != nil {
			return err
		}
		if _, err := a.s.exec(ctx, a.tx, `INSERT INTO runtime_sensors (cluster_id, node, mode, updated_at, data) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (cluster_id, node) DO UPDATE SET mode = excluded.mode, updated_at = excluded.updated_at, data = excluded.data
WHERE runtime_sensors.updated_at <= excluded.updated_at`, a.cluster, r.Node, s.Mode, ms(s.UpdatedAt), string(data)); err != nil {
			return fmt.Errorf("runtime sensor of node %s: %w", r.Node, err)
		}
	}
	if len(r.Observations) > 0 {
		if err := a.observations(ctx, r.Node, r.Observations); err != nil {
			return err
		}
	}
	rows := make([][]any, 0, len(r.Findings))
	seen := map[string]bool{}
	for _, f := range r.Findings {
		if seen[f.ID] {
			continue
		}
		seen[f.ID] = true
		data, err := json.Marshal(f)
		if err != nil {
			return err
		}
		rows = append(rows, []any{a.cluster, f.ID, ms(f.Time), r.Node, f.F.RuleID, int(f.F.Severity), f.F.Object.Namespace, f.F.Object.Name, string(data)})
	}
	return a.insertRows(ctx, `INSERT INTO runtime_findings (cluster_id, id, time, node, rule_id, severity, namespace, name, data) VALUES `,
		` ON CONFLICT (cluster_id, id) DO NOTHING`, 9, rows)
}

func (s *sqlStore) ListRuntimeSensors(ctx context.Context, clusterID string) ([]RuntimeSensor, error) {
	q, args := `SELECT cluster_id, node, data FROM runtime_sensors`, []any{}
	if clusterID != "" {
		q, args = q+` WHERE cluster_id = ?`, append(args, clusterID)
	}
	rows, err := s.query(ctx, s.db, q+` ORDER BY cluster_id, node`, args...)
	if err != nil {
		return nil, fmt.Errorf("runtime sensors: %w", err)
	}
	defer rows.Close()
	var out []RuntimeSensor
	for rows.Next() {
		var r RuntimeSensor
		var data string
		if err := rows.Scan(&r.ClusterID, &r.Node, &data); err != nil {
			return nil, fmt.Errorf("runtime sensors: %w", err)
		}
		if err := json.Unmarshal([]byte(data), &r.RuntimeSensorState); err != nil {
			return nil, fmt.Errorf("runtime sensor %s/%s: %w", r.ClusterID, r.Node, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *sqlStore) ListRuntimeFindings(ctx context.Context, q RuntimeQuery) ([]RuntimeFinding, error) {
	where, args := ` WHERE time >= ?`, []any{ms(q.Since)}
	if q.ClusterID != "" {
		where, args = where+` AND cluster_id = ?`, append(args, q.ClusterID)
	}
	if q.RuleID != "" {
		where, args = where+` AND rule_id = ?`, append(args, q.RuleID)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.query(ctx, s.db, `SELECT cluster_id, node, data FROM runtime_findings`+where+` ORDER BY time DESC, id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("runtime findings: %w", err)
	}
	defer rows.Close()
	var out []RuntimeFinding
	for rows.Next() {
		var r RuntimeFinding
		var data string
		if err := rows.Scan(&r.ClusterID, &r.Node, &data); err != nil {
			return nil, fmt.Errorf("runtime findings: %w", err)
		}
		if err := json.Unmarshal([]byte(data), &r.RuntimeFinding); err != nil {
			return nil, fmt.Errorf("runtime finding of cluster %s: %w", r.ClusterID, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RuntimeDropped returns, per cluster, the runtime findings the hub
// dropped over the quota.
func (s *sqlStore) RuntimeDropped(ctx context.Context) (map[string]uint64, error) {
	return s.clusterCounts(ctx, "runtime_dropped", "runtime findings dropped")
}

// clusterCounts returns the clusters' non-zero values of one counter
// column of the clusters table (a constant of this package, never input).
func (s *sqlStore) clusterCounts(ctx context.Context, column, what string) (map[string]uint64, error) {
	rows, err := s.query(ctx, s.db, `SELECT id, `+column+` FROM clusters WHERE `+column+` > 0`)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var id string
		var n sql.NullInt64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = uint64(n.Int64)
	}
	return out, rows.Err()
}
