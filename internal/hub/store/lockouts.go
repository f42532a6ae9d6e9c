package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Sign-in lockouts are counted by each hub replica in memory
// (internal/hub/authlimit), but a lockout, once it starts, and an admin's
// unlock are written here, so every replica sharing the database refuses
// a locked attempt source and lifts it when an admin says so on any
// replica. Rows are keyed by the limiter's key ("account:" or "client:"
// and the attempt source) and bounded by the lockouts in force: the hub
// prunes those ended and not unlocked since.

// Lockout is one key's shared state: locked until Until (zero: not
// locked), unlocked by an admin at UnlockedAt (zero: never).
type Lockout struct {
	Until, UnlockedAt time.Time
}

func (s *sqlStore) Lockouts(ctx context.Context, keys []string) (map[string]Lockout, error) {
	out := make(map[string]Lockout, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	rows, err := s.query(ctx, s.db, `SELECT key, locked_until, unlocked_at FROM auth_lockouts WHERE key IN (`+placeholders(len(keys))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("lockouts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var until, unlocked int64
		if err := rows.Scan(&k, &until, &unlocked); err != nil {
			return nil, fmt.Errorf("lockouts: %w", err)
		}
		out[k] = Lockout{Until: fromMS(until), UnlockedAt: fromMS(unlocked)}
	}
	return out, rows.Err()
}

func (s *sqlStore) RecordLockout(ctx context.Context, key string, until time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO auth_lockouts (key, locked_until, unlocked_at) VALUES (?, ?, 0)
			ON CONFLICT (key) DO UPDATE SET locked_until = CASE WHEN auth_lockouts.locked_until < excluded.locked_until THEN excluded.locked_until ELSE auth_lockouts.locked_until END`,
			key, ms(until))
		if err != nil {
			return fmt.Errorf("lockout: %w", err)
		}
		return nil
	})
}

func (s *sqlStore) UnlockLockouts(ctx context.Context, keys []string, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, k := range keys {
			if _, err := s.exec(ctx, tx, `INSERT INTO auth_lockouts (key, locked_until, unlocked_at) VALUES (?, 0, ?)
				ON CONFLICT (key) DO UPDATE SET locked_until = 0, unlocked_at = excluded.unlocked_at`, k, ms(now)); err != nil {
				return fmt.Errorf("unlock: %w", err)
			}
		}
		return nil
	})
}

func (s *sqlStore) PruneLockouts(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, `DELETE FROM auth_lockouts WHERE locked_until < ? AND unlocked_at < ?`, ms(before), ms(before))
		if err != nil {
			return fmt.Errorf("prune lockouts: %w", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}
