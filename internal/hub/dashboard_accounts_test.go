package hub_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/hub/hubtest"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestDashboardAccountForms drives the admin page's account forms as a
// browser would: each needs the session's CSRF token, takes effect at
// once and appears in the audit trail on the page.
func TestDashboardAccountForms(t *testing.T) {
	h := hubtest.Start(t)
	ctx := context.Background()
	const pw = "correct horse battery"
	for _, u := range []struct{ name, role string }{{"root", store.RoleAdmin}, {"bob", store.RoleViewer}} {
		if err := h.CreateUser(ctx, u.name, pw, u.role); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := h.CreateAPIToken(ctx, "ci", store.RoleViewer, 0)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.SplitN(strings.TrimPrefix(tok, "pat_"), ".", 2)[0]
	admin := newBrowser(t, h)
	admin.login("root", pw, "/admin")
	bob := newBrowser(t, h)
	bob.login("bob", pw, "/")
	if resp, _ := bob.do("GET", "/", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("bob before: %d", resp.StatusCode)
	}
	_, page := admin.do("GET", "/admin", nil, nil)
	for _, want := range []string{`id="user-bob"`, `action="/admin/users/bob/disable"`, `id="token-` + id + `"`, "user.create", "token.create"} {
		if !strings.Contains(page, want) {
			t.Errorf("admin page lacks %s", want)
		}
	}
	if resp, _ := admin.do("POST", "/admin/users/bob/disable", url.Values{"csrf": {"forged"}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("disable without the CSRF token: %d", resp.StatusCode)
	}
	tests := []struct {
		path, want string
		form       url.Values
	}{
		{"/admin/users/bob/role", "User bob has a new role; 1 session ended.", url.Values{"role": {"admin"}}},
		{"/admin/users/bob/disable", "User bob disabled; 0 sessions ended.", nil},
		{"/admin/users/bob/enable", "User bob enabled; 0 sessions ended.", nil},
		{"/admin/tokens/" + id + "/revoke", "API token " + id + ": 1 revoked.", nil},
		{"/admin/unlock", "Sign-in lockout lifted on this replica for bob@192.0.2.1.", url.Values{"address": {"192.0.2.1"}, "user": {"bob"}}},
		{"/admin/users/nosuch/disable", "not found", nil},
	}
	for _, tt := range tests {
		form := url.Values{"csrf": {admin.csrf}}
		for k, v := range tt.form {
			form[k] = v
		}
		_, page := admin.do("POST", tt.path, form, nil)
		if !strings.Contains(page, tt.want) {
			t.Errorf("%s: page lacks %q", tt.path, tt.want)
		}
		if tt.path == "/admin/users/bob/role" {
			if resp, _ := bob.do("GET", "/", nil, nil); resp.StatusCode != http.StatusSeeOther {
				t.Errorf("bob's session after a role change: %d, want a redirect to the login page", resp.StatusCode)
			}
		}
	}
	_, page = admin.do("GET", "/admin", nil, nil)
	for _, want := range []string{"user.role", "user.disable", "user.enable", "token.revoke", "lockout.unlock", ">revoked<"} {
		if !strings.Contains(page, want) {
			t.Errorf("admin page after the changes lacks %s", want)
		}
	}
}
