package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// likePattern is a case-insensitive substring pattern for LOWER(col) LIKE
// ? ESCAPE '\'.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}

func pageBounds(limit, offset int) (int, int) {
	if limit <= 0 {
		limit = 100
	}
	return limit, max(0, offset)
}

// stateCondition is the SQL condition on clusters.last_seen for a state.
func stateCondition(st fleetapi.ClusterState, c StateCutoffs) (string, []any, error) {
	switch st {
	case "":
		return "", nil, nil
	case fleetapi.StateRevoked:
		return "revoked_at > 0", nil, nil
	case fleetapi.StateNeverSeen:
		return "revoked_at = 0 AND last_seen = 0", nil, nil
	case fleetapi.StateOnline:
		return "revoked_at = 0 AND last_seen > 0 AND last_seen >= ?", []any{ms(c.Stale)}, nil
	case fleetapi.StateStale:
		return "revoked_at = 0 AND last_seen > 0 AND last_seen < ? AND last_seen >= ?", []any{ms(c.Stale), ms(c.Offline)}, nil
	case fleetapi.StateOffline:
		return "revoked_at = 0 AND last_seen > 0 AND last_seen < ?", []any{ms(c.Offline)}, nil
	default:
		return "", nil, Invalid("state", "%q: want online, stale, offline, never-seen or revoked", st)
	}
}

