package hub_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/hub"
	"github.com/palisade-sec/palisade/internal/hub/hubtest"
)

// browser is an HTTP client with a cookie jar, like a browser without
// JavaScript (the dashboard needs none).
type browser struct {
	t    *testing.T
	hub  *hubtest.Hub
	c    *http.Client
	csrf string
}

func newBrowser(t *testing.T, h *hubtest.Hub) *browser {
	c := h.Client(nil)
	jar, _ := cookiejar.New(nil)
	c.Jar = jar
	return &browser{t: t, hub: h, c: c}
}

func (b *browser) do(method, path string, form url.Values, hdr map[string]string) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.hub.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(data); m != nil {
		b.csrf = string(m[1])
	}
	return resp, string(data)
}

var loginToken = regexp.MustCompile(`name="token" value="([^"]+)"`)

func (b *browser) login(user, password, next string) *http.Response {
	b.t.Helper()
	_, page := b.do("GET", "/login?next="+url.QueryEscape(next), nil, nil)
	m := loginToken.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no login token in %s", page)
	}
	resp, _ := b.do("POST", "/login", url.Values{"token": {m[1]}, "next": {next}, "username": {user}, "password": {password}}, nil)
	return resp
}

func TestDashboardPages(t *testing.T) {
	h := hubtest.Start(t)
	fleet := hubtest.SeedFleet(t, h)
	b := newBrowser(t, h)

	// Anonymous: every page sends to the login page, keeping the target.
	resp, _ := b.do("GET", "/clusters/"+fleet.IDs["edge-arm-01"], nil, nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=%2Fclusters%2F") {
		t.Fatalf("anonymous: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := b.login(hubtest.ViewerUser, "wrong password!!", "/"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	resp = b.login(hubtest.ViewerUser, hubtest.ViewerPassword, "/compliance")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/compliance" {
		t.Fatalf("login: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-palisade-session" && (!c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode) {
			t.Fatalf("session cookie %+v", c)
		}
	}

	arm, stale := fleet.IDs["edge-arm-01"], fleet.IDs["edge-stale-03"]
	tests := []struct {
		path string
		want []string
		not  []string
	}{
		{"/", []string{"edge-arm-01", "edge-stale-03", `class="row-stale"`, `state-stale`, `state-offline`, `state-never-seen`, "data as of"}, nil},
		{"/?state=stale", []string{"edge-stale-03"}, []string{"edge-arm-01</a>"}},
		{"/?q=AMD", []string{"edge-amd-02"}, []string{"edge-arm-01</a>"}},
		{"/clusters/" + arm, []string{"v1.31.4&#43;k3s1", "k3s", "pi-1", "arm64", "6.1.0-28-arm64", "containerd://1.7.24", "verified", "aescbc", "verification: etcd"}, []string{"class=\"alert\""}},
		{"/clusters/" + stale, []string{"is <b>stale</b> since", "may no longer be true"}, nil},
		{"/findings?cluster=" + fleet.IDs["edge-amd-02"] + "&severity=HIGH", []string{"pss/privileged", "pss/run-as-non-root", "web/frontend"}, []string{"no-resource-limits</a>"}},
		{"/findings?rule=pss/run-as-non-root", []string{"edge-arm-01", "edge-amd-02"}, nil},
		{"/images", []string{hubtest.NginxRef, hubtest.SensorRef, "not scanned"}, nil},
		{"/images/" + url.PathEscape(hubtest.NginxDigest), []string{hubtest.CVE, hubtest.GHSA, "openssl", "3.0.15-1~deb12u1", "no fix"}, nil},
		{"/vulnerabilities?q=" + strings.ToLower(hubtest.GHSA), []string{"2 clusters run an image affected by " + hubtest.GHSA, "edge-arm-01", "edge-amd-02"}, nil},
		{"/vulnerabilities?q=cve-2026-10001", []string{"2 clusters run an image affected by " + hubtest.CVE}, nil},
		{"/vulnerabilities?q=CVE-1999-0001", []string{"No cluster runs an image affected by CVE-1999-0001"}, nil},
		{"/compliance", []string{"pss/privileged", "hardening/read-only-root-fs", "<meter"}, nil},
		{"/frameworks", []string{"Compliance by framework", "(pss-baseline)", "(edge)", "edge-arm-01", "Fleet score: <strong class=\"score\">"}, []string{"No cluster has reported yet"}},
		{"/admission", []string{"debug-shell", "camera", "denied"}, []string{"incident-debug"}},
		{"/admission?view=break-glass", []string{"incident-debug", "break-glass"}, []string{"debug-shell"}},
	}
	for _, tt := range tests {
		resp, page := b.do("GET", tt.path, nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d\n%s", tt.path, resp.StatusCode, page)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(page, w) {
				t.Errorf("%s: no %q", tt.path, w)
			}
		}
		for _, w := range tt.not {
			if strings.Contains(page, w) {
				t.Errorf("%s: unexpected %q", tt.path, w)
			}
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("%s: content type %q", tt.path, ct)
		}
	}
	// A stale cluster never looks healthy: its row is marked and its
	// counts are shown as dated.
	_, page := b.do("GET", "/?state=stale", nil, nil)
	if !regexp.MustCompile(`(?s)row-stale.*edge-stale-03.*state-stale.*counts dated`).MatchString(page) {
		t.Errorf("stale row not marked:\n%s", page)
	}
	if resp, _ := b.do("GET", "/nope", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown page: %d", resp.StatusCode)
	}
	if resp, _ := b.do("GET", "/?state=bogus", nil, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad state: %d", resp.StatusCode)
	}
}

func TestDashboardSecurity(t *testing.T) {
	h := hubtest.Start(t)
	hubtest.SeedFleet(t, h)

	viewer := newBrowser(t, h)
	viewer.login(hubtest.ViewerUser, hubtest.ViewerPassword, "/")
	admin := newBrowser(t, h)
	admin.login(hubtest.AdminUser, hubtest.AdminPassword, "/")

	// Headers on pages, static files and the API.
	for _, p := range []string{"/", "/static/style.css", "/login", "/healthz"} {
		resp, _ := viewer.do("GET", p, nil, nil)
		for k, want := range map[string]string{
			"Content-Security-Policy": hub.ContentSecurityPolicy,
			"X-Frame-Options":         "DENY",
			"Referrer-Policy":         "same-origin",
			"X-Content-Type-Options":  "nosniff",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", p, k, got, want)
			}
		}
	}
	if !strings.Contains(hub.ContentSecurityPolicy, "frame-ancestors 'none'") || strings.Contains(hub.ContentSecurityPolicy, "unsafe-inline") {
		t.Errorf("CSP %q", hub.ContentSecurityPolicy)
	}
	// No inline script or style anywhere: the CSP would block them.
	for _, p := range []string{"/", "/compliance", "/admin"} {
		_, page := admin.do("GET", p, nil, nil)
		if strings.Contains(page, "<script") || strings.Contains(page, "style=") || strings.Contains(page, "<style") {
			t.Errorf("%s has inline script or style", p)
		}
	}

	create := func(b *browser, csrf string, hdr map[string]string) (*http.Response, string) {
		return b.do("POST", "/admin/clusters", url.Values{"csrf": {csrf}, "name": {"edge-new"}, "ttl": {"30m"}}, hdr)
	}
	_, _ = admin.do("GET", "/admin", nil, nil)
	tests := []struct {
		name   string
		b      *browser
		csrf   string
		hdr    map[string]string
		status int
	}{
		{"viewer is not admin", viewer, viewer.csrf, nil, http.StatusForbidden},
		{"admin without CSRF token", admin, "", nil, http.StatusForbidden},
		{"admin with another session's token", admin, viewer.csrf, nil, http.StatusForbidden},
		{"cross-site origin", admin, admin.csrf, map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"cross-site fetch metadata", admin, admin.csrf, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"admin with token", admin, admin.csrf, map[string]string{"Origin": h.URL, "Sec-Fetch-Site": "same-origin"}, http.StatusCreated},
	}
	for _, tt := range tests {
		resp, page := create(tt.b, tt.csrf, tt.hdr)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: %d, want %d", tt.name, resp.StatusCode, tt.status)
		}
		if tt.status == http.StatusCreated && !regexp.MustCompile(`id="bootstrap-token">pbt_[^<]+<`).MatchString(page) {
			t.Errorf("%s: no token shown:\n%s", tt.name, page)
		}
	}
	if resp, _ := viewer.do("GET", "/admin", nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("viewer /admin: %d", resp.StatusCode)
	}
	// Users and API tokens from the forms.
	resp, _ := admin.do("POST", "/admin/users", url.Values{"csrf": {admin.csrf}, "name": {"carol"}, "password": {"carol-password-1"}, "role": {"viewer"}}, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create user: %d", resp.StatusCode)
	}
	carol := newBrowser(t, h)
	if resp := carol.login("carol", "carol-password-1", "/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("new user cannot log in: %d", resp.StatusCode)
	}
	if resp, _ := admin.do("POST", "/admin/users", url.Values{"csrf": {admin.csrf}, "name": {"dave"}, "password": {"short"}, "role": {"viewer"}}, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("short password: %d", resp.StatusCode)
	}
	resp, page := admin.do("POST", "/admin/tokens", url.Values{"csrf": {admin.csrf}, "name": {"ci"}, "role": {"viewer"}, "ttl": {"24h"}}, nil)
	tok := regexp.MustCompile(`id="api-token">(pat_[^<]+)<`).FindStringSubmatch(page)
	if resp.StatusCode != http.StatusCreated || tok == nil {
		t.Fatalf("create token: %d", resp.StatusCode)
	}
	api := h.Client(nil)
	req, _ := http.NewRequest("GET", h.URL+"/api/v1/clusters", nil)
	req.Header.Set("Authorization", "Bearer "+tok[1])
	if r, err := api.Do(req); err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("API token from the form: %v %v", r, err)
	}

	// Login: the form's token must match its cookie; redirects stay here.
	anon := newBrowser(t, h)
	if resp, _ := anon.do("POST", "/login", url.Values{"token": {"forged"}, "username": {hubtest.AdminUser}, "password": {hubtest.AdminPassword}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("login without form token: %d", resp.StatusCode)
	}
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example"} {
		b := newBrowser(t, h)
		if resp := b.login(hubtest.ViewerUser, hubtest.ViewerPassword, next); resp.Header.Get("Location") != "/" {
			t.Errorf("next %q redirected to %q", next, resp.Header.Get("Location"))
		}
	}
	// Logout ends the session.
	resp, _ = viewer.do("POST", "/logout", url.Values{"csrf": {viewer.csrf}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if resp, _ := viewer.do("GET", "/", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout: %d", resp.StatusCode)
	}
}
