package hub

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/palisade-sec/palisade/internal/hub/store"
)

// The admin page's account forms: each row of the users and tokens tables
// posts here with the session's CSRF token, as every dashboard form does.
func (h *Hub) routeAdminAccounts(mux *http.ServeMux) {
	user := func(verb string, do func(r *http.Request, name string) (int, error)) http.Handler {
		return h.dashPage(store.RoleAdmin, func(w http.ResponseWriter, r *http.Request, v viewer) {
			name := r.PathValue("name")
			n, err := do(r, name)
			if err != nil {
				h.adminActionFailed(w, r, v, err)
				return
			}
			h.renderAdmin(w, r, v, http.StatusOK, "", adminData{Message: fmt.Sprintf("User %s %s; %s.", name, verb, sessionsDetail(n))})
		})
	}
	mux.Handle("POST /admin/users/{name}/disable", user("disabled", func(r *http.Request, name string) (int, error) {
		return h.SetUserDisabled(r.Context(), name, true)
	}))
	mux.Handle("POST /admin/users/{name}/enable", user("enabled", func(r *http.Request, name string) (int, error) {
		return h.SetUserDisabled(r.Context(), name, false)
	}))
	mux.Handle("POST /admin/users/{name}/delete", user("deleted", func(r *http.Request, name string) (int, error) {
		return h.DeleteUser(r.Context(), name)
	}))
	mux.Handle("POST /admin/users/{name}/sessions", user("signed out everywhere", func(r *http.Request, name string) (int, error) {
		return h.EndSessions(r.Context(), name)
	}))
	mux.Handle("POST /admin/users/{name}/role", user("has a new role", func(r *http.Request, name string) (int, error) {
		return h.SetRole(r.Context(), name, r.PostForm.Get("role"))
	}))
	mux.Handle("POST /admin/users/{name}/password", user("has a new password", func(r *http.Request, name string) (int, error) {
		return h.SetPassword(r.Context(), name, r.PostForm.Get("password"))
	}))
	mux.Handle("POST /admin/tokens/{ref}/revoke", h.dashPage(store.RoleAdmin, func(w http.ResponseWriter, r *http.Request, v viewer) {
		n, err := h.RevokeAPIToken(r.Context(), r.PathValue("ref"))
		if err != nil {
			h.adminActionFailed(w, r, v, err)
			return
		}
		h.renderAdmin(w, r, v, http.StatusOK, "", adminData{Message: fmt.Sprintf("API token %s: %d revoked.", r.PathValue("ref"), n)})
	}))
	mux.Handle("POST /admin/unlock", h.dashPage(store.RoleAdmin, func(w http.ResponseWriter, r *http.Request, v viewer) {
		addr, user := strings.TrimSpace(r.PostForm.Get("address")), strings.TrimSpace(r.PostForm.Get("user"))
		if err := h.Unlock(r.Context(), addr, user); err != nil {
			h.adminActionFailed(w, r, v, err)
			return
		}
		h.renderAdmin(w, r, v, http.StatusOK, "", adminData{Message: "Sign-in lockout lifted on this replica for " + strings.TrimPrefix(user+"@"+addr, "@") + "."})
	}))
}

// renderAdmin renders the admin page with the accounts, tokens and the
// newest audit events.
func (h *Hub) renderAdmin(w http.ResponseWriter, r *http.Request, v viewer, status int, errMsg string, d adminData) {
	us, err := h.ListUsers(r.Context())
	if err != nil {
		h.pageError(w, r, v, err)
		return
	}
	ts, err := h.ListAPITokens(r.Context())
	if err != nil {
		h.pageError(w, r, v, err)
		return
	}
	es, err := h.AuditEvents(r.Context(), 50)
	if err != nil {
		h.pageError(w, r, v, err)
		return
	}
	d.Users, d.Events = us, es
	for _, t := range ts {
		d.Tokens = append(d.Tokens, h.tokenView(t))
	}
	h.render(w, r, status, "admin", v, page{Title: "Administration", Nav: "admin", Error: errMsg, D: d})
}
