package store

import (
	"context"
	"fmt"
	"sort"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// Object digests (migration 16). A full snapshot replaces all of a
// cluster's findings rows, and most of them are unchanged: reading back
// the cluster's ~7,000 rows and diffing them was a third of a 500-pod
// snapshot's hub CPU on SQLite and most of what PostgreSQL spent on it
// (issue #17). object_digests keeps, per reported object with findings
// rows, a digest of those rows (objectDigestOf) and the oldest last_seen
// among them; a snapshot reads the digests, and reads back and diffs only
// the objects whose digest differs, whose rows are due a last_seen
// refresh, or that it no longer has. The stored rows are exactly those the
// whole-cluster diff leaves (TestObjectDigestsStoreTheSame).
//
// The contract that makes skipping an object safe: while a cluster has
// the completeness row (object key "", no object's key, since ObjectKey
// always holds two slashes), its object_digests rows are exactly its
// objects that have findings rows, each with the digest of those rows and
// their oldest last_seen. Every write of findings rows keeps it (only
// findings reports write them, all through applier.findings): a delta
// rewrites the digests of the objects it replaces; a snapshot that read
// the whole cluster rewrites them all and writes the completeness row. A
// cluster without the row (every cluster after the migration, until its
// next snapshot) has its snapshot diffed whole, as before.

// completeDigests is the object key of the completeness row.
const completeDigests = ""

// objectDigestOf is the digest of an object's findings rows: the first 16
// bytes of the SHA-256 of its findings' data hashes, sorted, in hex. The
// data hash determines the row (every column but the object key, the
// generation and the times is read from the finding's JSON, and the
// finding key from the same fields), and one row per finding key, so
// equal digests are equal rows. Stored: its value must never change.
func objectDigestOf(ws []*wantedFinding) string {
	var small [32]fleetapi.DataSum
	hs := small[:0]
	if len(ws) > len(small) {
		hs = make([]fleetapi.DataSum, 0, len(ws))
	}
	for _, w := range ws {
		hs = append(hs, fleetapi.DataSum(w.dsum))
	}
	return fleetapi.ObjectDigestOf(hs)
}

// objectDigest is one object_digests row.
type objectDigest struct {
	okey, digest string
	// seen is the oldest last_seen of the object's findings rows.
	seen int64
}

// digestPlan is which of a report's objects the diff reads, and what it
// then writes to object_digests.
type digestPlan struct {
	// all: a snapshot diffed against the cluster's rows read whole (no
	// completeness row, or most objects to read anyway).
	all bool
	// scope, for a snapshot not read whole: the objects read back and
	// diffed (changed, due a refresh, or gone), sorted; wanted: the
	// report's findings of those objects.
	scope  []string
	wanted []*wantedFinding
	// stored, for a snapshot: the cluster's rows before it (read back,
	// or the digest cache's).
	stored map[string]objectDigest
}

// planDigests reads the cluster's object digests for a snapshot and picks
// the objects to diff; a delta's are its scope, without a read.
func (a *applier) planDigests(ctx context.Context, p *preparedFindings) (*digestPlan, error) {
	if !p.full {
		return &digestPlan{}, nil
	}
	stored := a.digests
	if !a.digestsKnown {
		var err error
		if stored, err = a.readDigests(ctx); err != nil {
			return nil, err
		}
		a.s.digestReads.Add(1)
	}
	if _, ok := stored[completeDigests]; !ok {
		return &digestPlan{all: true, stored: stored}, nil
	}
	refresh := lastSeenRefresh.Milliseconds()
	plan := &digestPlan{stored: stored}
	for okey, po := range p.objects {
		d, ok := stored[okey]
		if !ok || d.digest != po.digest || a.now-d.seen >= refresh {
			// Changed, new or due the refresh: an object sent
			// with a digest is prepared now (and its own digest
			// computed), the others were before.
			if err := p.materialize(po); err != nil {
				return nil, err
			}
			plan.scope = append(plan.scope, okey)
			plan.wanted = append(plan.wanted, po.findings...)
		}
	}
	for okey := range stored {
		if okey != completeDigests && p.objects[okey] == nil {
			plan.scope = append(plan.scope, okey) // gone: its rows are deleted
		}
	}
	if 2*len(plan.scope) > max(len(p.objects), len(stored)) {
		// Reading most objects one list at a time costs more than
		// reading the cluster.
		return &digestPlan{all: true, stored: stored}, nil
	}
	sort.Strings(plan.scope)
	return plan, nil
}

// digestWrites is what a findings report changes in object_digests: clear
// (a snapshot read whole: the cluster's digests are replaced), the rows
// to upsert and the objects whose rows to delete.
type digestWrites struct {
	clear  bool
	upsert []objectDigest
	del    []string
}

// writes are the digest changes once the diff has set each wanted
// finding's seen: the digests of the objects whose rows the report
// replaced, from the report.
func (plan *digestPlan) writes(p *preparedFindings) digestWrites {
	var scope []string
	var dw digestWrites
	switch {
	case p.full && plan.all:
		dw.clear = true
		scope = make([]string, 0, len(p.objects))
		for okey := range p.objects {
			scope = append(scope, okey)
		}
		sort.Strings(scope)
	case p.full:
		scope = plan.scope
	default:
		scope = p.scope
	}
	dw.upsert = make([]objectDigest, 0, len(scope)+1)
	for _, okey := range scope {
		po := p.objects[okey]
		if po == nil {
			dw.del = append(dw.del, okey)
			continue
		}
		d := objectDigest{okey: okey, digest: po.digest, seen: po.findings[0].seen}
		for _, w := range po.findings[1:] {
			d.seen = min(d.seen, w.seen)
		}
		dw.upsert = append(dw.upsert, d)
	}
	if dw.clear {
		dw.upsert = append(dw.upsert, objectDigest{okey: completeDigests, digest: "complete"})
	}
	return dw
}

// afterDigests sets a.digests to the cluster's rows after the report's
// writes dw (digestcache.go): known after a snapshot that knew or read
// them before, or replaced them all. A delta forgets them: keeping them
// would copy the cluster's rows (about 500) per delta for the rare
// snapshot after it, which reads them back instead.
func (a *applier) afterDigests(full bool, plan *digestPlan, dw digestWrites) {
	if a.s.noDigests {
		return
	}
	if !full {
		a.digests, a.digestsKnown = nil, false
		return
	}
	base := a.digests
	if !a.digestsKnown {
		base = plan.stored // read back by a snapshot; nil for a delta
	}
	a.digests = digestsAfter(base, dw)
	a.digestsKnown = a.digests != nil
}

// readDigests reads the cluster's object_digests rows by object key.
func (a *applier) readDigests(ctx context.Context) (map[string]objectDigest, error) {
	rows, err := a.s.query(ctx, a.tx, digestsReadSQL, a.cluster)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]objectDigest{}
	for rows.Next() {
		var d objectDigest
		if err := rows.Scan(&d.okey, &d.digest, &d.seen); err != nil {
			return nil, err
		}
		out[d.okey] = d
	}
	return out, rows.Err()
}

