package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Accounts and credentials: what an admin changes about users, API tokens
// and sessions, and the audit trail of those changes.

const userCols = `id, name, password_hash, role, created_at, disabled_at`

func scanUser(sc interface{ Scan(...any) error }) (User, error) {
	var u User
	var created, disabled int64
	if err := sc.Scan(&u.ID, &u.Name, &u.PasswordHash, &u.Role, &created, &disabled); err != nil {
		return u, err
	}
	u.CreatedAt, u.DisabledAt = fromMS(created), fromMS(disabled)
	return u, nil
}

func (s *sqlStore) ListUsers(ctx context.Context, now time.Time) ([]UserInfo, error) {
	rows, err := s.query(ctx, s.db, `SELECT `+userCols+`, (SELECT COUNT(*) FROM sessions WHERE sessions.user_id = users.id AND sessions.expires_at > ?)
		FROM users ORDER BY name`, ms(now))
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []UserInfo
	for rows.Next() {
		var ui UserInfo
		var created, disabled int64
		if err := rows.Scan(&ui.ID, &ui.Name, &ui.PasswordHash, &ui.Role, &created, &disabled, &ui.Sessions); err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		ui.CreatedAt, ui.DisabledAt = fromMS(created), fromMS(disabled)
		ui.PasswordHash = "" // never leaves the store through a listing
		out = append(out, ui)
	}
	return out, rows.Err()
}

// lockUser reads the account called name inside tx, locking its row on
// PostgreSQL.
func (s *sqlStore) lockUser(ctx context.Context, tx *sql.Tx, name string) (User, error) {
	u, err := scanUser(s.queryRow(ctx, tx, `SELECT `+userCols+` FROM users WHERE name = ?`+s.d.forUpdate(), name))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return u, fmt.Errorf("user %q: %w", name, err)
	}
	return u, nil
}

// keepAnAdmin refuses, inside tx, a change that left no enabled admin:
// nobody could then manage the hub but by editing its database.
func (s *sqlStore) keepAnAdmin(ctx context.Context, tx *sql.Tx, name, what string) error {
	var n int
	// Lock the admins' rows on PostgreSQL so two concurrent demotions
	// cannot each see the other as the remaining admin.
	if s.d.dollar {
		if _, err := s.exec(ctx, tx, `SELECT id FROM users WHERE role = ? FOR UPDATE`, RoleAdmin); err != nil {
			return err
		}
	}
	if err := s.queryRow(ctx, tx, `SELECT COUNT(*) FROM users WHERE role = ? AND disabled_at = 0`, RoleAdmin).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return Invalid("user", "%q is the last enabled admin: %s would leave nobody to manage the hub (make another admin first)", name, what)
	}
	return nil
}

func (s *sqlStore) deleteSessions(ctx context.Context, tx *sql.Tx, userID string) (int, error) {
	res, err := s.exec(ctx, tx, `DELETE FROM sessions WHERE user_id = ?`, userID)
	if err != nil {
		return 0, fmt.Errorf("end sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

func (s *sqlStore) UpdateUser(ctx context.Context, name string, ch UserChange, now time.Time) (User, int, error) {
	if ch.Role != nil {
		if err := checkRole(*ch.Role); err != nil {
			return User{}, 0, fmt.Errorf("user %q: %w", name, err)
		}
	}
	if ch.PasswordHash != nil && *ch.PasswordHash == "" {
		return User{}, 0, Invalid("password", "empty")
	}
	var u User
	var ended int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if u, err = s.lockUser(ctx, tx, name); err != nil {
			return err
		}
		endSessions := false
		if ch.PasswordHash != nil {
			u.PasswordHash, endSessions = *ch.PasswordHash, true
		}
		if ch.Role != nil && *ch.Role != u.Role {
			u.Role, endSessions = *ch.Role, true
		}
		if ch.Disabled != nil {
			switch {
			case *ch.Disabled && u.DisabledAt.IsZero():
				u.DisabledAt, endSessions = now, true
			case !*ch.Disabled:
				u.DisabledAt = time.Time{}
			}
			if *ch.Disabled {
				endSessions = true // already disabled: make sure none is left
			}
		}
		if _, err := s.exec(ctx, tx, `UPDATE users SET password_hash = ?, role = ?, disabled_at = ? WHERE id = ?`,
			u.PasswordHash, u.Role, ms(u.DisabledAt), u.ID); err != nil {
			return fmt.Errorf("user %q: %w", name, err)
		}
		if endSessions {
			if ended, err = s.deleteSessions(ctx, tx, u.ID); err != nil {
				return fmt.Errorf("user %q: %w", name, err)
			}
		}
		return s.keepAnAdmin(ctx, tx, name, "this change")
	})
	u.PasswordHash = ""
	return u, ended, err
}

func (s *sqlStore) DeleteUser(ctx context.Context, name string) (int, error) {
	var ended int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		u, err := s.lockUser(ctx, tx, name)
		if err != nil {
			return err
		}
		if ended, err = s.deleteSessions(ctx, tx, u.ID); err != nil {
			return fmt.Errorf("user %q: %w", name, err)
		}
		if _, err := s.exec(ctx, tx, `DELETE FROM users WHERE id = ?`, u.ID); err != nil {
			return fmt.Errorf("user %q: %w", name, err)
		}
		return s.keepAnAdmin(ctx, tx, name, "deleting it")
	})
	return ended, err
}

