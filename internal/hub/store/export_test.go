package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// GroupItem is one report batch (Envs) or heartbeat (HB) of CommitGroup.
type GroupItem struct {
	AgentID string
	Envs    []*fleetapi.Envelope
	HB      *fleetapi.Heartbeat
}

// CommitGroup applies items as one group commit (one transaction, a
// savepoint each), as a committer does with the reports that queued
// together, and returns each item's outcome.
func CommitGroup(s Store, now time.Time, items []GroupItem) ([][]bool, []error) {
	ss := inner(s)
	group := make([]*commitItem, len(items))
	for i, in := range items {
		it := &commitItem{ctx: context.Background(), agentID: in.AgentID, now: now, envs: in.Envs, hb: in.HB, work: 1, done: make(chan struct{})}
		for _, env := range in.Envs {
			var p *preparedFindings
			if env.Kind == fleetapi.KindFindings {
				p, _ = prepareFindings(env.Findings)
			}
			it.prep = append(it.prep, p)
		}
		group[i] = it
	}
	ss.commit.run(group)
	applied := make([][]bool, len(items))
	errs := make([]error, len(items))
	for i, it := range group {
		<-it.done
		applied[i], errs[i] = it.applied, it.err
	}
	return applied, errs
}

func inner(s Store) *sqlStore {
	switch b := s.(type) {
	case *SQLite:
		return b.sqlStore
	case *Postgres:
		return b.sqlStore
	}
	panic("not a SQL store")
}

// HeartbeatCounts returns how many heartbeats s applied in full and how
// many it coalesced (heartbeat.go).
func HeartbeatCounts(s Store) (full, coalesced int64) {
	c := inner(s).seen
	return c.full.Load(), c.coalesced.Load()
}

// FlushHeartbeats writes the coalesced contacts now, as the write-behind
// loop does every seenFlushEvery.
func FlushHeartbeats(ctx context.Context, s Store) error { return inner(s).flushSeen(ctx) }

// StallCommitters replaces s's committers by none, with wait as the
// queue's bound, until resume starts n of them: items queue and, past
// wait, are abandoned (ErrBusy).
func StallCommitters(s Store, wait time.Duration) (resume func(n int)) {
	ss := inner(s)
	ss.stopCommitters()
	ss.startCommitters(0)
	c := ss.commit
	c.maxWait = wait
	return func(n int) {
		for range n {
			c.wg.Go(c.loop)
		}
	}
}

// StallHeartbeats replaces s's heartbeat batcher by one that applies
// nothing until resume, with wait as its items' bound and floor as the
// least bound of its queue.
func StallHeartbeats(s Store, wait time.Duration, floor int) (resume func()) {
	ss := inner(s)
	ss.stopHeartbeats()
	hold := make(chan struct{})
	ss.startHeartbeatsWith(wait, floor, hold)
	var once sync.Once
	return func() { once.Do(func() { close(hold) }) }
}

