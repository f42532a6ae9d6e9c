package hub

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/hub/store"
)

// apiSession signs in through the API and returns headers that carry the
// session (cookie and CSRF token), or nil when the sign-in failed.
func apiSession(t *testing.T, th *testHub, user, password string) map[string]string {
	t.Helper()
	resp, body := call(t, th.client(nil), "POST", th.url+"/api/v1/login", LoginRequest{Username: user, Password: password}, nil)
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	var lr LoginResponse
	if err := json.Unmarshal(body, &lr); err != nil {
		t.Fatal(err)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			return map[string]string{"Cookie": sessionCookie + "=" + ck.Value, csrfHeader: lr.CSRFToken}
		}
	}
	t.Fatal("no session cookie")
	return nil
}

// TestAccountChangesEndSessions: each change an admin makes to an account
// takes effect at once, in the API, for sessions already open.
func TestAccountChangesEndSessions(t *testing.T) {
	const pw = "correct horse battery"
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		// canSignIn: bob's old password still signs in afterwards.
		canSignIn bool
		wantRole  string
		action    string
	}{
		{"disable", "POST", "/api/v1/users/bob/disable", nil, false, "", AuditUserDisable},
		{"delete", "DELETE", "/api/v1/users/bob", nil, false, "", AuditUserDelete},
		{"new password", "POST", "/api/v1/users/bob/password", PasswordRequest{Password: "another long password"}, false, "", AuditUserPassword},
		{"new role", "POST", "/api/v1/users/bob/role", RoleRequest{Role: store.RoleAdmin}, true, store.RoleAdmin, AuditUserRole},
		{"end sessions", "DELETE", "/api/v1/users/bob/sessions", nil, true, store.RoleViewer, AuditUserSessions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := startHub(t)
			ctx := context.Background()
			for _, u := range []struct{ name, role string }{{"root", store.RoleAdmin}, {"bob", store.RoleViewer}} {
				if err := th.CreateUser(ctx, u.name, pw, u.role); err != nil {
					t.Fatal(err)
				}
			}
			admin := apiSession(t, th, "root", pw)
			bob := apiSession(t, th, "bob", pw)
			c := th.client(nil)
			if resp, _ := call(t, c, "GET", th.url+"/api/v1/me", nil, bob); resp.StatusCode != 200 {
				t.Fatalf("bob before: %d", resp.StatusCode)
			}
			resp, body := call(t, c, tt.method, th.url+tt.path, tt.body, admin)
			if resp.StatusCode != 200 || !strings.Contains(string(body), `"sessionsEnded":1`) {
				t.Fatalf("%s: %d %s", tt.path, resp.StatusCode, body)
			}
			if resp, _ := call(t, c, "GET", th.url+"/api/v1/me", nil, bob); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("bob's old session after %s: %d, want 401", tt.name, resp.StatusCode)
			}
			again := apiSession(t, th, "bob", pw)
			if (again != nil) != tt.canSignIn {
				t.Errorf("bob signs in with the old password after %s: %v, want %v", tt.name, again != nil, tt.canSignIn)
			}
			if again != nil {
				_, body := call(t, c, "GET", th.url+"/api/v1/me", nil, again)
				if !strings.Contains(string(body), `"role":"`+tt.wantRole+`"`) {
					t.Errorf("bob's role: %s, want %s", body, tt.wantRole)
				}
			}
			if resp, _ := call(t, c, "GET", th.url+"/api/v1/me", nil, admin); resp.StatusCode != 200 {
				t.Errorf("the admin's own session ended: %d", resp.StatusCode)
			}
			_, body = call(t, c, "GET", th.url+"/api/v1/audit-events", nil, admin)
			var ev struct{ Events []AuditEventView }
			if err := json.Unmarshal(body, &ev); err != nil || len(ev.Events) == 0 {
				t.Fatalf("audit events: %s", body)
			}
			if e := ev.Events[0]; e.Action != tt.action || e.Target != "bob" || e.Actor != "root" {
				t.Errorf("newest audit event %+v, want %s of bob by root", e, tt.action)
			}
		})
	}
}

