package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
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
	cdb, err := sql.Open("pgx", dsn)
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
	adb, err := sql.Open("pgx", dsn)
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
