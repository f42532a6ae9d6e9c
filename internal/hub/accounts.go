package hub

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/hub/store"
)

// Accounts and credentials an admin manages: users (disable, enable,
// delete, password, role, sessions), API tokens (expiry, revocation) and
// sign-in lockouts. Each change is an audit event (store.AuditEvent) the
// dashboard shows; who made it comes from the context (WithActor).

// DefaultAPITokenTTL is the lifetime of an API token when none is asked
// for: tokens made without thinking must not live forever.
const DefaultAPITokenTTL = 90 * 24 * time.Hour

// ParseTokenExpiry reads a token lifetime as operators write it: "" is
// DefaultAPITokenTTL, "0" or "never" no expiry (only when asked for), a
// Go duration ("720h") or whole days ("90d"). Negative lifetimes are
// refused.
func ParseTokenExpiry(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "":
		return DefaultAPITokenTTL, nil
	case "0", "never":
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 100*365 {
			return 0, store.Invalid("expires", "%q: want a positive number of days, a duration such as 720h, or never", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, store.Invalid("expires", "%q: want a duration such as 720h or 90d, or never", s)
	}
	return d, nil
}

type actorKey struct{}

// WithActor names who acts in ctx, for the audit trail: a user name,
// "token:NAME" for an API token. Without it the actor is "cli" (a hub
// command run with the hub's database).
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

func actorOf(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return "cli"
}

// Audit actions.
const (
	AuditUserCreate    = "user.create"
	AuditUserDisable   = "user.disable"
	AuditUserEnable    = "user.enable"
	AuditUserDelete    = "user.delete"
	AuditUserPassword  = "user.password"
	AuditUserRole      = "user.role"
	AuditUserSessions  = "user.sessions-ended"
	AuditTokenCreate   = "token.create"
	AuditTokenRevoke   = "token.revoke"
	AuditLockoutUnlock = "lockout.unlock"
	AuditKeysMigrated  = "keys.migrated"
)

// audit records an event and logs it. A change already made is not
// undone when the trail cannot be written: the failure is logged at error
// level and returned for the caller to report.
func (h *Hub) audit(ctx context.Context, action, target, detail string) error {
	e := store.AuditEvent{Time: h.cfg.Now(), Actor: actorOf(ctx), Action: action, Target: target, Detail: detail}
	h.log.InfoContext(ctx, "audit", slog.String("action", action), slog.String("target", target), slog.String("detail", detail), slog.String("by", e.Actor))
	if err := h.st.AddAuditEvent(ctx, e); err != nil {
		h.log.ErrorContext(ctx, "audit event not stored", slog.String("action", action), slog.String("target", target), slog.Any("error", err))
		return fmt.Errorf("%s %s done, but its audit event was not stored: %w", action, target, err)
	}
	return nil
}

// AuditEvents returns the newest audit events.
func (h *Hub) AuditEvents(ctx context.Context, limit int) ([]store.AuditEvent, error) {
	return h.st.ListAuditEvents(ctx, limit)
}

// ListUsers lists the accounts (no password hashes).
func (h *Hub) ListUsers(ctx context.Context) ([]store.UserInfo, error) {
	return h.st.ListUsers(ctx, h.cfg.Now())
}

// SetUserDisabled disables (ending its sessions) or enables an account.
func (h *Hub) SetUserDisabled(ctx context.Context, name string, disabled bool) (int, error) {
	_, n, err := h.st.UpdateUser(ctx, name, store.UserChange{Disabled: &disabled}, h.cfg.Now())
	if err != nil {
		return 0, err
	}
	action := AuditUserEnable
	if disabled {
		action = AuditUserDisable
	}
	return n, h.audit(ctx, action, name, sessionsDetail(n))
}

// DeleteUser deletes an account and its sessions.
func (h *Hub) DeleteUser(ctx context.Context, name string) (int, error) {
	n, err := h.st.DeleteUser(ctx, name)
	if err != nil {
		return 0, err
	}
	return n, h.audit(ctx, AuditUserDelete, name, sessionsDetail(n))
}

// SetPassword changes an account's password and ends its sessions.
func (h *Hub) SetPassword(ctx context.Context, name, password string) (int, error) {
	hash, err := HashPassword(password)
	if err != nil {
		return 0, fmt.Errorf("user %q: %w", name, err)
	}
	_, n, err := h.st.UpdateUser(ctx, name, store.UserChange{PasswordHash: &hash}, h.cfg.Now())
	if err != nil {
		return 0, err
	}
	return n, h.audit(ctx, AuditUserPassword, name, sessionsDetail(n))
}

// SetRole changes an account's role; a change ends its sessions.
func (h *Hub) SetRole(ctx context.Context, name, role string) (int, error) {
	_, n, err := h.st.UpdateUser(ctx, name, store.UserChange{Role: &role}, h.cfg.Now())
	if err != nil {
		return 0, err
	}
	return n, h.audit(ctx, AuditUserRole, name, "role "+role+"; "+sessionsDetail(n))
}

// EndSessions signs the user out everywhere.
func (h *Hub) EndSessions(ctx context.Context, name string) (int, error) {
	n, err := h.st.DeleteUserSessions(ctx, name)
	if err != nil {
		return 0, err
	}
	return n, h.audit(ctx, AuditUserSessions, name, sessionsDetail(n))
}

func sessionsDetail(n int) string {
	if n == 1 {
		return "1 session ended"
	}
	return strconv.Itoa(n) + " sessions ended"
}

// ListAPITokens lists every API token (never their secrets).
func (h *Hub) ListAPITokens(ctx context.Context) ([]store.APIToken, error) {
	ts, err := h.st.ListAPITokens(ctx)
	for i := range ts {
		ts[i].Hash = nil
	}
	return ts, err
}

// RevokeAPIToken revokes the token with ID ref, or every token called
// ref, and returns how many it revoked (0: already revoked).
func (h *Hub) RevokeAPIToken(ctx context.Context, ref string) (int, error) {
	n, err := h.st.RevokeAPITokens(ctx, ref, h.cfg.Now())
	if err != nil {
		return 0, err
	}
	return n, h.audit(ctx, AuditTokenRevoke, ref, strconv.Itoa(n)+" revoked")
}

// Unlock lifts the sign-in lockouts of a source on this replica: the
// client address (IPv6: its /64) and, when user is given, that user name
// from that address; an address without a user name lifts the address's
// own limits (logins and tokens). Lockouts are per replica, in memory:
// behind a load balancer, unlock on each replica or wait (at most 15
// minutes by default).
func (h *Hub) Unlock(ctx context.Context, address, user string) error {
	a, err := netip.ParseAddr(strings.TrimSpace(address))
	if err != nil {
		return store.Invalid("address", "%q: want an IP address", address)
	}
	client := clientKey(a.Unmap())
	target := client
	var rows []string
	if user != "" {
		h.guard.account.Reset(accountKey(client, user))
		target = user + "@" + client
		rows = []string{"account:" + accountKey(client, user)}
	} else {
		h.guard.client.Reset(client)
		h.guard.token.Reset(client)
		rows = []string{"client:" + client}
	}
	// Every replica lifts it (lockouts.go); token lockouts stay per
	// replica.
	if err := h.st.UnlockLockouts(ctx, rows, h.cfg.Now()); err != nil {
		return err
	}
	return h.audit(ctx, AuditLockoutUnlock, target, "")
}