func TestDisabledUserCannotSignInUntilEnabled(t *testing.T) {
	th := startHub(t)
	ctx := context.Background()
	const pw = "correct horse battery"
	if err := th.CreateUser(ctx, "root", pw, store.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := th.CreateUser(ctx, "bob", pw, store.RoleViewer); err != nil {
		t.Fatal(err)
	}
	if _, err := th.SetUserDisabled(ctx, "bob", true); err != nil {
		t.Fatal(err)
	}
	resp, body := call(t, th.client(nil), "POST", th.url+"/api/v1/login", LoginRequest{Username: "bob", Password: pw}, nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "wrong user name or password") {
		t.Fatalf("disabled user's sign-in: %d %s (want the answer an unknown user gets)", resp.StatusCode, body)
	}
	if _, err := th.SetUserDisabled(ctx, "bob", false); err != nil {
		t.Fatal(err)
	}
	if apiSession(t, th, "bob", pw) == nil {
		t.Fatal("enabled user cannot sign in")
	}
}

// TestLastAdminIsKept: nobody can lock every admin out of the hub.
func TestLastAdminIsKept(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		do   func(h *Hub) error
	}{
		{"disable", func(h *Hub) error { _, err := h.SetUserDisabled(ctx, "root", true); return err }},
		{"delete", func(h *Hub) error { _, err := h.DeleteUser(ctx, "root"); return err }},
		{"demote", func(h *Hub) error { _, err := h.SetRole(ctx, "root", store.RoleViewer); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := startHub(t)
			if err := th.CreateUser(ctx, "root", "correct horse battery", store.RoleAdmin); err != nil {
				t.Fatal(err)
			}
			if err := tt.do(th.Hub); err == nil || !strings.Contains(err.Error(), "last enabled admin") {
				t.Fatalf("%s of the last admin: %v", tt.name, err)
			}
			if apiSession(t, th, "root", "correct horse battery") == nil {
				t.Fatal("the last admin was changed anyway")
			}
			// With a second admin it is allowed.
			if err := th.CreateUser(ctx, "second", "correct horse battery", store.RoleAdmin); err != nil {
				t.Fatal(err)
			}
			if err := tt.do(th.Hub); err != nil {
				t.Fatalf("%s with another admin: %v", tt.name, err)
			}
		})
	}
}

