package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// PruneAdmissionEvents: see Store.
func (s *sqlStore) PruneAdmissionEvents(ctx context.Context, clusterID string, r Retention, now time.Time) (int64, error) {
	return s.pruneAppended(ctx, appendedAdmission, clusterID, r, now)
}

// PruneRuntimeFindings: see Store.
func (s *sqlStore) PruneRuntimeFindings(ctx context.Context, clusterID string, r Retention, now time.Time) (int64, error) {
	return s.pruneAppended(ctx, appendedRuntime, clusterID, r, now)
}

// appendedTable is a table agents append to, keyed (cluster_id, id) with
// a time column, and the clusters column counting its rows dropped over
// the quota. Constants only: the names are spliced into SQL.
type appendedTable struct{ table, droppedColumn, what string }

var (
	appendedAdmission = appendedTable{"admission_events", "admission_dropped", "admission events"}
	appendedRuntime   = appendedTable{"runtime_findings", "runtime_dropped", "runtime findings"}
)

// pruneAppended applies r to t: age first (retention, not counted as
// dropped), then the quota (counted on the cluster), in one transaction
// bounded by r.MaxDeletes rows.
func (s *sqlStore) pruneAppended(ctx context.Context, t appendedTable, clusterID string, r Retention, now time.Time) (int64, error) {
	budget := r.MaxDeletes
	if budget <= 0 {
		budget = 1 << 62
	}
	var deleted int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		deleted = 0
		scope, args := "", []any{}
		if clusterID != "" {
			scope, args = " AND cluster_id = ?", []any{clusterID}
		}
		if r.MaxAge > 0 {
			res, err := s.exec(ctx, tx, `DELETE FROM `+t.table+` WHERE (cluster_id, id) IN (SELECT cluster_id, id FROM `+t.table+` WHERE time < ?`+scope+` ORDER BY time LIMIT ?)`,
				append(append([]any{ms(now.Add(-r.MaxAge))}, args...), budget)...)
			if err != nil {
				return fmt.Errorf("%s older than %s: %w", t.what, r.MaxAge, err)
			}
			n, _ := res.RowsAffected()
			deleted += n
		}
		if r.PerCluster <= 0 || deleted >= budget {
			return nil
		}
		type over struct {
			cluster string
			n       int64
		}
		var overs []over
		rows, err := s.query(ctx, tx, `SELECT cluster_id, COUNT(*) FROM `+t.table+` WHERE 1 = 1`+scope+` GROUP BY cluster_id HAVING COUNT(*) > ?`,
			append(args, r.PerCluster)...)
		if err != nil {
			return fmt.Errorf("%s per cluster: %w", t.what, err)
		}
		for rows.Next() {
			var o over
			if err := rows.Scan(&o.cluster, &o.n); err != nil {
				rows.Close()
				return fmt.Errorf("%s per cluster: %w", t.what, err)
			}
			o.n -= r.PerCluster
			overs = append(overs, o)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("%s per cluster: %w", t.what, err)
		}
		for _, o := range overs {
			n := min(o.n, budget-deleted)
			if n <= 0 {
				break
			}
			res, err := s.exec(ctx, tx, `DELETE FROM `+t.table+` WHERE cluster_id = ? AND id IN (SELECT id FROM `+t.table+` WHERE cluster_id = ? ORDER BY time, id LIMIT ?)`,
				o.cluster, o.cluster, n)
			if err != nil {
				return fmt.Errorf("cluster %s: %s over quota: %w", o.cluster, t.what, err)
			}
			got, _ := res.RowsAffected()
			if _, err := s.exec(ctx, tx, `UPDATE clusters SET `+t.droppedColumn+` = `+t.droppedColumn+` + ? WHERE id = ?`, got, o.cluster); err != nil {
				return fmt.Errorf("cluster %s: %s dropped: %w", o.cluster, t.what, err)
			}
			deleted += got
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return deleted, nil
}
