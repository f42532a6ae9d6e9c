package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// dialect is what differs between the backends' SQL.
type dialect struct {
	name string
	blob string
	// dollar placeholders ($1) instead of ?.
	dollar bool
	// lockMigrations/unlockMigrations serialise migrations across replicas.
	lockMigrations, unlockMigrations string
	// maxParams bounds the parameters of one statement.
	maxParams int
}

// forUpdate locks the rows a SELECT reads until the transaction ends on
// PostgreSQL; SQLite's BEGIN IMMEDIATE already holds the database's one
// write lock (and has no FOR UPDATE).
func (d dialect) forUpdate() string {
	if d.dollar {
		return " FOR UPDATE"
	}
	return ""
}

// rebind turns ? placeholders into $n for PostgreSQL. Queries here never
// contain a literal question mark.
func (d dialect) rebind(q string) string {
	if !d.dollar {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// sqlStore implements Store over database/sql for both backends.
type sqlStore struct {
	db *sql.DB
	// w, when set, runs transactions (SQLite: the one writer connection);
	// else db does.
	w *sql.DB
	// commitDB, when set, is the committers' own pool (PostgreSQL), so
	// that the request path's reads can never take the connections the
	// writer needs; else db.
	commitDB *sql.DB
	// certDB, when set, is the pool of the agents' certificate lookups
	// (PostgreSQL): every agent request makes one, hundreds a second in a
	// large fleet, and on the shared pool they queued the dashboard's
	// reads and the heartbeat flush behind them; else db.
	certDB *sql.DB
	// certs batches the certificate lookups on certDB (certlookup.go);
	// nil: one query each.
	certs *certLookups
	d     dialect
	// commit applies reports and heartbeats in groups (groupcommit.go);
	// nil: each in its own transaction.
	commit *committer
	// walSync, when set (SQLite), syncs the WAL after the committers'
	// groups, off the writer (walsync.go); nil: each commit syncs.
	walSync *walSyncer
	// hbs applies full heartbeats in sets, off the committers' queue
	// (hbbatch.go); nil: each in its own transaction.
	hbs *hbBatcher
	// seen coalesces heartbeats that change nothing (heartbeat.go); nil:
	// each is applied in full.
	seen *seenCache
	// limits are the per-cluster quotas (quota.go); nil: the defaults.
	limits atomic.Pointer[IngestLimits]
	// noDigests: findings reports neither read nor keep object_digests,
	// a snapshot diffs the cluster's rows whole (the path before them;
	// set only by tests, before any report).
	noDigests bool
	// digests caches, per agent, its cluster's object_digests rows as
	// last committed by this hub (digestcache.go); nil: none kept.
	digests *digestCache
	// digestReads counts the object_digests reads of snapshots (the
	// cache's misses; tests).
	digestReads atomic.Int64
	// diffRows counts the stored findings rows read back by the diffs of
	// findings reports (TestSnapshotReadsChangedObjectsOnly).
	diffRows atomic.Int64
	// lazyObjects counts the objects of snapshots taken as unchanged by
	// the agent's digest, never prepared (preparedObject.lazy; tests).
	lazyObjects atomic.Int64
	// copied counts the rows written with COPY.
	copied atomic.Int64
	// groupCommits counts the committers' transactions committed and
	// groupItems the reports and heartbeats they applied.
	groupCommits, groupItems atomic.Int64
	// commitTimes are the durations of the committers' transactions,
	// commit (and on SQLite the WAL's sync) included.
	commitTimes durationHistogram
	// statements counts the statements run through exec, query and
	// queryRow: what a report costs the database in round trips, parses
	// and executor starts (TestStatementsPerDelta).
	statements atomic.Int64
	// parsed counts those of them run from their text, not prepared
	// (SQLite parses and compiles each).
	parsed atomic.Int64
	// prepared are the writer's prepared statements by text (SQLite:
	// prepared.go); read-only once the store is open.
	prepared map[string]*sql.Stmt
	// closeOnce makes Close safe to call twice or from two goroutines
	// at once (a signal handler and a deferred Close): the goroutines
	// are stopped and the pools closed once, every call answers the
	// first one's error.
	closeOnce sync.Once
	closeErr  error
}

func (s *sqlStore) Backend() string { return s.d.name }
func (s *sqlStore) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *sqlStore) close() error {
	err := s.stopSeen()
	s.stopHeartbeats()
	s.stopCommitters()
	if s.walSync != nil {
		s.walSync.stop()
	}
	s.stopCertLookups()
	for _, db := range []*sql.DB{s.commitDB, s.certDB} {
		if db != nil {
			err = errors.Join(err, db.Close())
		}
	}
	err = errors.Join(err, s.closePrepared(), s.db.Close())
	if s.w != nil {
		err = errors.Join(err, s.w.Close())
	}
	return err
}

// WriteFailure reports the WAL sync failure that stopped the committers
// (SQLite); PostgreSQL stops on a failed WAL flush itself, and its
// readiness shows through the database check.
func (s *sqlStore) WriteFailure() error {
	if s.walSync != nil {
		return s.walSync.err()
	}
	return nil
}

func (s *sqlStore) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return int(v.Int64), nil
}

