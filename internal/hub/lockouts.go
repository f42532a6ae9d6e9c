package hub

import (
	"context"
	"log/slog"
	"time"

	"github.com/palisade-sec/palisade/internal/hub/authlimit"
)

// Sign-in lockouts shared by replicas. Each replica counts failures in
// memory (authlimit), which keeps the per-attempt bookkeeping off the
// database; but a lockout, when one starts, is written to the database
// (store.RecordLockout), and so is an admin's unlock
// (store.UnlockLockouts). Before a sign-in is decided, the replica reads
// the two keys it concerns (the attempt source and the client address):
// a lockout another replica started refuses it here too, and an unlock
// newer than this replica's own lockout of a key lifts that lockout
// (authlimit.Limiter.Reset). A database that cannot be read leaves each
// replica to its own counts (logged): sign-ins never fail because of it.

// lockoutKeepAfter is how long an ended or lifted lockout stays in the
// database: longer than the longest lockout (15 minutes by default), so
// every replica sees an unlock of a lockout it still holds.
const lockoutKeepAfter = time.Hour

// sharedKey is one limiter key and its name in the database.
type sharedKey struct {
	lim      *authlimit.Limiter
	key, row string
}

// sharedLockout applies the database's lockouts and unlocks of keys to
// this replica and returns how long the attempt must still wait (0: it
// may go on to the replica's own limits).
func (h *Hub) sharedLockout(ctx context.Context, keys ...sharedKey) time.Duration {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.row
	}
	rows, err := h.st.Lockouts(ctx, names)
	if err != nil {
		h.log.WarnContext(ctx, "shared sign-in lockouts unreadable; this replica's own counts apply", slog.Any("error", err))
		return 0
	}
	now := h.cfg.Now()
	var wait time.Duration
	for _, k := range keys {
		row, ok := rows[k.row]
		if !ok {
			continue
		}
		until, since := k.lim.Locked(k.key)
		if !until.IsZero() && !row.UnlockedAt.IsZero() && !row.UnlockedAt.Before(since) {
			k.lim.Reset(k.key) // lifted by an admin, on whichever replica
		} else if !until.IsZero() {
			continue // this replica's own lockout: its limiter answers
		}
		if row.Until.After(now) {
			wait = max(wait, row.Until.Sub(now))
		}
	}
	return wait
}

// shareLockout writes a lockout this replica started (lock > 0) for every
// replica to see; a failure is logged and the lockout stays local.
func (h *Hub) shareLockout(ctx context.Context, row string, lock time.Duration) {
	if lock <= 0 {
		return
	}
	if err := h.st.RecordLockout(context.WithoutCancel(ctx), row, h.cfg.Now().Add(lock)); err != nil {
		h.log.WarnContext(ctx, "sign-in lockout not shared with the other replicas", slog.Any("error", err))
	}
}

// pruneLockouts deletes lockouts ended and not lifted within
// lockoutKeepAfter.
func (h *Hub) pruneLockouts(ctx context.Context) {
	if _, err := h.st.PruneLockouts(ctx, h.cfg.Now().Add(-lockoutKeepAfter)); err != nil {
		h.log.ErrorContext(ctx, "sign-in lockout retention", slog.Any("error", err))
	}
}
