package hub

import (
	"net/http"
	"time"

	"github.com/palisade-sec/palisade/internal/hub/store"
)

// The account API: admins manage users, API tokens and lockouts; every
// change is an audit event (GET /api/v1/audit-events).
func (h *Hub) routeAccounts(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/users", h.user(store.RoleAdmin, h.listUsers))
	mux.Handle("POST /api/v1/users/{name}/disable", h.user(store.RoleAdmin, h.userAction(func(r *http.Request, name string) (int, error) {
		return h.SetUserDisabled(r.Context(), name, true)
	})))
	mux.Handle("POST /api/v1/users/{name}/enable", h.user(store.RoleAdmin, h.userAction(func(r *http.Request, name string) (int, error) {
		return h.SetUserDisabled(r.Context(), name, false)
	})))
	mux.Handle("DELETE /api/v1/users/{name}", h.user(store.RoleAdmin, h.userAction(func(r *http.Request, name string) (int, error) {
		return h.DeleteUser(r.Context(), name)
	})))
	mux.Handle("DELETE /api/v1/users/{name}/sessions", h.user(store.RoleAdmin, h.userAction(func(r *http.Request, name string) (int, error) {
		return h.EndSessions(r.Context(), name)
	})))
	mux.Handle("POST /api/v1/users/{name}/password", h.user(store.RoleAdmin, h.setPassword))
	mux.Handle("POST /api/v1/users/{name}/role", h.user(store.RoleAdmin, h.setRole))
	mux.Handle("GET /api/v1/tokens", h.user(store.RoleAdmin, h.listTokens))
	mux.Handle("POST /api/v1/tokens/{ref}/revoke", h.user(store.RoleAdmin, h.revokeToken))
	mux.Handle("POST /api/v1/lockouts/unlock", h.user(store.RoleAdmin, h.unlock))
	mux.Handle("GET /api/v1/audit-events", h.user(store.RoleAdmin, h.auditEvents))
}

// UserView is an account as the API lists it.
type UserView struct {
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	Disabled   bool       `json:"disabled"`
	DisabledAt *time.Time `json:"disabledAt,omitempty"`
	Sessions   int        `json:"sessions"`
	CreatedAt  time.Time  `json:"createdAt"`
}

func (h *Hub) listUsers(w http.ResponseWriter, r *http.Request, _ principal) {
	us, err := h.ListUsers(r.Context())
	views := make([]UserView, 0, len(us))
	for _, u := range us {
		v := UserView{Name: u.Name, Role: u.Role, Disabled: !u.DisabledAt.IsZero(), Sessions: u.Sessions, CreatedAt: u.CreatedAt}
		if v.Disabled {
			t := u.DisabledAt
			v.DisabledAt = &t
		}
		views = append(views, v)
	}
	writeList(h, w, r, "users", views, err)
}

// userAction answers an action on the user named in the path with the
// sessions it ended.
func (h *Hub) userAction(do func(r *http.Request, name string) (int, error)) func(http.ResponseWriter, *http.Request, principal) {
	return func(w http.ResponseWriter, r *http.Request, _ principal) {
		n, err := do(r, r.PathValue("name"))
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"sessionsEnded": n})
	}
}

// PasswordRequest sets a user's password.
type PasswordRequest struct {
	Password string `json:"password"`
}

func (h *Hub) setPassword(w http.ResponseWriter, r *http.Request, p principal) {
	var req PasswordRequest
	if !readJSON(w, r, 4<<10, &req) {
		return
	}
	h.userAction(func(r *http.Request, name string) (int, error) { return h.SetPassword(r.Context(), name, req.Password) })(w, r, p)
}

// RoleRequest sets a user's role.
type RoleRequest struct {
	Role string `json:"role"`
}

func (h *Hub) setRole(w http.ResponseWriter, r *http.Request, p principal) {
	var req RoleRequest
	if !readJSON(w, r, 4<<10, &req) {
		return
	}
	h.userAction(func(r *http.Request, name string) (int, error) { return h.SetRole(r.Context(), name, req.Role) })(w, r, p)
}

// TokenView is an API token as the API lists it (never its secret).
type TokenView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	CreatedAt  time.Time  `json:"createdAt"`
	ExpiresAt  *time.Time `json:"expiresAt,omitempty"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	// State is active, expired or revoked.
	State string `json:"state"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (h *Hub) tokenView(t store.APIToken) TokenView {
	v := TokenView{ID: t.ID, Name: t.Name, Role: t.Role, CreatedAt: t.CreatedAt, ExpiresAt: timePtr(t.ExpiresAt),
		RevokedAt: timePtr(t.RevokedAt), LastUsedAt: timePtr(t.LastUsedAt), State: "active"}
	switch {
	case !t.RevokedAt.IsZero():
		v.State = "revoked"
	case !t.ExpiresAt.IsZero() && !h.cfg.Now().Before(t.ExpiresAt):
		v.State = "expired"
	}
	return v
}

func (h *Hub) listTokens(w http.ResponseWriter, r *http.Request, _ principal) {
	ts, err := h.ListAPITokens(r.Context())
	views := make([]TokenView, 0, len(ts))
	for _, t := range ts {
		views = append(views, h.tokenView(t))
	}
	writeList(h, w, r, "tokens", views, err)
}

func (h *Hub) revokeToken(w http.ResponseWriter, r *http.Request, _ principal) {
	n, err := h.RevokeAPIToken(r.Context(), r.PathValue("ref"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"revoked": n})
}

// UnlockRequest lifts a sign-in lockout (see Hub.Unlock).
type UnlockRequest struct {
	Address string `json:"address"`
	User    string `json:"user,omitempty"`
}

func (h *Hub) unlock(w http.ResponseWriter, r *http.Request, _ principal) {
	var req UnlockRequest
	if !readJSON(w, r, 4<<10, &req) {
		return
	}
	if err := h.Unlock(r.Context(), req.Address, req.User); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// AuditEventView is an audit event as the API lists it.
type AuditEventView struct {
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	Detail string    `json:"detail,omitempty"`
}

func (h *Hub) auditEvents(w http.ResponseWriter, r *http.Request, _ principal) {
	limit, err := intParam(r, "limit", 200)
	if err != nil || limit <= 0 || limit > 10000 {
		writeError(w, http.StatusBadRequest, "limit: want 1 to 10000")
		return
	}
	es, err := h.AuditEvents(r.Context(), limit)
	views := make([]AuditEventView, 0, len(es))
	for _, e := range es {
		views = append(views, AuditEventView{Time: e.Time, Actor: e.Actor, Action: e.Action, Target: e.Target, Detail: e.Detail})
	}
	writeList(h, w, r, "events", views, err)
}