func (s *sqlStore) DeleteUserSessions(ctx context.Context, name string) (int, error) {
	var ended int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		u, err := s.lockUser(ctx, tx, name)
		if err != nil {
			return err
		}
		ended, err = s.deleteSessions(ctx, tx, u.ID)
		return err
	})
	return ended, err
}

func (s *sqlStore) ListAPITokens(ctx context.Context) ([]APIToken, error) {
	rows, err := s.query(ctx, s.db, `SELECT id, name, role, created_at, expires_at, revoked_at, last_used_at FROM api_tokens ORDER BY name, created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list api tokens: %w", err)
	}
	defer rows.Close()
	var out []APIToken
	for rows.Next() {
		var t APIToken
		var created, expires, revoked, used int64
		if err := rows.Scan(&t.ID, &t.Name, &t.Role, &created, &expires, &revoked, &used); err != nil {
			return nil, fmt.Errorf("list api tokens: %w", err)
		}
		t.CreatedAt, t.ExpiresAt, t.RevokedAt, t.LastUsedAt = fromMS(created), fromMS(expires), fromMS(revoked), fromMS(used)
		out = append(out, t)
	}
	return out, rows.Err()
}

func (s *sqlStore) RevokeAPITokens(ctx context.Context, ref string, now time.Time) (int, error) {
	if ref == "" {
		return 0, Invalid("token", "empty: want a token ID or name")
	}
	var n int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// An ID wins over a name: IDs are what the listing shows to tell
		// tokens of one name apart.
		col := "id"
		var exists int
		if err := s.queryRow(ctx, tx, `SELECT COUNT(*) FROM api_tokens WHERE id = ?`, ref).Scan(&exists); err != nil {
			return err
		}
		if exists == 0 {
			col = "name"
			if err := s.queryRow(ctx, tx, `SELECT COUNT(*) FROM api_tokens WHERE name = ?`, ref).Scan(&exists); err != nil {
				return err
			}
		}
		if exists == 0 {
			return fmt.Errorf("api token %q: %w", ref, ErrNotFound)
		}
		res, err := s.exec(ctx, tx, `UPDATE api_tokens SET revoked_at = ? WHERE `+col+` = ? AND revoked_at = 0`, ms(now), ref)
		if err != nil {
			return fmt.Errorf("api token %q: %w", ref, err)
		}
		c, _ := res.RowsAffected()
		n = int(c)
		return nil
	})
	return n, err
}

func (s *sqlStore) TouchAPIToken(ctx context.Context, id string, now time.Time) error {
	if _, err := s.exec(ctx, s.db, `UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND last_used_at < ?`,
		ms(now), id, ms(now.Add(-time.Minute))); err != nil {
		return fmt.Errorf("api token %s: last use: %w", id, err)
	}
	return nil
}

func (s *sqlStore) AddAuditEvent(ctx context.Context, e AuditEvent) error {
	if e.ID == "" {
		// Wall-clock nanoseconds first: events of one millisecond (or of
		// a frozen test clock) still list in the order they were made.
		e.ID = fmt.Sprintf("ae-%016x-%s", time.Now().UnixNano(), newID(""))
	}
	if _, err := s.exec(ctx, s.db, `INSERT INTO audit_events (id, time, actor, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)`,
		e.ID, ms(e.Time), e.Actor, e.Action, e.Target, e.Detail); err != nil {
		return fmt.Errorf("audit event %s %s: %w", e.Action, e.Target, err)
	}
	return nil
}

func (s *sqlStore) ListAuditEvents(ctx context.Context, limit int) ([]AuditEvent, error) {
	if limit <= 0 {
		limit = 200
	}
	rows, err := s.query(ctx, s.db, `SELECT id, time, actor, action, target, detail FROM audit_events ORDER BY time DESC, id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("audit events: %w", err)
	}
	defer rows.Close()
	var out []AuditEvent
	for rows.Next() {
		var e AuditEvent
		var t int64
		if err := rows.Scan(&e.ID, &t, &e.Actor, &e.Action, &e.Target, &e.Detail); err != nil {
			return nil, fmt.Errorf("audit events: %w", err)
		}
		e.Time = fromMS(t)
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s *sqlStore) LookupSecret(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := s.queryRow(ctx, s.db, `SELECT value FROM hub_secrets WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("secret %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return v, nil
}

func (s *sqlStore) WipeSecret(ctx context.Context, name string) error {
	if s.d.dollar {
		if _, err := s.exec(ctx, s.db, `DELETE FROM hub_secrets WHERE name = ?`, name); err != nil {
			return fmt.Errorf("secret %s: delete: %w", name, err)
		}
		// The deleted row version stays in the table's pages until vacuumed.
		if _, err := s.db.ExecContext(ctx, `VACUUM hub_secrets`); err != nil {
			return fmt.Errorf("secret %s: vacuum: %w", name, err)
		}
		return nil
	}
	// SQLite: the writer connection overwrites the deleted cell with
	// zeros (secure_delete), then the WAL, which still holds the page as
	// it was, is copied back and truncated.
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("secret %s: %w", name, err)
	}
	defer conn.Close()
	for _, q := range []string{`PRAGMA secure_delete = ON`, `DELETE FROM hub_secrets WHERE name = ?`, `PRAGMA secure_delete = OFF`, `PRAGMA wal_checkpoint(TRUNCATE)`} {
		var args []any
		if strings.Contains(q, "?") {
			args = []any{name}
		}
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("secret %s: %s: %w", name, q, err)
		}
	}
	return nil
}
