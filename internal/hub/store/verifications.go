package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// verificationsMigration creates image_verifications: one row per
// (cluster, digest), the last verification an agent reported for an
// image digest its cluster runs. Like image scans, rows are keyed by a
// digest the agent names, so they are bounded by PruneImageVerifications.
const verificationsMigration = `
CREATE TABLE image_verifications (
	cluster_id TEXT NOT NULL REFERENCES clusters(id),
	digest TEXT NOT NULL,
	ref TEXT NOT NULL,
	state TEXT NOT NULL,
	policy TEXT NOT NULL,
	rule TEXT NOT NULL,
	signers TEXT NOT NULL,
	reason TEXT NOT NULL,
	checked_at BIGINT NOT NULL,
	trusted_root_updated BIGINT NOT NULL,
	PRIMARY KEY (cluster_id, digest)
);
CREATE INDEX image_verifications_state ON image_verifications(state);
`

// signersSep separates the signers of a row: the text of one never holds
// a newline (agents write one line each; the hub refuses others).
const signersSep = "\n"

func (a *applier) imageVerification(ctx context.Context, v *fleetapi.ImageVerification) error {
	signers := make([]string, 0, len(v.Signers))
	for _, s := range v.Signers {
		signers = append(signers, strings.ReplaceAll(s, signersSep, " "))
	}
	_, err := a.s.exec(ctx, a.tx, `INSERT INTO image_verifications (cluster_id, digest, ref, state, policy, rule, signers, reason, checked_at, trusted_root_updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (cluster_id, digest) DO UPDATE SET ref = excluded.ref, state = excluded.state, policy = excluded.policy, rule = excluded.rule,
		signers = excluded.signers, reason = excluded.reason, checked_at = excluded.checked_at, trusted_root_updated = excluded.trusted_root_updated`,
		a.cluster, v.Digest, v.Ref, string(v.State), v.Policy, v.Rule, strings.Join(signers, signersSep), v.Reason, ms(v.CheckedAt), ms(v.TrustedRootUpdated))
	return err
}

// VerificationQuery selects images in use by their verification.
type VerificationQuery struct {
	ClusterID string
	// State is one VerificationState; "" any.
	State fleetapi.VerificationState
	// Missing keeps the images without provenance: not verified, or (with
	// Signer) not verified by a signer whose description contains Signer.
	// Without Missing, Signer keeps the images verified by such a signer.
	Missing bool
	Signer  string
	// Search matches a substring of the reference or digest.
	Search string
	Limit  int
	Offset int
}

// ImageVerificationRow is an image in use with its last verification;
// an image no agent reported a verification for is not-checked.
type ImageVerificationRow struct {
	ClusterID  string   `json:"clusterID"`
	Workloads  int      `json:"workloads"`
	Namespaces []string `json:"namespaces,omitempty"`
	fleetapi.ImageVerification
}

// VerificationSummary counts, per cluster, the images a query matched.
type VerificationSummary struct {
	ClusterID string `json:"clusterID"`
	Images    int    `json:"images"`
}