func (s *sqlStore) exec(ctx context.Context, q execer, query string, args ...any) (sql.Result, error) {
	s.statements.Add(1)
	if st := s.preparedIn(ctx, q, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	s.parsed.Add(1)
	return q.ExecContext(ctx, s.d.rebind(query), args...)
}

func (s *sqlStore) queryRow(ctx context.Context, q execer, query string, args ...any) *sql.Row {
	s.statements.Add(1)
	if st := s.preparedIn(ctx, q, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	s.parsed.Add(1)
	return q.QueryRowContext(ctx, s.d.rebind(query), args...)
}

func (s *sqlStore) query(ctx context.Context, q execer, query string, args ...any) (*sql.Rows, error) {
	s.statements.Add(1)
	if st := s.preparedIn(ctx, q, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	s.parsed.Add(1)
	return q.QueryContext(ctx, s.d.rebind(query), args...)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// tx runs fn in a transaction (BEGIN IMMEDIATE on SQLite, so writers queue
// on the busy timeout instead of failing to upgrade a read lock).
func (s *sqlStore) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	db := s.db
	if s.w != nil {
		db = s.w
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// copyFunc writes rows into table's columns with PostgreSQL's COPY, inside
// the transaction of the connection it was made for (txCopy); nil on
// SQLite.
type copyFunc func(ctx context.Context, table string, cols []string, rows [][]any) error

// txCopy is tx, with on PostgreSQL a copyFunc on the transaction's
// connection: database/sql does not expose a Tx's connection, so the
// transaction is begun on a *sql.Conn whose driver connection (pgx) then
// runs the COPY. It is the writer's path (reports and heartbeats), so on
// PostgreSQL it takes its connection from the committers' pool.
func (s *sqlStore) txCopy(ctx context.Context, fn func(*sql.Tx, copyFunc) error) error {
	if !s.d.dollar {
		return s.tx(ctx, func(tx *sql.Tx) error { return fn(tx, nil) })
	}
	db := s.db
	if s.commitDB != nil {
		db = s.commitDB
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connection: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	cp := func(ctx context.Context, table string, cols []string, rows [][]any) error {
		return conn.Raw(func(dc any) error {
			c, ok := dc.(*stdlib.Conn)
			if !ok {
				return fmt.Errorf("copy into %s: not a pgx connection (%T)", table, dc)
			}
			n, err := c.Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
			s.copied.Add(n)
			return err
		})
	}
	if err := fn(tx, cp); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func newID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return prefix + hex.EncodeToString(b)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *sqlStore) Secret(ctx context.Context, name string, create func() ([]byte, error)) ([]byte, error) {
	var v []byte
	err := s.queryRow(ctx, s.db, `SELECT value FROM hub_secrets WHERE name = ?`, name).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	nv, err := create()
	if err != nil {
		return nil, fmt.Errorf("secret %s: create: %w", name, err)
	}
	if _, err := s.exec(ctx, s.db, `INSERT INTO hub_secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		name, nv, time.Now().UnixMilli()); err != nil {
		return nil, fmt.Errorf("secret %s: store: %w", name, err)
	}
	// Another replica may have won the race: everyone uses the stored one.
	if err := s.queryRow(ctx, s.db, `SELECT value FROM hub_secrets WHERE name = ?`, name).Scan(&v); err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return v, nil
}

// ---- clusters

const clusterCols = `id, name, created_at, last_seen, k8s_version, distribution, inventory, dropped, pending, revoked_at, admission_dropped, finding_rows, quota_refused, quota_refused_at, quota_reason`

func scanCluster(sc interface{ Scan(...any) error }) (Cluster, error) {
	var c Cluster
	var created, seen, revoked int64
	var inv string
	var dropped, pending, admDropped, quotaRefused, quotaRefusedAt int64
	if err := sc.Scan(&c.ID, &c.Name, &created, &seen, &c.KubernetesVersion, &c.Distribution, &inv, &dropped, &pending, &revoked, &admDropped,
		&c.FindingRows, &quotaRefused, &quotaRefusedAt, &c.QuotaReason); err != nil {
		return c, err
	}
	c.QuotaRefused, c.QuotaRefusedAt = uint64(quotaRefused), fromMS(quotaRefusedAt)
	c.CreatedAt, c.LastSeen, c.RevokedAt = fromMS(created), fromMS(seen), fromMS(revoked)
	c.Dropped, c.Pending, c.AdmissionDropped = uint64(dropped), uint64(pending), uint64(admDropped)
	if inv != "" {
		c.Inventory = &fleetapi.Inventory{}
		if err := json.Unmarshal([]byte(inv), c.Inventory); err != nil {
			return c, fmt.Errorf("cluster %s: inventory: %w", c.Name, err)
		}
	}
	c.Findings = emptyCounts()
	return c, nil
}

func emptyCounts() map[string]int {
	m := map[string]int{}
	for _, sev := range finding.AllSeverities() {
		m[sev.String()] = 0
	}
	return m
}

func (s *sqlStore) EnsureCluster(ctx context.Context, name string, now time.Time) (Cluster, error) {
	if err := CheckName("cluster name", name); err != nil {
		return Cluster{}, err
	}
	if _, err := s.exec(ctx, s.db, `INSERT INTO clusters (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		newID("c-"), name, ms(now)); err != nil {
		return Cluster{}, fmt.Errorf("cluster %q: %w", name, err)
	}
	c, err := scanCluster(s.queryRow(ctx, s.db, `SELECT `+clusterCols+` FROM clusters WHERE name = ?`, name))
	if err != nil {
		return Cluster{}, fmt.Errorf("cluster %q: %w", name, err)
	}
	return c, nil
}

// flushSeenForRead writes the coalesced heartbeats before a read, so a
// read sees the contacts the hub has already answered. A failed write
// (the database's disk full, a lost connection) does not fail the read:
// the contacts are kept for the next flush, and the read shows the last
// stored last_seen and pending counts, which is what an operator needs
// from a hub that cannot write (TestDiskFull in internal/agent).
func (s *sqlStore) flushSeenForRead(ctx context.Context) {
	_ = s.flushSeen(ctx)
}

func (s *sqlStore) GetCluster(ctx context.Context, id string) (Cluster, error) {
	s.flushSeenForRead(ctx)
	c, err := scanCluster(s.queryRow(ctx, s.db, `SELECT `+clusterCols+` FROM clusters WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Cluster{}, fmt.Errorf("cluster %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Cluster{}, fmt.Errorf("cluster %s: %w", id, err)
	}
	counts, err := s.severityCounts(ctx, id)
	if err != nil {
		return Cluster{}, err
	}
	if m, ok := counts[id]; ok {
		c.Findings = m
	}
	return c, nil
}

func (s *sqlStore) ListClusters(ctx context.Context) ([]Cluster, error) {
	s.flushSeenForRead(ctx)
	rows, err := s.query(ctx, s.db, `SELECT `+clusterCols+` FROM clusters ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list clusters: %w", err)
	}
	defer rows.Close()
	var out []Cluster
	for rows.Next() {
		c, err := scanCluster(rows)
		if err != nil {
			return nil, fmt.Errorf("list clusters: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list clusters: %w", err)
	}
	counts, err := s.severityCounts(ctx, "")
	if err != nil {
		return nil, err
	}
	for i := range out {
		if m, ok := counts[out[i].ID]; ok {
			out[i].Findings = m
		}
	}
	return out, nil
}

func (s *sqlStore) severityCounts(ctx context.Context, clusterID string) (map[string]map[string]int, error) {
	q := `SELECT cluster_id, severity, n FROM cluster_severity_counts WHERE n <> 0`
	var args []any
	if clusterID != "" {
		q += ` AND cluster_id = ?`
		args = append(args, clusterID)
	}
	rows, err := s.query(ctx, s.db, q, args...)
	if err != nil {
		return nil, fmt.Errorf("count findings: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]int{}
	for rows.Next() {
		var id string
		var sev, n int
		if err := rows.Scan(&id, &sev, &n); err != nil {
			return nil, fmt.Errorf("count findings: %w", err)
		}
		if out[id] == nil {
			out[id] = emptyCounts()
		}
		out[id][finding.Severity(sev).String()] += n
	}
	return out, rows.Err()
}

// ---- tokens, agents, certificates

func (s *sqlStore) CreateBootstrapToken(ctx context.Context, t BootstrapToken) error {
	if _, err := s.exec(ctx, s.db, `INSERT INTO bootstrap_tokens (id, cluster_id, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		t.ID, t.ClusterID, t.Hash, ms(t.CreatedAt), ms(t.ExpiresAt)); err != nil {
		return fmt.Errorf("bootstrap token for cluster %s: %w", t.ClusterID, err)
	}
	return nil
}

func (s *sqlStore) EnrollAgent(ctx context.Context, tokenID string, secretHash []byte, a Agent, now time.Time) (Cluster, error) {
	var clusterID string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var hash []byte
		var created int64
		// The conditional update is the single-use guarantee: of two
		// concurrent enrolments with one token, one updates the row and the
		// other finds used_at already set.
		err := s.queryRow(ctx, tx, `UPDATE bootstrap_tokens SET used_at = ?, used_by = ? WHERE id = ? AND used_at = 0 AND expires_at > ? RETURNING cluster_id, hash, created_at`,
			ms(now), a.ID, tokenID, ms(now)).Scan(&clusterID, &hash, &created)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrTokenRejected
		}
		if err != nil {
			return fmt.Errorf("consume token: %w", err)
		}
		if subtle.ConstantTimeCompare(hash, secretHash) != 1 {
			return ErrTokenRejected // rolled back: a wrong guess does not burn the token
		}
		// Re-enrolment: a token an operator made after revoking the
		// cluster lifts the revocation; one made before does not (it may
		// have been stolen with the node). The revoked certificates stay
		// revoked either way.
		if _, err := s.exec(ctx, tx, `UPDATE clusters SET revoked_at = 0, renewed_at = 0 WHERE id = ? AND revoked_at > 0 AND revoked_at <= ?`, clusterID, created); err != nil {
			return fmt.Errorf("re-enrol cluster %s: %w", clusterID, err)
		}
		if _, err := s.exec(ctx, tx, `INSERT INTO agents (id, cluster_id, created_at) VALUES (?, ?, ?)`, a.ID, clusterID, ms(now)); err != nil {
			return fmt.Errorf("create agent: %w", err)
		}
		return nil
	})
	if err != nil {
		return Cluster{}, err
	}
	return s.GetCluster(ctx, clusterID)
}

func (s *sqlStore) GetAgent(ctx context.Context, id string) (Agent, error) {
	s.flushSeenForRead(ctx)
	var a Agent
	var created, seq, seen int64
	err := s.queryRow(ctx, s.db, `SELECT id, cluster_id, created_at, last_seq, last_seen FROM agents WHERE id = ?`, id).
		Scan(&a.ID, &a.ClusterID, &created, &seq, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("agent %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return a, fmt.Errorf("agent %s: %w", id, err)
	}
	a.CreatedAt, a.LastSeq, a.LastSeen = fromMS(created), uint64(seq), fromMS(seen)
	return a, nil
}

func (s *sqlStore) RecordCertificate(ctx context.Context, c Certificate, now time.Time, minInterval time.Duration) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		// The cluster row is the lock renewals and RevokeCluster share:
		// SQLite's BEGIN IMMEDIATE serialises every writer, and on
		// PostgreSQL FOR UPDATE here and RevokeCluster's UPDATE take the
		// same row lock, so the revocation check and the insert cannot be
		// split by a revocation.
		var revoked, renewed int64
		err := s.queryRow(ctx, tx, `SELECT revoked_at, renewed_at FROM clusters WHERE id = ?`+s.d.forUpdate(), c.ClusterID).Scan(&revoked, &renewed)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("certificate %s: cluster %s: %w", c.Serial, c.ClusterID, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("certificate %s: cluster %s: %w", c.Serial, c.ClusterID, err)
		}
		if revoked != 0 {
			return fmt.Errorf("certificate %s: cluster %s: %w", c.Serial, c.ClusterID, ErrRevoked)
		}
		if c.RenewedFrom != "" {
			var old int64
			if err := s.queryRow(ctx, tx, `SELECT revoked_at FROM certificates WHERE serial = ?`+s.d.forUpdate(), c.RenewedFrom).Scan(&old); err != nil {
				return fmt.Errorf("certificate %s: renewing %s: %w", c.Serial, c.RenewedFrom, err)
			}
			if old != 0 {
				return fmt.Errorf("certificate %s: renewing %s: %w", c.Serial, c.RenewedFrom, ErrRevoked)
			}
		}
		if minInterval > 0 {
			if next := fromMS(renewed).Add(minInterval); renewed != 0 && now.Before(next) {
				return &RenewalTooSoon{Cluster: c.ClusterID, RetryAfter: next.Sub(now)}
			}
			if _, err := s.exec(ctx, tx, `UPDATE clusters SET renewed_at = ? WHERE id = ?`, ms(now), c.ClusterID); err != nil {
				return fmt.Errorf("certificate %s: cluster %s: %w", c.Serial, c.ClusterID, err)
			}
		}
		if _, err := s.exec(ctx, tx, `INSERT INTO certificates (serial, cluster_id, agent_id, not_before, not_after) VALUES (?, ?, ?, ?, ?)`,
			c.Serial, c.ClusterID, c.AgentID, ms(c.NotBefore), ms(c.NotAfter)); err != nil {
			return fmt.Errorf("certificate %s: %w", c.Serial, err)
		}
		return nil
	})
}

func (s *sqlStore) RevokeCluster(ctx context.Context, clusterID string, now time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// Marking the cluster first takes its row lock (see
		// RecordCertificate); a cluster revoked earlier keeps its first
		// revocation time.
		res, err := s.exec(ctx, tx, `UPDATE clusters SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END WHERE id = ?`, ms(now), clusterID)
		if err != nil {
			return fmt.Errorf("revoke cluster %s: %w", clusterID, err)
		}
		if k, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("revoke cluster %s: %w", clusterID, err)
		} else if k == 0 {
			return fmt.Errorf("revoke cluster %s: %w", clusterID, ErrNotFound)
		}
		res, err = s.exec(ctx, tx, `UPDATE certificates SET revoked_at = ? WHERE cluster_id = ? AND revoked_at = 0`, ms(now), clusterID)
		if err != nil {
			return fmt.Errorf("revoke cluster %s: %w", clusterID, err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

func (s *sqlStore) GetCertificate(ctx context.Context, serial string) (Certificate, error) {
	if s.certs != nil {
		return s.certs.get(ctx, serial)
	}
	var c Certificate
	var nb, na, rev, crev int64
	err := s.queryRow(ctx, s.db, `SELECT c.serial, c.cluster_id, c.agent_id, c.not_before, c.not_after, c.revoked_at, k.revoked_at
		FROM certificates c JOIN clusters k ON k.id = c.cluster_id WHERE c.serial = ?`, serial).
		Scan(&c.Serial, &c.ClusterID, &c.AgentID, &nb, &na, &rev, &crev)
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("certificate %s: %w", serial, ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("certificate %s: %w", serial, err)
	}
	c.NotBefore, c.NotAfter, c.RevokedAt, c.ClusterRevokedAt = fromMS(nb), fromMS(na), fromMS(rev), fromMS(crev)
	return c, nil
}

func (s *sqlStore) RevokeCertificates(ctx context.Context, f CertificateFilter, now time.Time) (int, error) {
	var col, val string
	n := 0
	for _, c := range []struct{ col, val string }{{"serial", f.Serial}, {"agent_id", f.AgentID}, {"cluster_id", f.ClusterID}} {
		if c.val != "" {
			col, val = c.col, c.val
			n++
		}
	}
	if n != 1 {
		return 0, errors.New("revoke: set exactly one of serial, agent, cluster")
	}
	res, err := s.exec(ctx, s.db, `UPDATE certificates SET revoked_at = ? WHERE `+col+` = ? AND revoked_at = 0`, ms(now), val)
	if err != nil {
		return 0, fmt.Errorf("revoke %s %s: %w", col, val, err)
	}
	r, err := res.RowsAffected()
	return int(r), err
}

// ---- reads

func (s *sqlStore) findingWhere(q FindingQuery) (string, []any) {
	var conds []string
	var args []any
	add := func(c string, v any) { conds = append(conds, c); args = append(args, v) }
	if q.ClusterID != "" {
		add("cluster_id = ?", q.ClusterID)
	}
	if q.RuleID != "" {
		add("rule_id = ?", q.RuleID)
	}
	if q.Namespace != "" {
		add("namespace = ?", q.Namespace)
	}
	if q.MinSeverity > 0 {
		add("severity >= ?", int(q.MinSeverity))
	}
	if !q.IncludeSuppressed {
		conds = append(conds, "suppressed = 0")
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func (s *sqlStore) ListFindings(ctx context.Context, q FindingQuery) ([]Finding, error) {
	where, args := s.findingWhere(q)
	limit := q.Limit
	if limit <= 0 {
		limit = 1000
	}
	args = append(args, limit, max(0, q.Offset))
	rows, err := s.query(ctx, s.db, `SELECT cluster_id, data, first_seen, last_seen FROM findings`+where+
		` ORDER BY severity DESC, cluster_id, object_key, rule_id, fkey LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list findings: %w", err)
	}
	defer rows.Close()
	var out []Finding
	for rows.Next() {
		var f Finding
		var data string
		var first, last int64
		if err := rows.Scan(&f.ClusterID, &data, &first, &last); err != nil {
			return nil, fmt.Errorf("list findings: %w", err)
		}
		// The decoder that read it from the agent (fleetapi.DecodeReport),
		// so the stored JSON means what the columns say.
		if err := fleetapi.UnmarshalFinding([]byte(data), &f.Finding); err != nil {
			return nil, fmt.Errorf("list findings: cluster %s: %w", f.ClusterID, err)
		}
		f.FirstSeen, f.LastSeen = fromMS(first), fromMS(last)
		out = append(out, f)
	}
	return out, rows.Err()
}

func (s *sqlStore) CountFindings(ctx context.Context, q FindingQuery) (int, error) {
	if q.RuleID == "" && q.Namespace == "" && !q.IncludeSuppressed {
		// Open findings by cluster and severity are counters (exact: kept
		// in the findings report's transaction), so the common totals of
		// the findings pages never count the findings table.
		cq := `SELECT COALESCE(SUM(n), 0) FROM cluster_severity_counts WHERE severity >= ?`
		args := []any{int(q.MinSeverity)}
		if q.ClusterID != "" {
			cq += ` AND cluster_id = ?`
			args = append(args, q.ClusterID)
		}
		var n int64
		if err := s.queryRow(ctx, s.db, cq, args...).Scan(&n); err != nil {
			return 0, fmt.Errorf("count findings: %w", err)
		}
		return int(n), nil
	}
	where, args := s.findingWhere(q)
	var n int
	if err := s.queryRow(ctx, s.db, `SELECT COUNT(*) FROM findings`+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count findings: %w", err)
	}
	return n, nil
}

func (s *sqlStore) ListNodes(ctx context.Context, clusterID string) ([]fleetapi.Node, error) {
	rows, err := s.query(ctx, s.db, `SELECT data FROM nodes WHERE cluster_id = ? ORDER BY name`, clusterID)
	if err != nil {
		return nil, fmt.Errorf("nodes of %s: %w", clusterID, err)
	}
	defer rows.Close()
	var out []fleetapi.Node
	for rows.Next() {
		var data string
		var n fleetapi.Node
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(data), &n); err != nil {
			return nil, fmt.Errorf("nodes of %s: %w", clusterID, err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func (s *sqlStore) ListImages(ctx context.Context, clusterID string) ([]Image, error) {
	q := `SELECT ci.cluster_id, ci.ref, ci.digest, ci.workloads, ci.namespaces, COALESCE(sc.scanned_at, 0), COALESCE(sc.db_stamp, ''), COALESCE(sc.error, '')
		FROM cluster_images ci LEFT JOIN image_scans sc ON sc.cluster_id = ci.cluster_id AND sc.digest = ci.digest`
	var args []any
	if clusterID != "" {
		q += ` WHERE ci.cluster_id = ?`
		args = append(args, clusterID)
	}
	rows, err := s.query(ctx, s.db, q+` ORDER BY ci.cluster_id, ci.ref`, args...)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var out []Image
	for rows.Next() {
		var im Image
		var ns string
		var scanned int64
		if err := rows.Scan(&im.ClusterID, &im.Ref, &im.Digest, &im.Workloads, &ns, &scanned, &im.DBStamp, &im.ScanError); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list images: %w", err)
		}
		im.Namespaces, im.ScannedAt, im.Vulnerabilities = splitList(ns), fromMS(scanned), emptyCounts()
		out = append(out, im)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	cq := `SELECT cluster_id, digest, severity, COUNT(*) FROM image_vulns`
	if clusterID != "" {
		cq += ` WHERE cluster_id = ?`
	}
	crows, err := s.query(ctx, s.db, cq+` GROUP BY cluster_id, digest, severity`, args...)
	if err != nil {
		return nil, fmt.Errorf("count image vulnerabilities: %w", err)
	}
	defer crows.Close()
	counts := map[[2]string]map[string]int{}
	for crows.Next() {
		var c, d string
		var sev, n int
		if err := crows.Scan(&c, &d, &sev, &n); err != nil {
			return nil, err
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
	return out, crows.Err()
}

func (s *sqlStore) ImageVulnerabilities(ctx context.Context, clusterID, digest string) ([]ImageVulnerability, error) {
	q := `SELECT cluster_id, digest, severity, data FROM image_vulns WHERE digest = ?`
	args := []any{digest}
	if clusterID != "" {
		q += ` AND cluster_id = ?`
		args = append(args, clusterID)
	}
	rows, err := s.query(ctx, s.db, q+` ORDER BY severity DESC, vuln_id, package`, args...)
	if err != nil {
		return nil, fmt.Errorf("vulnerabilities of %s: %w", digest, err)
	}
	defer rows.Close()
	var out []ImageVulnerability
	for rows.Next() {
		var v ImageVulnerability
		var sev int
		var data string
		if err := rows.Scan(&v.ClusterID, &v.Digest, &sev, &data); err != nil {
			return nil, err
		}
		v.Severity = finding.Severity(sev)
		if err := json.Unmarshal([]byte(data), &v.Vulnerability); err != nil {
			return nil, fmt.Errorf("vulnerabilities of %s: %w", digest, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (s *sqlStore) ClustersAffectedBy(ctx context.Context, vulnID string) ([]AffectedCluster, error) {
	// A cluster is affected when it runs a digest that its own agent's
	// scan found vulnerable (by ID or alias): an agent can only speak for
	// its own cluster, so one cluster's report never marks another.
	rows, err := s.query(ctx, s.db, `SELECT ci.cluster_id, c.name, ci.digest, ci.ref, ci.workloads, ci.namespaces
		FROM cluster_images ci JOIN clusters c ON c.id = ci.cluster_id
		WHERE ci.digest <> '' AND EXISTS (SELECT 1 FROM image_vuln_aliases a WHERE a.cluster_id = ci.cluster_id AND a.digest = ci.digest AND a.alias = ?)
		ORDER BY c.name, ci.digest, ci.ref`, vulnID)
	if err != nil {
		return nil, fmt.Errorf("clusters affected by %s: %w", vulnID, err)
	}
	defer rows.Close()
	var out []AffectedCluster
	for rows.Next() {
		var id, name, digest, ref, ns string
		var wl int
		if err := rows.Scan(&id, &name, &digest, &ref, &wl, &ns); err != nil {
			return nil, err
		}
		if n := len(out); n > 0 && out[n-1].ClusterID == id && out[n-1].Digest == digest {
			out[n-1].Refs = append(out[n-1].Refs, ref)
			out[n-1].Workloads += wl
			out[n-1].Namespaces = mergeSorted(out[n-1].Namespaces, splitList(ns))
			continue
		}
		out = append(out, AffectedCluster{ClusterID: id, ClusterName: name, Digest: digest, Refs: []string{ref}, Workloads: wl, Namespaces: mergeSorted(nil, splitList(ns))})
	}
	return out, rows.Err()
}

func (s *sqlStore) ImageCoverage(ctx context.Context) (ImageCoverage, error) {
	var c ImageCoverage
	// The states of Image.NotMatched and Image.ScanFailed.
	err := s.queryRow(ctx, s.db, `SELECT COUNT(*),
		COALESCE(SUM(CASE WHEN sc.digest IS NOT NULL AND sc.db_stamp = '' AND sc.error = ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN sc.digest IS NULL THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN sc.digest IS NOT NULL AND sc.error <> '' AND NOT (sc.db_stamp = '' AND sc.error = ?) THEN 1 ELSE 0 END), 0)
		FROM cluster_images ci LEFT JOIN image_scans sc ON sc.cluster_id = ci.cluster_id AND sc.digest = ci.digest`,
		fleetapi.ImageScanNotMatched, fleetapi.ImageScanNotMatched).Scan(&c.InUse, &c.NotMatched, &c.Unscanned, &c.Failed)
	if err != nil {
		return c, fmt.Errorf("image coverage: %w", err)
	}
	return c, nil
}

func mergeSorted(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range append(a, b...) {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

func (s *sqlStore) Compliance(ctx context.Context) ([]RuleCompliance, error) {
	// Both aggregates read the counter tables (clusters × rules rows), never
	// the findings table.
	rows, err := s.query(ctx, s.db, `SELECT rule_id, MAX(title), MAX(severity), COUNT(*), SUM(objects)
		FROM cluster_rule_counts WHERE objects > 0 GROUP BY rule_id ORDER BY rule_id`)
	if err != nil {
		return nil, fmt.Errorf("compliance: %w", err)
	}
	var out []RuleCompliance
	for rows.Next() {
		var r RuleCompliance
		var sev int
		if err := rows.Scan(&r.RuleID, &r.Title, &sev, &r.FailingClusters, &r.FailingObjects); err != nil {
			rows.Close()
			return nil, fmt.Errorf("compliance: %w", err)
		}
		r.Severity = finding.Severity(sev)
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("compliance: %w", err)
	}
	erows, err := s.query(ctx, s.db, `SELECT rule_id, COUNT(*) FROM cluster_rules GROUP BY rule_id`)
	if err != nil {
		return nil, fmt.Errorf("compliance: evaluating clusters: %w", err)
	}
	evaluating := map[string]int{}
	for erows.Next() {
		var id string
		var n int
		if err := erows.Scan(&id, &n); err != nil {
			erows.Close()
			return nil, fmt.Errorf("compliance: %w", err)
		}
		evaluating[id] = n
	}
	erows.Close()
	if err := erows.Err(); err != nil {
		return nil, fmt.Errorf("compliance: %w", err)
	}
	for i := range out {
		out[i].EvaluatingClusters = evaluating[out[i].RuleID]
		delete(evaluating, out[i].RuleID)
	}
	for id, n := range evaluating { // evaluated and passing everywhere
		out = append(out, RuleCompliance{RuleID: id, EvaluatingClusters: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RuleID < out[j].RuleID })
	return out, nil
}

func (s *sqlStore) ListAdmissionEvents(ctx context.Context, q AdmissionQuery) ([]AdmissionEvent, error) {
	var conds []string
	var args []any
	if q.ClusterID != "" {
		conds, args = append(conds, "cluster_id = ?"), append(args, q.ClusterID)
	}
	if q.Decision != "" {
		conds, args = append(conds, "decision = ?"), append(args, q.Decision)
	}
	if q.BreakGlassOnly {
		conds = append(conds, "break_glass = 1")
	}
	if !q.Since.IsZero() {
		conds, args = append(conds, "time >= ?"), append(args, ms(q.Since))
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 1000
	}
	args = append(args, limit)
	rows, err := s.query(ctx, s.db, `SELECT cluster_id, data FROM admission_events`+where+` ORDER BY time DESC, id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("admission events: %w", err)
	}
	defer rows.Close()
	var out []AdmissionEvent
	for rows.Next() {
		var e AdmissionEvent
		var data string
		if err := rows.Scan(&e.ClusterID, &data); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(data), &e.AdmissionEvent); err != nil {
			return nil, fmt.Errorf("admission events: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ---- users

func (s *sqlStore) CreateUser(ctx context.Context, u User) error {
	if err := CheckName("user name", u.Name); err != nil {
		return err
	}
	if err := checkRole(u.Role); err != nil {
		return fmt.Errorf("user %q: %w", u.Name, err)
	}
	if u.ID == "" {
		u.ID = newID("u-")
	}
	res, err := s.exec(ctx, s.db, `INSERT INTO users (id, name, password_hash, role, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		u.ID, u.Name, u.PasswordHash, u.Role, ms(u.CreatedAt))
	if err != nil {
		return fmt.Errorf("user %q: %w", u.Name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("user %q: %w", u.Name, ErrConflict)
	}
	return nil
}

func (s *sqlStore) HasUsers(ctx context.Context) (bool, error) {
	var one int
	err := s.queryRow(ctx, s.db, `SELECT 1 FROM users LIMIT 1`).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("users: %w", err)
	}
	return true, nil
}

func (s *sqlStore) GetUserByName(ctx context.Context, name string) (User, error) {
	var u User
	var created int64
	var disabled int64
	err := s.queryRow(ctx, s.db, `SELECT id, name, password_hash, role, created_at, disabled_at FROM users WHERE name = ?`, name).
		Scan(&u.ID, &u.Name, &u.PasswordHash, &u.Role, &created, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return u, fmt.Errorf("user %q: %w", name, err)
	}
	u.CreatedAt, u.DisabledAt = fromMS(created), fromMS(disabled)
	return u, nil
}

func (s *sqlStore) CreateSession(ctx context.Context, se Session, keep int) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `INSERT INTO sessions (id_hash, user_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			se.IDHash, se.UserID, se.CSRFToken, ms(se.CreatedAt), ms(se.ExpiresAt)); err != nil {
			return err
		}
		// Expired sessions can never be used again; without this they
		// would stay forever (logout is optional for a browser). Only
		// this user's rows: logins of different users never contend for
		// row locks, and the cap below bounds every user's count anyway.
		if _, err := s.exec(ctx, tx, `DELETE FROM sessions WHERE user_id = ? AND expires_at <= ?`, se.UserID, ms(se.CreatedAt)); err != nil {
			return fmt.Errorf("delete expired: %w", err)
		}
		if keep <= 0 {
			return nil
		}
		// Keep the new session and the user's keep-1 newest others.
		if _, err := s.exec(ctx, tx, `DELETE FROM sessions WHERE user_id = ? AND id_hash <> ? AND id_hash NOT IN (
			SELECT id_hash FROM sessions WHERE user_id = ? AND id_hash <> ? ORDER BY created_at DESC, expires_at DESC, id_hash LIMIT ?)`,
			se.UserID, se.IDHash, se.UserID, se.IDHash, keep-1); err != nil {
			return fmt.Errorf("cap sessions: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("session for user %s: %w", se.UserID, err)
	}
	return nil
}

func (s *sqlStore) GetSession(ctx context.Context, idHash []byte, now time.Time) (Session, User, error) {
	var se Session
	var u User
	var sc, se2, uc int64
	err := s.queryRow(ctx, s.db, `SELECT s.id_hash, s.user_id, s.csrf, s.created_at, s.expires_at, u.id, u.name, u.password_hash, u.role, u.created_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ? AND s.expires_at > ? AND u.disabled_at = 0`, idHash, ms(now)).
		Scan(&se.IDHash, &se.UserID, &se.CSRFToken, &sc, &se2, &u.ID, &u.Name, &u.PasswordHash, &u.Role, &uc)
	if errors.Is(err, sql.ErrNoRows) {
		return se, u, fmt.Errorf("session: %w", ErrNotFound)
	}
	if err != nil {
		return se, u, fmt.Errorf("session: %w", err)
	}
	se.CreatedAt, se.ExpiresAt, u.CreatedAt = fromMS(sc), fromMS(se2), fromMS(uc)
	return se, u, nil
}

func (s *sqlStore) DeleteSession(ctx context.Context, idHash []byte) error {
	if _, err := s.exec(ctx, s.db, `DELETE FROM sessions WHERE id_hash = ?`, idHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

func (s *sqlStore) CreateAPIToken(ctx context.Context, t APIToken) error {
	if err := CheckName("token name", t.Name); err != nil {
		return err
	}
	if err := checkRole(t.Role); err != nil {
		return fmt.Errorf("api token %q: %w", t.Name, err)
	}
	if _, err := s.exec(ctx, s.db, `INSERT INTO api_tokens (id, name, role, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		t.ID, t.Name, t.Role, t.Hash, ms(t.CreatedAt), ms(t.ExpiresAt)); err != nil {
		return fmt.Errorf("api token %q: %w", t.Name, err)
	}
	return nil
}

func (s *sqlStore) GetAPIToken(ctx context.Context, id string, now time.Time) (APIToken, error) {
	var t APIToken
	var created, expires int64
	err := s.queryRow(ctx, s.db, `SELECT id, name, role, hash, created_at, expires_at FROM api_tokens
		WHERE id = ? AND revoked_at = 0 AND (expires_at = 0 OR expires_at > ?)`, id, ms(now)).
		Scan(&t.ID, &t.Name, &t.Role, &t.Hash, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("api token %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("api token %s: %w", id, err)
	}
	t.CreatedAt, t.ExpiresAt = fromMS(created), fromMS(expires)
	return t, nil
}

// ---- bundles

func (s *sqlStore) PutBundle(ctx context.Context, b fleetapi.Bundle, sign func(*fleetapi.Bundle) error) (fleetapi.Bundle, error) {
	if err := CheckName("bundle name", b.Name); err != nil {
		return b, err
	}
	sum := sha256.Sum256(b.Content)
	b.SHA256, b.Size = hex.EncodeToString(sum[:]), int64(len(b.Content))
	if b.CreatedAt.IsZero() {
		b.CreatedAt = time.Now().UTC()
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// The upsert takes the row lock, so concurrent publishers get
		// distinct, increasing versions.
		if err := s.queryRow(ctx, tx, `INSERT INTO bundles (kind, name, cluster_id, version, sha256, signature, content, created_at) VALUES (?, ?, ?, 1, ?, ?, ?, ?)
			ON CONFLICT (kind, name, cluster_id) DO UPDATE SET version = bundles.version + 1, sha256 = excluded.sha256, signature = excluded.signature, content = excluded.content, created_at = excluded.created_at
			RETURNING version`, b.Kind, b.Name, b.Cluster, b.SHA256, []byte{}, b.Content, ms(b.CreatedAt)).Scan(&b.Version); err != nil {
			return err
		}
		if err := sign(&b); err != nil {
			return fmt.Errorf("sign: %w", err)
		}
		_, err := s.exec(ctx, tx, `UPDATE bundles SET signature = ? WHERE kind = ? AND name = ? AND cluster_id = ?`, b.Signature, b.Kind, b.Name, b.Cluster)
		return err
	})
	if err != nil {
		return b, fmt.Errorf("bundle %s/%s: %w", b.Kind, b.Name, err)
	}
	return b, nil
}

func (s *sqlStore) ListBundles(ctx context.Context, clusterID string) ([]fleetapi.Bundle, error) {
	rows, err := s.query(ctx, s.db, `SELECT kind, name, cluster_id, version, sha256, signature,
		CASE WHEN length(content) <= ? THEN content END, length(content), created_at FROM bundles
		WHERE cluster_id = '' OR cluster_id = ? ORDER BY kind, name, cluster_id`, fleetapi.MaxInlineBundleBytes, clusterID)
	if err != nil {
		return nil, fmt.Errorf("bundles of %s: %w", clusterID, err)
	}
	defer rows.Close()
	var out []fleetapi.Bundle
	for rows.Next() {
		var b fleetapi.Bundle
		var created int64
		if err := rows.Scan(&b.Kind, &b.Name, &b.Cluster, &b.Version, &b.SHA256, &b.Signature, &b.Content, &b.Size, &created); err != nil {
			return nil, err
		}
		b.CreatedAt = fromMS(created)
		out = append(out, b)
	}
	return out, rows.Err()
}

func (s *sqlStore) GetBundle(ctx context.Context, kind, name, cluster string) (fleetapi.Bundle, error) {
	b := fleetapi.Bundle{Kind: kind, Name: name, Cluster: cluster}
	var created int64
	err := s.queryRow(ctx, s.db, `SELECT version, sha256, signature, content, created_at FROM bundles
		WHERE kind = ? AND name = ? AND cluster_id = ?`, kind, name, cluster).Scan(&b.Version, &b.SHA256, &b.Signature, &b.Content, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return b, fmt.Errorf("bundle %s/%s: %w", kind, name, ErrNotFound)
	}
	if err != nil {
		return b, fmt.Errorf("bundle %s/%s: %w", kind, name, err)
	}
	b.Size, b.CreatedAt = int64(len(b.Content)), fromMS(created)
	return b, nil
}

func (s *sqlStore) GetBundleInfo(ctx context.Context, kind, name, cluster string) (fleetapi.Bundle, error) {
	b := fleetapi.Bundle{Kind: kind, Name: name, Cluster: cluster}
	var created int64
	err := s.queryRow(ctx, s.db, `SELECT version, sha256, signature, length(content), created_at FROM bundles
		WHERE kind = ? AND name = ? AND cluster_id = ?`, kind, name, cluster).Scan(&b.Version, &b.SHA256, &b.Signature, &b.Size, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return b, fmt.Errorf("bundle %s/%s: %w", kind, name, ErrNotFound)
	}
	if err != nil {
		return b, fmt.Errorf("bundle %s/%s: %w", kind, name, err)
	}
	b.CreatedAt = fromMS(created)
	return b, nil
}
