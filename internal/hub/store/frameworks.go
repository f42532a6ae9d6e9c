package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// ClusterRules is what the counters say of one cluster: the rules its
// agent evaluates and, per rule, the objects failing it now.
type ClusterRules struct {
	ClusterID string
	Cluster   string
	Gen       int64
	Evaluated []string
	Failing   map[string]int
}

// FrameworkScore is one cluster's compliance with one framework at a time
// (catalog.Compliance over the cluster's latest findings). Score is nil
// when no control could be assessed.
type FrameworkScore struct {
	ClusterID     string    `json:"clusterID"`
	Cluster       string    `json:"cluster"`
	Framework     string    `json:"framework"`
	At            time.Time `json:"at"`
	Gen           int64     `json:"gen"`
	Score         *float64  `json:"score"`
	Passed        int       `json:"passed"`
	Failed        int       `json:"failed"`
	NotApplicable int       `json:"notApplicable"`
	Manual        int       `json:"manual"`
}

func (s *sqlStore) ClusterRuleStatus(ctx context.Context) ([]ClusterRules, error) {
	byID := map[string]*ClusterRules{}
	var order []string
	rows, err := s.query(ctx, s.db, `SELECT id, name, gen FROM clusters WHERE revoked_at = 0 ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("cluster rule status: %w", err)
	}
	for rows.Next() {
		c := &ClusterRules{Failing: map[string]int{}}
		if err := rows.Scan(&c.ClusterID, &c.Cluster, &c.Gen); err != nil {
			rows.Close()
			return nil, fmt.Errorf("cluster rule status: %w", err)
		}
		byID[c.ClusterID] = c
		order = append(order, c.ClusterID)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cluster rule status: %w", err)
	}
	for _, q := range []string{`SELECT cluster_id, rule_id, 0 FROM cluster_rules`, `SELECT cluster_id, rule_id, objects FROM cluster_rule_counts WHERE objects > 0`} {
		rows, err := s.query(ctx, s.db, q)
		if err != nil {
			return nil, fmt.Errorf("cluster rule status: %w", err)
		}
		for rows.Next() {
			var id, rule string
			var n int
			if err := rows.Scan(&id, &rule, &n); err != nil {
				rows.Close()
				return nil, fmt.Errorf("cluster rule status: %w", err)
			}
			c := byID[id]
			if c == nil {
				continue
			}
			if n > 0 {
				c.Failing[rule] = n
			} else {
				c.Evaluated = append(c.Evaluated, rule)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("cluster rule status: %w", err)
		}
	}
	out := make([]ClusterRules, 0, len(order))
	for _, id := range order {
		out = append(out, *byID[id])
	}
	return out, nil
}

// permille stores a score exactly as an integer; -1 is "no score".
func permille(s *float64) int {
	if s == nil {
		return -1
	}
	return int(*s*10 + 0.5)
}

func (s *sqlStore) RecordFrameworkScores(ctx context.Context, scores []FrameworkScore) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record framework scores: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	for _, sc := range scores {
		var last, passed, failed int
		var lastAt int64
		err := s.queryRow(ctx, tx, `SELECT score_permille, passed, failed, at FROM framework_scores WHERE cluster_id = ? AND framework = ? ORDER BY at DESC LIMIT 1`,
			sc.ClusterID, sc.Framework).Scan(&last, &passed, &failed, &lastAt)
		if err == nil && last == permille(sc.Score) && passed == sc.Passed && failed == sc.Failed {
			continue // unchanged: the trend keeps only changes
		}
		// Two changes within a millisecond still make two points, in order.
		at := max(sc.At.UnixMilli(), lastAt+1)
		if _, err := s.exec(ctx, tx, `INSERT INTO framework_scores (cluster_id, framework, at, gen, score_permille, passed, failed, not_applicable, manual)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (cluster_id, framework, at) DO NOTHING`,
			sc.ClusterID, sc.Framework, at, sc.Gen, permille(sc.Score), sc.Passed, sc.Failed, sc.NotApplicable, sc.Manual); err != nil {
			return fmt.Errorf("record framework scores: cluster %s: %w", sc.ClusterID, err)
		}
	}
	return tx.Commit()
}

func (s *sqlStore) FrameworkScores(ctx context.Context, since time.Time) ([]FrameworkScore, error) {
	rows, err := s.query(ctx, s.db, `SELECT f.cluster_id, c.name, f.framework, f.at, f.gen, f.score_permille, f.passed, f.failed, f.not_applicable, f.manual
		FROM framework_scores f JOIN clusters c ON c.id = f.cluster_id WHERE f.at >= ? ORDER BY f.at, c.name, f.framework`, since.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("framework scores: %w", err)
	}
	defer rows.Close()
	var out []FrameworkScore
	for rows.Next() {
		var sc FrameworkScore
		var at int64
		var pm int
		if err := rows.Scan(&sc.ClusterID, &sc.Cluster, &sc.Framework, &at, &sc.Gen, &pm, &sc.Passed, &sc.Failed, &sc.NotApplicable, &sc.Manual); err != nil {
			return nil, fmt.Errorf("framework scores: %w", err)
		}
		sc.At = time.UnixMilli(at).UTC()
		if pm >= 0 {
			v := float64(pm) / 10
			sc.Score = &v
		}
		out = append(out, sc)
	}
	return out, rows.Err()
}

// PruneFrameworkScores bounds the score history: points older than maxAge
// go, then each cluster's and framework's oldest beyond perSeries (a
// hostile agent flipping its findings every minute would add a point a
// minute). At most maxDeletes rows go per call; zero arguments do not
// limit. It returns how many went.
func (s *sqlStore) PruneFrameworkScores(ctx context.Context, maxAge time.Duration, perSeries, maxDeletes int64, now time.Time) (int64, error) {
	budget := maxDeletes
	if budget <= 0 {
		budget = 1 << 62
	}
	var deleted int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		deleted = 0
		if maxAge > 0 {
			res, err := s.exec(ctx, tx, `DELETE FROM framework_scores WHERE (cluster_id, framework, at) IN (SELECT cluster_id, framework, at FROM framework_scores WHERE at < ? ORDER BY at LIMIT ?)`,
				ms(now.Add(-maxAge)), budget)
			if err != nil {
				return fmt.Errorf("framework scores older than %s: %w", maxAge, err)
			}
			n, _ := res.RowsAffected()
			deleted += n
		}
		if perSeries <= 0 || deleted >= budget {
			return nil
		}
		type series struct {
			cluster, framework string
			n                  int64
		}
		var over []series
		rows, err := s.query(ctx, tx, `SELECT cluster_id, framework, COUNT(*) FROM framework_scores GROUP BY cluster_id, framework HAVING COUNT(*) > ?`, perSeries)
		if err != nil {
			return fmt.Errorf("framework scores per cluster: %w", err)
		}
		for rows.Next() {
			var o series
			if err := rows.Scan(&o.cluster, &o.framework, &o.n); err != nil {
				rows.Close()
				return fmt.Errorf("framework scores per cluster: %w", err)
			}
			over = append(over, o)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("framework scores per cluster: %w", err)
		}
		for _, o := range over {
			n := min(o.n-perSeries, budget-deleted)
			if n <= 0 {
				break
			}
			res, err := s.exec(ctx, tx, `DELETE FROM framework_scores WHERE cluster_id = ? AND framework = ? AND at IN (SELECT at FROM framework_scores WHERE cluster_id = ? AND framework = ? ORDER BY at LIMIT ?)`,
				o.cluster, o.framework, o.cluster, o.framework, n)
			if err != nil {
				return fmt.Errorf("cluster %s: framework %s scores over the limit: %w", o.cluster, o.framework, err)
			}
			got, _ := res.RowsAffected()
			deleted += got
		}
		return nil
	})
	return deleted, err
}
