package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// migration is one schema version. SQL is written once for both backends:
// {{blob}} becomes BLOB (SQLite) or BYTEA (PostgreSQL); everything else
// (TEXT, BIGINT, INTEGER, ON CONFLICT, RETURNING) means the same in both.
// Times are BIGINT Unix milliseconds, flags INTEGER 0/1.
type migration struct {
	version int
	name    string
	sql     string
	// post, when set, runs after sql in the same transaction: data moves
	// that need Go (JSON columns read the same on both backends).
	post func(ctx context.Context, tx *sql.Tx, d dialect) error
}

// migrations are applied in order and never edited once released: a change
// is a new version.
var migrations = []migration{
	{1, "core: keys, clusters, agents, tokens, certificates, findings, users", `
CREATE TABLE hub_secrets (
	name TEXT PRIMARY KEY,
	value {{blob}} NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE TABLE clusters (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	created_at BIGINT NOT NULL,
	last_seen BIGINT NOT NULL DEFAULT 0,
	gen BIGINT NOT NULL DEFAULT 0,
	k8s_version TEXT NOT NULL DEFAULT '',
	distribution TEXT NOT NULL DEFAULT '',
	inventory TEXT NOT NULL DEFAULT '',
	dropped BIGINT NOT NULL DEFAULT 0,
	pending BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE agents (
	id TEXT PRIMARY KEY,
	cluster_id TEXT NOT NULL REFERENCES clusters(id),
	created_at BIGINT NOT NULL,
	last_seq BIGINT NOT NULL DEFAULT 0,
	last_seen BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX agents_cluster ON agents(cluster_id);
CREATE TABLE bootstrap_tokens (
	id TEXT PRIMARY KEY,
	cluster_id TEXT NOT NULL REFERENCES clusters(id),
	hash {{blob}} NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	used_at BIGINT NOT NULL DEFAULT 0,
	used_by TEXT NOT NULL DEFAULT ''
);
CREATE TABLE certificates (
	serial TEXT PRIMARY KEY,
	cluster_id TEXT NOT NULL REFERENCES clusters(id),
	agent_id TEXT NOT NULL REFERENCES agents(id),
	not_before BIGINT NOT NULL,
	not_after BIGINT NOT NULL,
	revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX certificates_agent ON certificates(agent_id);
CREATE INDEX certificates_cluster ON certificates(cluster_id);
CREATE TABLE findings (
	cluster_id TEXT NOT NULL REFERENCES clusters(id),
	object_key TEXT NOT NULL,
	fkey TEXT NOT NULL,
	gen BIGINT NOT NULL,
	rule_id TEXT NOT NULL,
	severity INTEGER NOT NULL,
	kind TEXT NOT NULL,
	namespace TEXT NOT NULL,
	name TEXT NOT NULL,
	title TEXT NOT NULL,
	suppressed INTEGER NOT NULL,
	data TEXT NOT NULL,
	first_seen BIGINT NOT NULL,
	last_seen BIGINT NOT NULL,
	PRIMARY KEY (cluster_id, object_key, fkey)
);
CREATE INDEX findings_gen ON findings(cluster_id, gen);
CREATE INDEX findings_rule ON findings(rule_id, cluster_id);
CREATE TABLE nodes (
	cluster_id TEXT NOT NULL REFERENCES clusters(id),
	name TEXT NOT NULL,
	architecture TEXT NOT NULL,
	os TEXT NOT NULL,
	data TEXT NOT NULL,
	PRIMARY KEY (cluster_id, name)
);
CREATE TABLE users (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	password_hash TEXT NOT NULL,
	role TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE TABLE sessions (
	id_hash {{blob}} PRIMARY KEY,
	user_id TEXT NOT NULL REFERENCES users(id),
	csrf TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE TABLE api_tokens (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	role TEXT NOT NULL,
	hash {{blob}} NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL DEFAULT 0,
	revoked_at BIGINT NOT NULL DEFAULT 0
);
`, nil},
	{2, "images, vulnerabilities, admission events, bundles", `
CREATE TABLE cluster_images (
	cluster_id TEXT NOT NULL REFERENCES clusters(id),
	ref TEXT NOT NULL,
	digest TEXT NOT NULL,
	workloads INTEGER NOT NULL,
	namespaces TEXT NOT NULL,
	PRIMARY KEY (cluster_id, ref, digest)
);
CREATE INDEX cluster_images_digest ON cluster_images(digest);
CREATE TABLE image_scans (
	cluster_id TEXT NOT NULL REFERENCES clusters(id),
	digest TEXT NOT NULL,
	ref TEXT NOT NULL,
	db_stamp TEXT NOT NULL,
	scanned_at BIGINT NOT NULL,
	error TEXT NOT NULL,
	PRIMARY KEY (cluster_id, digest)
);
CREATE TABLE image_vulns (
	cluster_id TEXT NOT NULL,
	digest TEXT NOT NULL,
	vuln_id TEXT NOT NULL,
	package TEXT NOT NULL,
	installed TEXT NOT NULL,
	severity INTEGER NOT NULL,
	data TEXT NOT NULL,
	PRIMARY KEY (cluster_id, digest, vuln_id, package, installed)
);
CREATE INDEX image_vulns_id ON image_vulns(vuln_id);
CREATE TABLE image_vuln_aliases (
	cluster_id TEXT NOT NULL,
	digest TEXT NOT NULL,
	alias TEXT NOT NULL,
	PRIMARY KEY (cluster_id, digest, alias)
);
CREATE INDEX image_vuln_aliases_alias ON image_vuln_aliases(alias);
CREATE TABLE admission_events (
	cluster_id TEXT NOT NULL REFERENCES clusters(id),
	id TEXT NOT NULL,
	time BIGINT NOT NULL,
	operation TEXT NOT NULL,
	decision TEXT NOT NULL,
	break_glass INTEGER NOT NULL,
	data TEXT NOT NULL,
	PRIMARY KEY (cluster_id, id)
);
CREATE INDEX admission_events_time ON admission_events(time);
CREATE TABLE bundles (
	kind TEXT NOT NULL,
	name TEXT NOT NULL,
	cluster_id TEXT NOT NULL,
	version BIGINT NOT NULL,
	sha256 TEXT NOT NULL,
	signature {{blob}} NOT NULL,
	content {{blob}} NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (kind, name, cluster_id)
);
`, nil},
	{3, "counters maintained at ingest: findings by cluster and severity, by cluster and rule; rules evaluated per cluster", `
CREATE TABLE cluster_severity_counts (
	cluster_id TEXT NOT NULL REFERENCES clusters(id),
	severity INTEGER NOT NULL,
	n BIGINT NOT NULL,
	PRIMARY KEY (cluster_id, severity)
);
CREATE TABLE cluster_rule_counts (
	cluster_id TEXT NOT NULL REFERENCES clusters(id),
	rule_id TEXT NOT NULL,
	title TEXT NOT NULL,
	severity INTEGER NOT NULL,
	objects BIGINT NOT NULL,
	PRIMARY KEY (cluster_id, rule_id)
);
CREATE INDEX cluster_rule_counts_rule ON cluster_rule_counts(rule_id);
CREATE TABLE cluster_rules (
	cluster_id TEXT NOT NULL REFERENCES clusters(id),
	rule_id TEXT NOT NULL,
	PRIMARY KEY (cluster_id, rule_id)
);
CREATE INDEX cluster_rules_rule ON cluster_rules(rule_id);
CREATE INDEX clusters_last_seen ON clusters(last_seen);
CREATE INDEX cluster_images_ref ON cluster_images(ref, cluster_id);
CREATE INDEX image_vulns_digest ON image_vulns(digest);
INSERT INTO cluster_severity_counts (cluster_id, severity, n)
	SELECT cluster_id, severity, COUNT(*) FROM findings WHERE suppressed = 0 GROUP BY cluster_id, severity;
INSERT INTO cluster_rule_counts (cluster_id, rule_id, title, severity, objects)
	SELECT cluster_id, rule_id, MAX(title), MAX(severity), COUNT(DISTINCT object_key) FROM findings WHERE suppressed = 0 GROUP BY cluster_id, rule_id;
`, backfillClusterRules},
	{4, "revocation is a state of the cluster; renewals are rate-limited per cluster", `
ALTER TABLE clusters ADD COLUMN revoked_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clusters ADD COLUMN renewed_at BIGINT NOT NULL DEFAULT 0;
UPDATE clusters SET revoked_at = (SELECT MIN(revoked_at) FROM certificates WHERE certificates.cluster_id = clusters.id)
	WHERE NOT EXISTS (SELECT 1 FROM certificates WHERE certificates.cluster_id = clusters.id AND revoked_at = 0)
	AND EXISTS (SELECT 1 FROM certificates WHERE certificates.cluster_id = clusters.id);
`, nil},
	{5, "per-cluster quota of admission events: a counter of those dropped over it; when each agent's last report was applied", `
ALTER TABLE clusters ADD COLUMN admission_dropped BIGINT NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN last_report BIGINT NOT NULL DEFAULT 0;
CREATE INDEX admission_events_cluster_time ON admission_events(cluster_id, time);
`, nil},
	{6, "accounts: disabled users, API tokens' last use, the audit trail of account and credential changes", `
ALTER TABLE users ADD COLUMN disabled_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_tokens ADD COLUMN last_used_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX api_tokens_name ON api_tokens(name);
CREATE TABLE audit_events (
	id TEXT PRIMARY KEY,
	time BIGINT NOT NULL,
	actor TEXT NOT NULL,
	action TEXT NOT NULL,
	target TEXT NOT NULL,
	detail TEXT NOT NULL
);
CREATE INDEX audit_events_time ON audit_events(time);
`, nil},
	{8, "framework compliance scores per cluster over time", `
CREATE TABLE framework_scores (
	cluster_id TEXT NOT NULL REFERENCES clusters(id),
	framework TEXT NOT NULL,
	at BIGINT NOT NULL,
	gen BIGINT NOT NULL,
	score_permille INTEGER NOT NULL,
	passed INTEGER NOT NULL,
	failed INTEGER NOT NULL,
	not_applicable INTEGER NOT NULL,
	manual INTEGER NOT NULL,
	PRIMARY KEY (cluster_id, framework, at)
);
CREATE INDEX framework_scores_at ON framework_scores(at);
`, nil},
	{9, "Sigstore verification of the images each cluster runs", verificationsMigration, nil},
	{10, "runtime sensors: each node's sensor state, runtime findings (appended, quota and retention as admission events)", `
CREATE TABLE runtime_sensors (
	cluster_id TEXT NOT NULL REFERENCES clusters(id),
	node TEXT NOT NULL,
	mode TEXT NOT NULL,
	updated_at BIGINT NOT NULL,
	data TEXT NOT NULL,
	PRIMARY KEY (cluster_id, node)
);
CREATE TABLE runtime_findings (
	cluster_id TEXT NOT NULL REFERENCES clusters(id),
	id TEXT NOT NULL,
	time BIGINT NOT NULL,
	node TEXT NOT NULL,
	rule_id TEXT NOT NULL,
	severity INTEGER NOT NULL,
	namespace TEXT NOT NULL,
	name TEXT NOT NULL,
	data TEXT NOT NULL,
	PRIMARY KEY (cluster_id, id)
);
CREATE INDEX runtime_findings_time ON runtime_findings(time);
CREATE INDEX runtime_findings_cluster_time ON runtime_findings(cluster_id, time);
ALTER TABLE clusters ADD COLUMN runtime_dropped BIGINT NOT NULL DEFAULT 0;
`, nil},
	{11, "per-cluster findings quota: the cluster's findings rows counted at ingest; reports refused over a quota", `
ALTER TABLE clusters ADD COLUMN finding_rows BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clusters ADD COLUMN quota_refused BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clusters ADD COLUMN quota_refused_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clusters ADD COLUMN quota_reason TEXT NOT NULL DEFAULT '';
UPDATE clusters SET finding_rows = (SELECT COUNT(*) FROM findings WHERE findings.cluster_id = clusters.id);
`, nil},
	{12, "sign-in lockouts shared by the hub's replicas, and their unlocks", `
CREATE TABLE auth_lockouts (
	key TEXT PRIMARY KEY,
	locked_until BIGINT NOT NULL,
	unlocked_at BIGINT NOT NULL
);
`, nil},
	// No query reads findings by generation since reports are diffed by
	// fingerprint; the index was still written by every insert, and
	// since every rewrite of a finding changes gen, it kept PostgreSQL
	// from updating changed findings in place (HOT).
	{13, "findings: drop the unused index on (cluster_id, gen)", `
DROP INDEX IF EXISTS findings_gen;
`, nil},
	{14, "learned runtime profiles: per cluster and workload, learning window then locked", `
CREATE TABLE runtime_profiles (
	cluster_id TEXT NOT NULL REFERENCES clusters(id),
	workload TEXT NOT NULL,
	learn_until BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	data TEXT NOT NULL,
	PRIMARY KEY (cluster_id, workload)
);
CREATE INDEX runtime_profiles_updated ON runtime_profiles(updated_at);
ALTER TABLE clusters ADD COLUMN runtime_profiles_dropped BIGINT NOT NULL DEFAULT 0;
`, nil},
	// Reports are diffed against the stored findings by the hash of each
	// finding's JSON as the agent sent it, so the diff reads 32 bytes a
	// row instead of the data (about 450). Rows stored before have no
	// hash: each is rewritten once, the first time its object is
	// reported again.
	{15, "findings: the hash of each finding's JSON as received, to skip unchanged findings", `
ALTER TABLE findings ADD COLUMN dhash TEXT NOT NULL DEFAULT '';
`, nil},
	// A snapshot reads back and diffs only the objects whose findings
	// changed (objectdigest.go). Empty after the upgrade: each cluster's
	// next snapshot is diffed whole and fills it.
	{16, "object digests: per reported object, a digest of its findings rows, so a snapshot diffs only the objects that changed", `
CREATE TABLE object_digests (
	cluster_id TEXT NOT NULL REFERENCES clusters(id),
	object_key TEXT NOT NULL,
	digest TEXT NOT NULL,
	seen BIGINT NOT NULL,
	PRIMARY KEY (cluster_id, object_key)
);
`, nil},
	// A snapshot skips the objects whose digest is unchanged, so a write
	// of findings rows that does not keep object_digests makes the next
	// snapshot leave stale rows. On PostgreSQL several replicas share the
	// database, and during a rolling upgrade a replica from before
	// migration 16 (which never checks the schema again once started)
	// keeps applying reports without digests (objectdigest.go).
	{17, "object digests: a write of findings by a hub that does not keep them voids every cluster's digests (PostgreSQL)", ``, findingsOutsideDigests},
	// The hub caches each cluster's object_digests rows (digestcache.go);
	// a report's claim moves the tag, which proves a restored database
	// is not the one the cache was taken from. 0 until a claim sets it:
	// the first snapshot after the upgrade reads its digests back.
	{18, "clusters: digests_tag, which the object digests a hub caches are checked against", `
ALTER TABLE clusters ADD COLUMN digests_tag BIGINT NOT NULL DEFAULT 0;
`, nil},
}

