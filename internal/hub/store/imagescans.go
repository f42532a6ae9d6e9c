package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// ImageScanRetention bounds the image scans agents write: one row per
// (cluster, digest) in image_scans, with that scan's vulnerabilities and
// aliases. Unlike findings, nodes and images in use, which every full
// report replaces, scans are keyed by a digest the agent names, so an
// agent that names ever new digests would grow them without end. Zero
// fields do not limit.
type ImageScanRetention struct {
	// Unused deletes the scans of images the cluster no longer runs (not
	// in its images in use) scanned more than this long ago: a scan may
	// arrive before the report of the image it belongs to.
	Unused time.Duration
	// PerCluster is the most scans a cluster keeps; beyond it the oldest
	// go first.
	PerCluster int64
	// MaxDeletes bounds the scans one call deletes.
	MaxDeletes int64
}

// PrunedScans counts the scans PruneImageScans deleted, by reason.
type PrunedScans struct {
	Unused, Quota int64
}

// PruneImageScans applies r to every cluster's image scans and returns
// what it deleted; a scan goes with its vulnerabilities and aliases, in
// one transaction.
func (s *sqlStore) PruneImageScans(ctx context.Context, r ImageScanRetention, now time.Time) (PrunedScans, error) {
	return s.pruneByDigest(ctx, r, now, digestRows{table: "image_scans", time: "scanned_at", what: "image scan",
		tables: []string{"image_vulns", "image_vuln_aliases", "image_scans"}})
}

// digestRows are rows an agent writes per (cluster, digest): the table
// keyed so, the column of their time, and every table whose rows of a
// (cluster, digest) go with them.
type digestRows struct {
	table, time, what string
	tables            []string
}

// pruneByDigest applies r to the rows of t: those of digests the cluster
// no longer runs older than r.Unused, then the oldest beyond r.PerCluster
// (those of digests not run first).
func (s *sqlStore) pruneByDigest(ctx context.Context, r ImageScanRetention, now time.Time, t digestRows) (PrunedScans, error) {
	budget := r.MaxDeletes
	if budget <= 0 {
		budget = 1 << 62
	}
	var out PrunedScans
	err := s.tx(ctx, func(tx *sql.Tx) error {
		out = PrunedScans{}
		type scan struct{ cluster, digest string }
		collect := func(q string, args ...any) ([]scan, error) {
			rows, err := s.query(ctx, tx, q, args...)
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			var list []scan
			for rows.Next() {
				var sc scan
				if err := rows.Scan(&sc.cluster, &sc.digest); err != nil {
					return nil, err
				}
				list = append(list, sc)
			}
			return list, rows.Err()
		}
		del := func(list []scan, n *int64) error {
			for _, sc := range list {
				if out.Unused+out.Quota >= budget {
					return nil
				}
				for _, tbl := range t.tables {
					if _, err := s.exec(ctx, tx, `DELETE FROM `+tbl+` WHERE cluster_id = ? AND digest = ?`, sc.cluster, sc.digest); err != nil {
						return fmt.Errorf("cluster %s: %s %s: %w", sc.cluster, t.what, sc.digest, err)
					}
				}
				*n++
			}
			return nil
		}
		const unused = `NOT EXISTS (SELECT 1 FROM cluster_images i WHERE i.cluster_id = s.cluster_id AND i.digest = s.digest)`
		if r.Unused > 0 {
			list, err := collect(`SELECT cluster_id, digest FROM `+t.table+` s WHERE `+t.time+` < ? AND `+unused+` ORDER BY `+t.time+` LIMIT ?`,
				ms(now.Add(-r.Unused)), budget)
			if err != nil {
				return fmt.Errorf("unused %ss: %w", t.what, err)
			}
			if err := del(list, &out.Unused); err != nil {
				return err
			}
		}
		if r.PerCluster <= 0 {
			return nil
		}
		type count struct {
			cluster string
			n       int64
		}
		var counts []count
		rows, err := s.query(ctx, tx, `SELECT cluster_id, COUNT(*) FROM `+t.table+` GROUP BY cluster_id HAVING COUNT(*) > ?`, r.PerCluster)
		if err != nil {
			return fmt.Errorf("%ss per cluster: %w", t.what, err)
		}
		for rows.Next() {
			var c count
			if err := rows.Scan(&c.cluster, &c.n); err != nil {
				rows.Close()
				return fmt.Errorf("%ss per cluster: %w", t.what, err)
			}
			counts = append(counts, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("%ss per cluster: %w", t.what, err)
		}
		for _, c := range counts {
			// Scans of images the cluster does not run go first, then the
			// oldest.
			list, err := collect(`SELECT cluster_id, digest FROM `+t.table+` s WHERE cluster_id = ?
				ORDER BY CASE WHEN `+unused+` THEN 0 ELSE 1 END, `+t.time+`, digest LIMIT ?`,
				c.cluster, min(c.n-r.PerCluster, budget))
			if err != nil {
				return fmt.Errorf("cluster %s: %ss over quota: %w", c.cluster, t.what, err)
			}
			if err := del(list, &out.Quota); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}