// verificationWhere is the condition of q over cluster_images ci left
// joined with image_verifications v.
func verificationWhere(q VerificationQuery) (string, []any) {
	const state = `COALESCE(v.state, 'not-checked')`
	var conds []string
	var args []any
	if q.ClusterID != "" {
		conds, args = append(conds, "ci.cluster_id = ?"), append(args, q.ClusterID)
	}
	if q.State != "" {
		conds, args = append(conds, state+" = ?"), append(args, string(q.State))
	}
	verifiedBy := state + ` = 'verified'`
	if q.Signer != "" {
		verifiedBy += ` AND LOWER(v.signers) LIKE ? ESCAPE '\'`
	}
	switch {
	case q.Missing:
		conds = append(conds, "NOT ("+verifiedBy+")")
	case q.Signer != "":
		conds = append(conds, verifiedBy)
	}
	if q.Signer != "" {
		args = append(args, likePattern(q.Signer))
	}
	if q.Search != "" {
		p := likePattern(q.Search)
		conds, args = append(conds, `(LOWER(ci.ref) LIKE ? ESCAPE '\' OR LOWER(ci.digest) LIKE ? ESCAPE '\')`), append(args, p, p)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

const verificationFrom = ` FROM cluster_images ci LEFT JOIN image_verifications v ON v.cluster_id = ci.cluster_id AND v.digest = ci.digest`

// OldestTrustedRoots reads, per cluster, the oldest trusted root among
// the verifications of the images it runs now (a verification of an image
// no longer run does not count: agents re-verify what runs at each
// bundle).
func (s *sqlStore) OldestTrustedRoots(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.query(ctx, s.db, `SELECT ci.cluster_id, MIN(v.trusted_root_updated)`+verificationFrom+` WHERE v.trusted_root_updated > 0 GROUP BY ci.cluster_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var id string
		var oldest int64
		if err := rows.Scan(&id, &oldest); err != nil {
			return nil, err
		}
		out[id] = fromMS(oldest)
	}
	return out, rows.Err()
}

// QueryImageVerifications returns one page of images in use with their
// verification, the number that match, and that number per cluster:
// which clusters run images without provenance from a signer.
func (s *sqlStore) QueryImageVerifications(ctx context.Context, q VerificationQuery) ([]ImageVerificationRow, int, []VerificationSummary, error) {
	where, args := verificationWhere(q)
	rows, err := s.query(ctx, s.db, `SELECT ci.cluster_id, COUNT(*)`+verificationFrom+where+` GROUP BY ci.cluster_id ORDER BY COUNT(*) DESC, ci.cluster_id`, args...)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("count image verifications: %w", err)
	}
	var sums []VerificationSummary
	total := 0
	for rows.Next() {
		var c VerificationSummary
		if err := rows.Scan(&c.ClusterID, &c.Images); err != nil {
			rows.Close()
			return nil, 0, nil, fmt.Errorf("count image verifications: %w", err)
		}
		sums, total = append(sums, c), total+c.Images
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, nil, fmt.Errorf("count image verifications: %w", err)
	}
	limit, offset := pageBounds(q.Limit, q.Offset)
	rows, err = s.query(ctx, s.db, `SELECT ci.cluster_id, ci.ref, ci.digest, ci.workloads, ci.namespaces, COALESCE(v.state, 'not-checked'), COALESCE(v.policy, ''),
		COALESCE(v.rule, ''), COALESCE(v.signers, ''), COALESCE(v.reason, ''), COALESCE(v.checked_at, 0), COALESCE(v.trusted_root_updated, 0)`+
		verificationFrom+where+` ORDER BY ci.ref, ci.cluster_id, ci.digest LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("list image verifications: %w", err)
	}
	defer rows.Close()
	var out []ImageVerificationRow
	for rows.Next() {
		var r ImageVerificationRow
		var ns, state, signers string
		var checked, rootUpdated int64
		if err := rows.Scan(&r.ClusterID, &r.Ref, &r.Digest, &r.Workloads, &ns, &state, &r.Policy, &r.Rule, &signers, &r.Reason, &checked, &rootUpdated); err != nil {
			return nil, 0, nil, fmt.Errorf("list image verifications: %w", err)
		}
		r.Namespaces, r.State, r.CheckedAt, r.TrustedRootUpdated = splitList(ns), fleetapi.VerificationState(state), fromMS(checked), fromMS(rootUpdated)
		if signers != "" {
			r.Signers = strings.Split(signers, signersSep)
		}
		if checked == 0 && r.Reason == "" {
			r.Reason = "no verification reported by the cluster's agent"
		}
		out = append(out, r)
	}
	return out, total, sums, rows.Err()
}

// PruneImageVerifications bounds the verifications agents write as
// PruneImageScans bounds scans: those of digests the cluster no longer
// runs checked more than r.Unused ago, then the oldest beyond
// r.PerCluster.
func (s *sqlStore) PruneImageVerifications(ctx context.Context, r ImageScanRetention, now time.Time) (PrunedScans, error) {
	return s.pruneByDigest(ctx, r, now, digestRows{table: "image_verifications", time: "checked_at", what: "image verification",
		tables: []string{"image_verifications"}})
}