// findingsOutsideDigests (migration 17, PostgreSQL; SQLite has one hub
// process, which refuses a database newer than itself) adds a statement
// trigger on findings: a statement of a transaction that has not set
// palisade.object_digests (claimSeq sets it; a hub before migration 16
// or an operator's SQL does not) deletes every cluster's completeness
// row, so each cluster's next snapshot is diffed whole and refills its
// digests. The partial index makes that delete read only those rows.
func findingsOutsideDigests(ctx context.Context, tx *sql.Tx, d dialect) error {
	if !d.dollar {
		return nil
	}
	for _, q := range []string{
		`CREATE INDEX object_digests_complete ON object_digests (cluster_id) WHERE object_key = ''`,
		`CREATE FUNCTION palisade_findings_outside_digests() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF current_setting('palisade.object_digests', true) IS DISTINCT FROM 'kept' THEN
		DELETE FROM object_digests WHERE object_key = '';
	END IF;
	RETURN NULL;
END $$`,
		`CREATE TRIGGER findings_outside_digests AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON findings
	FOR EACH STATEMENT EXECUTE FUNCTION palisade_findings_outside_digests()`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// backfillClusterRules fills cluster_rules from the inventories already
// stored (migration 3).
func backfillClusterRules(ctx context.Context, tx *sql.Tx, d dialect) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, inventory FROM clusters WHERE inventory <> ''`)
	if err != nil {
		return err
	}
	type pair struct{ id, rule string }
	var all []pair
	for rows.Next() {
		var id, inv string
		if err := rows.Scan(&id, &inv); err != nil {
			rows.Close()
			return err
		}
		var v struct {
			Rules []string `json:"rules"`
		}
		if err := json.Unmarshal([]byte(inv), &v); err != nil {
			rows.Close()
			return fmt.Errorf("cluster %s: inventory: %w", id, err)
		}
		for _, r := range v.Rules {
			all = append(all, pair{id, r})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, p := range all {
		if _, err := tx.ExecContext(ctx, d.rebind(`INSERT INTO cluster_rules (cluster_id, rule_id) VALUES (?, ?) ON CONFLICT (cluster_id, rule_id) DO NOTHING`), p.id, p.rule); err != nil {
			return err
		}
	}
	return nil
}

// LatestSchemaVersion is the version this binary migrates to.
func LatestSchemaVersion() int { return migrations[len(migrations)-1].version }

// migrate applies pending migrations, each in its own transaction with
// its version row, under a backend lock so concurrent hub replicas
// starting together apply each migration once. A database newer than this
// binary is refused rather than used with a schema it does not know.
func migrate(ctx context.Context, pool *sql.DB, d dialect, upTo int) error {
	db, err := pool.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	defer db.Close()
	if d.lockMigrations != "" {
		if _, err := db.ExecContext(ctx, d.lockMigrations); err != nil {
			return fmt.Errorf("migrations: lock: %w", err)
		}
		defer db.ExecContext(context.WithoutCancel(ctx), d.unlockMigrations) //nolint:errcheck // the lock dies with the session anyway
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range migrations {
		if m.version > upTo {
			break
		}
		if err := applyMigration(ctx, db, d, m); err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
	}
	var max sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&max); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if int(max.Int64) > LatestSchemaVersion() {
		return fmt.Errorf("database schema version %d is newer than this hub (%d): upgrade the hub", max.Int64, LatestSchemaVersion())
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.Conn, d dialect, m migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	var n int
	if err := tx.QueryRowContext(ctx, d.rebind(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	for _, stmt := range strings.Split(strings.ReplaceAll(m.sql, "{{blob}}", d.blob), ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", strings.TrimSpace(stmt), err)
		}
	}
	if m.post != nil {
		if err := m.post(ctx, tx, d); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, d.rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
		m.version, m.name, time.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}
