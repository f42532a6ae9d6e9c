package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Per-cluster quotas on the rows agents write, enforced inside the ingest
// transaction: a report that would take its cluster over one is refused
// whole (its savepoint or transaction rolls back) with a *QuotaError, so
// nothing of it is stored. Findings, nodes, images in use, evaluated rules
// and a scan's vulnerabilities are keyed by names the agent chooses; a
// findings delta naming ever new objects grew one cluster's rows without
// end. Admission events and image scans are bounded by the prune passes
// instead (Retention, ImageScanRetention): those drop the oldest, where a
// refused findings report would lose the newest.

// IngestLimits are the per-cluster quotas. Zero or negative fields do not
// limit.
type IngestLimits struct {
	// FindingsPerCluster bounds the findings rows one cluster keeps,
	// suppressed ones included.
	FindingsPerCluster int64
	// NodesPerCluster bounds the nodes of one inventory.
	NodesPerCluster int
	// RulesPerCluster bounds the rules one inventory says it evaluates.
	RulesPerCluster int
	// ImagesPerCluster bounds the images in use of one image set.
	ImagesPerCluster int
	// VulnsPerScan bounds the vulnerabilities of one image scan; with
	// the image-scan quota it bounds image_vulns per cluster.
	VulnsPerScan int
	// ProfilesPerCluster bounds the learned runtime profiles of one
	// cluster; a workload beyond it is not profiled, and counted.
	ProfilesPerCluster int
	// ProfileWindow is the learning window of a new workload profile
	// (zero: DefaultProfileWindow); a workload may have its own
	// (RelearnRuntimeProfile).
	ProfileWindow time.Duration
}

// DefaultIngestLimits: a cluster of 500 pods has about 7,000 findings
// (1,430 per 100 pods, bench/hub/README.md), so 50,000 is seven times
// that (about 80 MB of database); 5,000 nodes is the largest cluster
// Kubernetes supports; an image has at most a few thousand known
// vulnerabilities.
func DefaultIngestLimits() IngestLimits {
	return IngestLimits{FindingsPerCluster: 50_000, NodesPerCluster: 5_000, RulesPerCluster: 10_000, ImagesPerCluster: 20_000, VulnsPerScan: 20_000,
		ProfilesPerCluster: DefaultProfilesPerCluster, ProfileWindow: DefaultProfileWindow}
}

// ErrQuota marks a report refused because it would take its cluster over
// a quota. Every *QuotaError is an ErrQuota.
var ErrQuota = errors.New("over the cluster's quota")

// QuotaError is a report refused over a quota: what, how many the report
// would have made, the limit.
type QuotaError struct {
	Cluster string
	What    string // "findings", "nodes", "rules", "images", "vulnerabilities of one scan"
	Have    int64
	Limit   int64
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("cluster %s: %d %s, over the quota of %d", e.Cluster, e.Have, e.What, e.Limit)
}

// Is makes errors.Is(err, ErrQuota) true for every QuotaError.
func (e *QuotaError) Is(target error) bool { return target == ErrQuota }

// SetIngestLimits replaces the quotas (the store starts with
// DefaultIngestLimits). Safe to call while reports are applied.
func (s *sqlStore) SetIngestLimits(l IngestLimits) { s.limits.Store(&l) }

func (s *sqlStore) ingestLimits() IngestLimits {
	if l := s.limits.Load(); l != nil {
		return *l
	}
	return DefaultIngestLimits()
}

// checkItems refuses a report carrying more than limit items of a kind
// the cluster keeps only the latest report of (nodes, images in use).
func (a *applier) checkItems(what string, n, limit int) error {
	if limit > 0 && n > limit {
		return &QuotaError{Cluster: a.cluster, What: what, Have: int64(n), Limit: int64(limit)}
	}
	return nil
}

// findingsCharge is what a findings report does to its cluster's count
// of findings rows: a full snapshot sets it to its rows (total), which
// also repairs any drift; a delta adds inserted and subtracts deleted.
// done: already charged (before a COPY).
type findingsCharge struct {
	full                     bool
	inserted, deleted, total int
	done                     bool
}

// chargeFindings keeps the cluster's count of findings rows and refuses a
// findings report that would take it over the quota. Called in the
// report's transaction; an applied findings report also clears the
// cluster's quota refusal (RecordQuotaRefusal). On PostgreSQL
// writeFindings does the same in its statement.
func (a *applier) chargeFindings(ctx context.Context, c findingsCharge) error {
	var rows int64
	if c.full {
		rows = int64(c.total)
		if _, err := a.s.exec(ctx, a.tx, chargeFullSQL, rows, a.cluster); err != nil {
			return fmt.Errorf("findings count: %w", err)
		}
	} else if err := a.s.queryRow(ctx, a.tx, chargeDeltaSQL,
		int64(c.inserted-c.deleted), a.cluster).Scan(&rows); err != nil {
		return fmt.Errorf("findings count: %w", err)
	}
	return a.checkFindingsQuota(c, rows)
}

const (
	chargeFullSQL  = `UPDATE clusters SET finding_rows = ?, quota_refused_at = 0 WHERE id = ?`
	chargeDeltaSQL = `UPDATE clusters SET finding_rows = finding_rows + ?, quota_refused_at = 0 WHERE id = ? RETURNING finding_rows`
)

// checkFindingsQuota refuses a report that leaves its cluster with rows
// findings rows, over the quota.
func (a *applier) checkFindingsQuota(c findingsCharge, rows int64) error {
	limit := a.s.ingestLimits().FindingsPerCluster
	if limit > 0 && rows > limit && c.inserted > c.deleted {
		// A delta that only removes rows is always let through, so a
		// cluster over a lowered quota can come back under it.
		return &QuotaError{Cluster: a.cluster, What: "findings", Have: rows, Limit: limit}
	}
	return nil
}

// RecordQuotaRefusal notes on the cluster that a report was refused over
// a quota (reason says which): counted, with the time, until a findings
// report is applied again. It runs in its own transaction, after the
// refused report's rolled back.
func (s *sqlStore) RecordQuotaRefusal(ctx context.Context, clusterID, reason string, now time.Time) error {
	if len(reason) > 200 {
		reason = reason[:200]
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `UPDATE clusters SET quota_refused = quota_refused + 1, quota_refused_at = ?, quota_reason = ? WHERE id = ?`,
			ms(now), reason, clusterID); err != nil {
			return fmt.Errorf("cluster %s: record quota refusal: %w", clusterID, err)
		}
		return nil
	})
}
