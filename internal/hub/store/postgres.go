package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib" // also registers the database/sql driver "pgx"
)

// Postgres is the backend for large fleets and several hub replicas: all
// state is in the database and every multi-step change is one transaction
// (row locks decide races between replicas; migrations take an advisory
// lock).
type Postgres struct{ *sqlStore }

// OpenPostgres connects with a postgres:// URL and migrates the schema.
func OpenPostgres(ctx context.Context, dsn string) (*Postgres, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := migrate(ctx, db, postgresDialect, LatestSchemaVersion()); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// The committers' own pool: in a 10,000-cluster run every agent
	// request read its certificate from the shared pool, hundreds of them
	// waited for its 32 connections, and a committer ending a group
	// waited among them for its next connection (database/sql hands a
	// freed connection to a random waiter) while its reports' agents
	// timed out: the replica applied nothing for minutes.
	cdb, err := openGenericPlans(dsn)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	cdb.SetMaxOpenConns(pgCommitters)
	cdb.SetMaxIdleConns(pgCommitters)
	cdb.SetConnMaxIdleTime(5 * time.Minute)
	// The agents' certificate lookups, one per agent request, get a pool
	// of their own too: in the same run, once the committers had theirs,
	// 1,300 requests waited for the shared pool's connections to read
	// their certificate, and the dashboard's reads and the heartbeat flush
	// waited behind them.
	adb, err := openGenericPlans(dsn)
	if err != nil {
		db.Close()
		cdb.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	adb.SetMaxOpenConns(pgCertConns)
	adb.SetMaxIdleConns(pgCertConns)
	adb.SetConnMaxIdleTime(5 * time.Minute)
	s := &Postgres{&sqlStore{db: db, commitDB: cdb, certDB: adb, d: postgresDialect, digests: newDigestCache(digestCacheBytes)}}
	s.startCommitters(pgCommitters)
	s.startCertLookups(pgCertConns)
	s.startHeartbeats()
	s.startSeen()
	return s, nil
}

// openGenericPlans opens a pool whose sessions run their prepared
// statements with generic plans (plan_cache_mode, PostgreSQL 12 and
// later), unless the URL sets plan_cache_mode itself. It serves the
// committers and the certificate lookups, whose statements are the same
// few texts run thousands of times a second with different arrays, and
// whose plans do not depend on the values: the same index lookups
// whatever the keys (TestGenericPlans). Left to PostgreSQL's default
// (auto), a session re-plans a statement for every execution when its
// first five custom plans looked cheaper than the generic one, and which
// sessions did depended on their first reports: under a load of deltas
// (issue #17), writeFindingsSQL was planned on every execution in some of
// the committers' sessions (0.87 ms each) and the scope's read in all
// of them (0.14 ms), about 0.7 ms of PostgreSQL's CPU per delta of the
// 2 ms it then spent in all (pg_stat_statements, track_planning). A
// generic plan is made again when the statistics of its tables change
// (ANALYZE invalidates it), so one made while the tables were empty does
// not outlive them.
func openGenericPlans(dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if _, set := cfg.RuntimeParams["plan_cache_mode"]; !set {
		cfg.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
	return stdlib.OpenDB(*cfg), nil
}

// pgCommitters is how many groups of reports a replica commits at once,
// each on its own connection: enough to overlap one group's WAL flush
// with the next groups' statements, few enough that a group is usually
// more than one report.
const pgCommitters = 4

// pgCertConns is the connections of the certificate lookups' pool.
const pgCertConns = 8

// migrationLockKey is an arbitrary constant shared by all hub replicas.
const migrationLockKey = 0x70616c69

var postgresDialect = dialect{
	name:             "postgres",
	blob:             "BYTEA",
	dollar:           true,
	lockMigrations:   fmt.Sprintf("SELECT pg_advisory_lock(%d)", migrationLockKey),
	unlockMigrations: fmt.Sprintf("SELECT pg_advisory_unlock(%d)", migrationLockKey),
	maxParams:        60000,
}