// writeDigests applies dw (SQLite; PostgreSQL writes them in
// writeFindings).
func (a *applier) writeDigests(ctx context.Context, dw digestWrites) error {
	if dw.clear {
		if _, err := a.s.exec(ctx, a.tx, digestsClearSQL, a.cluster); err != nil {
			return err
		}
	}
	if err := a.s.chunks(digestsDeleteList, 1, len(dw.del), func(text string, start, end int) error {
		args := make([]any, 0, end-start+1)
		args = append(args, a.cluster)
		for _, k := range dw.del[start:end] {
			args = append(args, k)
		}
		_, err := a.s.exec(ctx, a.tx, text, args...)
		return err
	}); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	rows := make([][]any, len(dw.upsert))
	for i, d := range dw.upsert {
		rows[i] = []any{a.cluster, d.okey, d.digest, d.seen}
	}
	return a.insertRows(ctx, digestsUpsertList.prefix, digestsUpsertList.suffix, digestsUpsertList.width, rows)
}

// columns are dw's upserts as columns and its deletions, for
// writeFindingsSQL.
func (dw digestWrites) columns() (okey, digest []string, seen []int64, del []string) {
	okey, digest, seen = make([]string, len(dw.upsert)), make([]string, len(dw.upsert)), make([]int64, len(dw.upsert))
	for i, d := range dw.upsert {
		okey[i], digest[i], seen[i] = d.okey, d.digest, d.seen
	}
	del = make([]string, len(dw.del)) // never nil: a nil array is NULL
	copy(del, dw.del)
	return okey, digest, seen, del
}

const (
	digestsReadSQL  = `SELECT object_key, digest, seen FROM object_digests WHERE cluster_id = ?`
	digestsClearSQL = `DELETE FROM object_digests WHERE cluster_id = ?`
)

var (
	digestsUpsertList = listStatement{prefix: `INSERT INTO object_digests (cluster_id, object_key, digest, seen) VALUES `, item: "(?, ?, ?, ?)",
		suffix: ` ON CONFLICT (cluster_id, object_key) DO UPDATE SET digest = excluded.digest, seen = excluded.seen`, width: 4}
	digestsDeleteList = listStatement{prefix: `DELETE FROM object_digests WHERE cluster_id = ? AND object_key IN (`, item: "?", suffix: ")", width: 1}
)