// HeartbeatQueue is how many full heartbeats wait for s's batcher.
func HeartbeatQueue(s Store) int {
	b := inner(s).hbs
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// HeartbeatBatches is how many transactions s's batcher has run.
func HeartbeatBatches(s Store) int64 { return inner(s).hbs.batches.Load() }

// CommitQueue is how many small items wait for s's committers.
func CommitQueue(s Store) int { return len(inner(s).commit.small) }

// SetCommitQueueFloor sets the least bound of s's committers' queue.
func SetCommitQueueFloor(s Store, floor int) {
	c := inner(s).commit
	c.rate.mu.Lock()
	c.rate.floor = floor
	c.rate.mu.Unlock()
}

// FindingRow is a findings row as stored: its JSON, its hash and the
// generation that last wrote it.
type FindingRow struct {
	Data, DHash string
	Gen         int64
}

// FindingRows reads the cluster's findings rows by object and finding key.
func FindingRows(t interface{ Fatal(...any) }, s Store, cluster string) map[string]FindingRow {
	ss := inner(s)
	rows, err := ss.query(context.Background(), ss.db, `SELECT object_key, fkey, data, dhash, gen FROM findings WHERE cluster_id = ?`, cluster)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]FindingRow{}
	for rows.Next() {
		var okey, fkey string
		var r FindingRow
		if err := rows.Scan(&okey, &fkey, &r.Data, &r.DHash, &r.Gen); err != nil {
			t.Fatal(err)
		}
		out[okey+" "+fkey] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// CopiedRows is how many rows s wrote with COPY.
func CopiedRows(s Store) int64 { return inner(s).copied.Load() }

// HoldReadPool takes every connection of s's shared pool (the one the
// request path reads from), as hundreds of concurrent requests do, until
// release.
func HoldReadPool(t interface{ Fatal(...any) }, s Store) (release func()) {
	ss := inner(s)
	var conns []*sql.Conn
	for range ss.db.Stats().MaxOpenConnections {
		c, err := ss.db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	return func() {
		for _, c := range conns {
			c.Close()
		}
	}
}

// Statements is how many statements s has run through its exec, query
// and queryRow helpers (every statement of the ingest path).
func Statements(s Store) int64 { return inner(s).statements.Load() }

// Parsed is how many of those statements ran from their text, not
// prepared.
func Parsed(s Store) int64 { return inner(s).parsed.Load() }

// CertificateQueries is how many certificate queries s ran in batches
// (PostgreSQL; 0 on SQLite).
func CertificateQueries(s Store) int64 {
	if c := inner(s).certs; c != nil {
		return c.queries.Load()
	}
	return 0
}

// AllFindingRows reads every column of the cluster's findings rows but
// the cluster's ID, one string per row, sorted.
func AllFindingRows(t interface{ Fatal(...any) }, s Store, cluster string) []string {
	ss := inner(s)
	rows, err := ss.query(context.Background(), ss.db, `SELECT object_key, fkey, gen, rule_id, severity, kind, namespace, name, title, suppressed, data, first_seen, last_seen, dhash
		FROM findings WHERE cluster_id = ? ORDER BY object_key, fkey`, cluster)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var okey, fkey, rule, kind, ns, name, title, data, dhash string
		var gen, first, last int64
		var sev, sup int
		if err := rows.Scan(&okey, &fkey, &gen, &rule, &sev, &kind, &ns, &name, &title, &sup, &data, &first, &last, &dhash); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s|%s|%d|%s|%d|%s|%s|%s|%s|%d|%s|%d|%d|%s", okey, fkey, gen, rule, sev, kind, ns, name, title, sup, data, first, last, dhash))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// OpenSQLiteWAL opens a SQLite store whose checkpointer runs every
// every, restarts the WAL at soft pages waiting at most restartWait for
// readers, and at hard pages waits for them up to the busy timeout.
func OpenSQLiteWAL(ctx context.Context, path string, every time.Duration, soft, hard int, restartWait time.Duration) (*SQLite, error) {
	return openSQLite(ctx, path, walLimits{every: every, softPages: soft, hardPages: hard, restartWait: restartWait})
}

// SQLitePragma reads PRAGMA name on one of a SQLite store's pools:
// "writer", "readers" or "checkpointer".
func SQLitePragma(s *SQLite, pool, name string) (int64, error) {
	db := map[string]*sql.DB{"writer": s.w, "readers": s.db, "checkpointer": s.ck}[pool]
	var v int64
	err := db.QueryRow("PRAGMA " + name).Scan(&v)
	return v, err
}

// DisableObjectDigests makes s apply findings reports without
// object_digests, as before migration 16 (call before any report).
func DisableObjectDigests(s Store) { inner(s).noDigests = true }

// ObjectDigests reads the cluster's object_digests rows, "key|digest|seen"
// sorted.
func ObjectDigests(t interface{ Fatal(...any) }, s Store, cluster string) []string {
	ss := inner(s)
	rows, err := ss.query(context.Background(), ss.db, `SELECT object_key, digest, seen FROM object_digests WHERE cluster_id = ? ORDER BY object_key`, cluster)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var okey, digest string
		var seen int64
		if err := rows.Scan(&okey, &digest, &seen); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s|%s|%d", okey, digest, seen))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// DowngradeTo15 turns s's database into one at schema version 15, as a
// hub before migration 16 left it (object_digests and migration 17's
// trigger dropped).
func DowngradeTo15(t interface{ Fatal(...any) }, s Store) {
	ss := inner(s)
	qs := []string{`DROP TABLE object_digests`, `ALTER TABLE clusters DROP COLUMN digests_tag`, `DELETE FROM schema_migrations WHERE version >= 16`}
	if ss.d.dollar {
		qs = append([]string{`DROP TRIGGER findings_outside_digests ON findings`, `DROP FUNCTION palisade_findings_outside_digests()`}, qs...)
	}
	for _, q := range qs {
		if _, err := ss.db.ExecContext(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
}

// DiffRows is how many stored findings rows the diffs of findings reports
// have read back.
func DiffRows(s Store) int64 { return inner(s).diffRows.Load() }

// LazyObjects is how many objects of snapshots s took as unchanged by the
// agent's digest, without preparing their findings.
func LazyObjects(s Store) int64 { return inner(s).lazyObjects.Load() }

// BreakCheckpointer closes the checkpointer's connection pool, so that
// every checkpoint from now on fails.
func BreakCheckpointer(s *SQLite) error { return s.ck.Close() }

// DisableWALSync makes s's committers sync the WAL inside their commits
// (synchronous=FULL), as before walsync.go (call before any report).
func DisableWALSync(s *SQLite) {
	s.walSync.stop()
	s.walSync = nil
}

// WrapWALSync runs the WAL syncer's syncs through wrap, which is given
// the real sync (call before any report).
func WrapWALSync(s *SQLite, wrap func(sync func() error) error) {
	inner := s.walSync.sync
	s.walSync.sync = func() error { return wrap(inner) }
}

// DigestReads is how many snapshots read their cluster's object_digests
// rows back (the digest cache's misses).
func DigestReads(s Store) int64 { return inner(s).digestReads.Load() }

// DowngradeTo17 takes s's database back to schema 17, data kept.
func DowngradeTo17(t interface{ Fatal(...any) }, s Store) {
	ss := inner(s)
	for _, q := range []string{`ALTER TABLE clusters DROP COLUMN digests_tag`, `DELETE FROM schema_migrations WHERE version >= 18`} {
		if _, err := ss.db.ExecContext(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
}

// ExecOutside runs statements in one transaction of s's database as an
// operator's SQL would; kept marks the transaction as one that keeps
// object_digests (as claimSeq does), so migration 17's trigger leaves
// them alone.
func ExecOutside(t interface{ Fatal(...any) }, s Store, kept bool, stmts ...string) {
	ss := inner(s)
	ctx := context.Background()
	tx, err := ss.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if kept && ss.d.dollar {
		if _, err := tx.ExecContext(ctx, `SELECT set_config('palisade.object_digests', 'kept', true)`); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			t.Fatal(fmt.Errorf("%s: %w", q, err))
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// CachedDigests is the agent's entry in s's digest cache as
// ObjectDigests lists rows, and its cluster; ok false when none.
func CachedDigests(s Store, agentID string) (rows []string, cluster string, ok bool) {
	c := inner(s).digests
	c.mu.Lock()
	e := c.clusters[agentID]
	c.mu.Unlock()
	if e == nil {
		return nil, "", false
	}
	for _, d := range e.rows {
		rows = append(rows, fmt.Sprintf("%s|%s|%d", d.okey, d.digest, d.seen))
	}
	sort.Strings(rows)
	return rows, e.cluster, true
}

// PlanCacheModes is plan_cache_mode in a session of each PostgreSQL pool
// of s: the shared one, the committers' and the certificate lookups'.
func PlanCacheModes(ctx context.Context, s Store) (shared, commit, certs string, err error) {
	in := inner(s)
	for _, p := range []struct {
		db  *sql.DB
		out *string
	}{{in.db, &shared}, {in.commitDB, &commit}, {in.certDB, &certs}} {
		if err = p.db.QueryRowContext(ctx, "SHOW plan_cache_mode").Scan(p.out); err != nil {
			return
		}
	}
	return
}

// WriterCachePages is the SQLite writer connection's page cache.
const WriterCachePages = writerCachePages