func (s *sqlStore) QueryClusters(ctx context.Context, q ClusterQuery) ([]Cluster, int, error) {
	s.flushSeenForRead(ctx)
	var conds []string
	var args []any
	if q.Search != "" {
		conds, args = append(conds, `LOWER(name) LIKE ? ESCAPE '\'`), append(args, likePattern(q.Search))
	}
	cond, cargs, err := stateCondition(q.State, q.Cutoffs)
	if err != nil {
		return nil, 0, err
	}
	if cond != "" {
		conds, args = append(conds, cond), append(args, cargs...)
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	var total int
	if err := s.queryRow(ctx, s.db, `SELECT COUNT(*) FROM clusters`+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count clusters: %w", err)
	}
	limit, offset := pageBounds(q.Limit, q.Offset)
	rows, err := s.query(ctx, s.db, `SELECT `+clusterCols+` FROM clusters`+where+` ORDER BY name LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list clusters: %w", err)
	}
	var out []Cluster
	ids := []any{}
	for rows.Next() {
		c, err := scanCluster(rows)
		if err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("list clusters: %w", err)
		}
		out = append(out, c)
		ids = append(ids, c.ID)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list clusters: %w", err)
	}
	if len(out) == 0 {
		return out, total, nil
	}
	crows, err := s.query(ctx, s.db, `SELECT cluster_id, severity, n FROM cluster_severity_counts WHERE n <> 0 AND cluster_id IN (`+
		strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")+`)`, ids...)
	if err != nil {
		return nil, 0, fmt.Errorf("count findings: %w", err)
	}
	defer crows.Close()
	idx := map[string]int{}
	for i := range out {
		idx[out[i].ID] = i
	}
	for crows.Next() {
		var id string
		var sev, n int
		if err := crows.Scan(&id, &sev, &n); err != nil {
			return nil, 0, fmt.Errorf("count findings: %w", err)
		}
		if i, ok := idx[id]; ok {
			out[i].Findings[finding.Severity(sev).String()] += n
		}
	}
	return out, total, crows.Err()
}

func (s *sqlStore) FleetSummary(ctx context.Context, c StateCutoffs) (FleetSummary, error) {
	sum := FleetSummary{States: map[fleetapi.ClusterState]int{}, Findings: emptyCounts()}
	s.flushSeenForRead(ctx)
	var never, online, stale, offline, revoked int
	if err := s.queryRow(ctx, s.db, `SELECT COUNT(*),
		COALESCE(SUM(CASE WHEN revoked_at = 0 AND last_seen = 0 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN revoked_at = 0 AND last_seen > 0 AND last_seen >= ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN revoked_at = 0 AND last_seen > 0 AND last_seen < ? AND last_seen >= ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN revoked_at = 0 AND last_seen > 0 AND last_seen < ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN revoked_at > 0 THEN 1 ELSE 0 END), 0)
		FROM clusters`, ms(c.Stale), ms(c.Stale), ms(c.Offline), ms(c.Offline)).Scan(&sum.Clusters, &never, &online, &stale, &offline, &revoked); err != nil {
		return sum, fmt.Errorf("fleet summary: %w", err)
	}
	sum.States[fleetapi.StateNeverSeen], sum.States[fleetapi.StateOnline] = never, online
	sum.States[fleetapi.StateStale], sum.States[fleetapi.StateOffline] = stale, offline
	if revoked > 0 {
		sum.States[fleetapi.StateRevoked] = revoked
	}
	rows, err := s.query(ctx, s.db, `SELECT severity, SUM(n) FROM cluster_severity_counts GROUP BY severity`)
	if err != nil {
		return sum, fmt.Errorf("fleet summary: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var sev, n int
		if err := rows.Scan(&sev, &n); err != nil {
			return sum, fmt.Errorf("fleet summary: %w", err)
		}
		sum.Findings[finding.Severity(sev).String()] += n
	}
	return sum, rows.Err()
}

func (s *sqlStore) QueryImages(ctx context.Context, q ImageQuery) ([]Image, int, error) {
	var conds []string
	var args []any
	if q.ClusterID != "" {
		conds, args = append(conds, "ci.cluster_id = ?"), append(args, q.ClusterID)
	}
	if q.Digest != "" {
		conds, args = append(conds, "ci.digest = ?"), append(args, q.Digest)
	}
	if q.Ref != "" {
		conds, args = append(conds, "ci.ref = ?"), append(args, q.Ref)
	}
	if q.Search != "" {
		p := likePattern(q.Search)
		conds, args = append(conds, `(LOWER(ci.ref) LIKE ? ESCAPE '\' OR LOWER(ci.digest) LIKE ? ESCAPE '\')`), append(args, p, p)
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	var total int
	if err := s.queryRow(ctx, s.db, `SELECT COUNT(*) FROM cluster_images ci`+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count images: %w", err)
	}
	limit, offset := pageBounds(q.Limit, q.Offset)
	rows, err := s.query(ctx, s.db, `SELECT ci.cluster_id, ci.ref, ci.digest, ci.workloads, ci.namespaces, COALESCE(sc.scanned_at, 0), COALESCE(sc.db_stamp, ''), COALESCE(sc.error, '')
		FROM cluster_images ci LEFT JOIN image_scans sc ON sc.cluster_id = ci.cluster_id AND sc.digest = ci.digest`+where+
		` ORDER BY ci.ref, ci.cluster_id, ci.digest LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list images: %w", err)
	}
	var out []Image
	digests := map[string]bool{}
	for rows.Next() {
		var im Image
		var ns string
		var scanned int64
		if err := rows.Scan(&im.ClusterID, &im.Ref, &im.Digest, &im.Workloads, &ns, &scanned, &im.DBStamp, &im.ScanError); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("list images: %w", err)
		}
		im.Namespaces, im.ScannedAt, im.Vulnerabilities = splitList(ns), fromMS(scanned), emptyCounts()
		out = append(out, im)
		if im.Digest != "" {
			digests[im.Digest] = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list images: %w", err)
	}
	if len(digests) == 0 {
		return out, total, nil
	}
	dargs := make([]any, 0, len(digests))
	for d := range digests {
		dargs = append(dargs, d)
	}
	crows, err := s.query(ctx, s.db, `SELECT cluster_id, digest, severity, COUNT(*) FROM image_vulns WHERE digest IN (`+
		strings.TrimSuffix(strings.Repeat("?, ", len(dargs)), ", ")+`) GROUP BY cluster_id, digest, severity`, dargs...)
	if err != nil {
		return nil, 0, fmt.Errorf("count image vulnerabilities: %w", err)
	}
	defer crows.Close()
	counts := map[[2]string]map[string]int{}
	for crows.Next() {
		var c, d string
		var sev, n int
		if err := crows.Scan(&c, &d, &sev, &n); err != nil {
			return nil, 0, err
		}
		k := [2]string{c, d}
		if counts[k] == nil {
			counts[k] = map[string]int{}
		}
		counts[k][finding.Severity(sev).String()] += n
	}
	for i := range out {
		for sev, n := range counts[[2]string{out[i].ClusterID, out[i].Digest}] {
			out[i].Vulnerabilities[sev] = n
		}
	}
	return out, total, crows.Err()
}