func TestAPITokenExpiryRevocationAndLastUse(t *testing.T) {
	th := startHub(t)
	ctx := context.Background()
	const pw = "correct horse battery"
	if err := th.CreateUser(ctx, "root", pw, store.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	admin := apiSession(t, th, "root", pw)
	c := th.client(nil)
	create := func(req CreateTokenRequest) (string, *time.Time) {
		t.Helper()
		resp, body := call(t, c, "POST", th.url+"/api/v1/tokens", req, admin)
		var res struct {
			Token     string
			ExpiresAt *time.Time
		}
		if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &res) != nil {
			t.Fatalf("create token %+v: %d %s", req, resp.StatusCode, body)
		}
		return res.Token, res.ExpiresAt
	}
	tests := []struct {
		req      CreateTokenRequest
		wantLife time.Duration // 0: never expires
	}{
		{CreateTokenRequest{Name: "default", Role: store.RoleViewer}, DefaultAPITokenTTL},
		{CreateTokenRequest{Name: "week", Role: store.RoleViewer, Expires: "7d"}, 7 * 24 * time.Hour},
		{CreateTokenRequest{Name: "hours", Role: store.RoleViewer, TTL: "2h"}, 2 * time.Hour},
		{CreateTokenRequest{Name: "forever", Role: store.RoleViewer, Expires: "never"}, 0},
	}
	for _, tt := range tests {
		_, exp := create(tt.req)
		switch {
		case tt.wantLife == 0 && exp != nil:
			t.Errorf("%s: expires %v, want never", tt.req.Name, exp)
		case tt.wantLife > 0 && (exp == nil || exp.Sub(time.Now()) < tt.wantLife-time.Minute || exp.Sub(time.Now()) > tt.wantLife):
			t.Errorf("%s: expires %v, want in %v", tt.req.Name, exp, tt.wantLife)
		}
	}
	for _, bad := range []string{"-1h", "soon", "0d"} {
		if resp, body := call(t, c, "POST", th.url+"/api/v1/tokens", CreateTokenRequest{Name: "bad", Role: store.RoleViewer, Expires: bad}, admin); resp.StatusCode != 400 {
			t.Errorf("expires %q: %d %s, want 400", bad, resp.StatusCode, body)
		}
	}

	tok, _ := create(CreateTokenRequest{Name: "ci", Role: store.RoleViewer})
	bearer := map[string]string{"Authorization": "Bearer " + tok}
	if resp, _ := call(t, c, "GET", th.url+"/api/v1/clusters", nil, bearer); resp.StatusCode != 200 {
		t.Fatalf("new token: %d", resp.StatusCode)
	}
	list := func() map[string]TokenView {
		_, body := call(t, c, "GET", th.url+"/api/v1/tokens", nil, admin)
		var res struct{ Tokens []TokenView }
		if err := json.Unmarshal(body, &res); err != nil {
			t.Fatal(err)
		}
		m := map[string]TokenView{}
		for _, v := range res.Tokens {
			m[v.Name] = v
		}
		return m
	}
	ci := list()["ci"]
	if ci.LastUsedAt == nil || ci.State != "active" || !strings.HasPrefix(tok, apiTokenPrefix+ci.ID+".") {
		t.Fatalf("listed token %+v (want its ID, active, a last use)", ci)
	}
	if list()["default"].LastUsedAt != nil {
		t.Error("an unused token has a last use")
	}
	resp, body := call(t, c, "POST", th.url+"/api/v1/tokens/"+ci.ID+"/revoke", nil, admin)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"revoked":1`) {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	if resp, _ := call(t, c, "GET", th.url+"/api/v1/clusters", nil, bearer); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d, want 401", resp.StatusCode)
	}
	if st := list()["ci"].State; st != "revoked" {
		t.Errorf("revoked token listed as %s", st)
	}
	// By name: every token of that name.
	if resp, body := call(t, c, "POST", th.url+"/api/v1/tokens/week/revoke", nil, admin); resp.StatusCode != 200 || !strings.Contains(string(body), `"revoked":1`) {
		t.Errorf("revoke by name: %d %s", resp.StatusCode, body)
	}
	if resp, _ := call(t, c, "POST", th.url+"/api/v1/tokens/nosuch/revoke", nil, admin); resp.StatusCode != http.StatusNotFound {
		t.Errorf("revoke of an unknown token: %d, want 404", resp.StatusCode)
	}
	// Expiry is enforced.
	short, _ := create(CreateTokenRequest{Name: "short", Role: store.RoleViewer, Expires: "1ms"})
	time.Sleep(5 * time.Millisecond)
	if resp, _ := call(t, c, "GET", th.url+"/api/v1/clusters", nil, map[string]string{"Authorization": "Bearer " + short}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("expired token: %d, want 401", resp.StatusCode)
	}
}

func TestParseTokenExpiry(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"", DefaultAPITokenTTL, false},
		{"never", 0, false},
		{"NEVER", 0, false},
		{"0", 0, false},
		{"30d", 30 * 24 * time.Hour, false},
		{"720h", 720 * time.Hour, false},
		{"-1h", 0, true},
		{"0s", 0, true},
		{"-3d", 0, true},
		{"d", 0, true},
		{"99999999d", 0, true},
		{"tomorrow", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseTokenExpiry(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseTokenExpiry(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestAdminUnlocksASource: a source locked out by failed sign-ins signs
// in again once an admin lifts its lockout.
func TestAdminUnlocksASource(t *testing.T) {
	gh := startGuardedHub(t, AuthLimits{Account: lockPolicy(2), Client: lockPolicy(100), Token: lockPolicy(100)})
	ctx := context.Background()
	if err := gh.CreateUser(ctx, "alice", goodPassword, store.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := gh.CreateUser(ctx, "root", goodPassword, store.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	admin := apiSession(t, gh.testHub, "root", goodPassword)
	for range 3 {
		apiLogin(t, gh, "alice", badPassword)
	}
	if st, _ := apiLogin(t, gh, "alice", goodPassword); st != http.StatusTooManyRequests {
		t.Fatalf("locked source: %d, want 429", st)
	}
	c := gh.client(nil)
	if resp, body := call(t, c, "POST", gh.url+"/api/v1/lockouts/unlock", UnlockRequest{Address: "not-an-ip", User: "alice"}, admin); resp.StatusCode != 400 {
		t.Errorf("unlock of a malformed address: %d %s", resp.StatusCode, body)
	}
	if resp, body := call(t, c, "POST", gh.url+"/api/v1/lockouts/unlock", UnlockRequest{Address: "127.0.0.1", User: "alice"}, admin); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("unlock: %d %s", resp.StatusCode, body)
	}
	if st, _ := apiLogin(t, gh, "alice", goodPassword); st != http.StatusOK {
		t.Fatalf("after unlock: %d, want 200", st)
	}
	es, err := gh.AuditEvents(ctx, 1)
	if err != nil || len(es) != 1 || es[0].Action != AuditLockoutUnlock || es[0].Target != "alice@127.0.0.1" || es[0].Actor != "root" {
		t.Fatalf("audit: %+v %v", es, err)
	}
}
