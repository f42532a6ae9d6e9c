package hub_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/hub/hubtest"
)

// The LOW defects of issue #16 on the HTTP layer, each as an attacker
// would try it against a running hub.
func TestHTTPLowDefects(t *testing.T) {
	h := hubtest.Start(t)
	hubtest.SeedFleet(t, h)

	t.Run("login next stays on this host", func(t *testing.T) {
		for _, tt := range []struct{ next, want string }{
			{"/\t/evil.example", "/"}, // browsers drop the tab: //evil.example
			{"/\n/evil.example", "/"},
			{"/\r/evil.example", "/"},
			{"/\x00/evil.example", "/"},
			{"/\x7f/evil.example", "/"},
			{"/ /evil.example", "/"},
			{"//evil.example", "/"},
			{"///evil.example", "/"},
			{"/\\evil.example", "/"},
			{"/a\\b", "/"},
			{"https:", "/"},
			{"https://evil.example/", "/"},
			{"javascript:alert(1)", "/"},
			{"evil.example", "/"},
			{"", "/"},
			{"/findings?severity=HIGH", "/findings?severity=HIGH"},
			{"/clusters/abc", "/clusters/abc"},
		} {
			b := newBrowser(t, h)
			resp := b.login(hubtest.ViewerUser, hubtest.ViewerPassword, tt.next)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tt.want {
				t.Errorf("next %q: %d to %q, want %q", tt.next, resp.StatusCode, resp.Header.Get("Location"), tt.want)
			}
		}
	})

	t.Run("static serves files, never listings", func(t *testing.T) {
		b := newBrowser(t, h)
		for _, tt := range []struct {
			path   string
			status int
		}{
			{"/static/style.css", http.StatusOK},
			{"/static/", http.StatusNotFound},
			{"/static/nosuch.css", http.StatusNotFound},
		} {
			resp, body := b.do("GET", tt.path, nil, nil)
			if resp.StatusCode != tt.status {
				t.Errorf("%s: %d, want %d", tt.path, resp.StatusCode, tt.status)
			}
			if strings.Contains(body, "style.css\">") || strings.Contains(body, "<pre>") {
				t.Errorf("%s lists the directory:\n%s", tt.path, body)
			}
		}
	})

	t.Run("TLS 1.2 offers AEAD suites only", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AddCert(h.CACertificate())
		addr := strings.TrimPrefix(h.URL, "https://")
		var cbc, aead []uint16
		for _, s := range tls.CipherSuites() {
			if strings.Contains(s.Name, "_CBC_") {
				cbc = append(cbc, s.ID)
			} else if strings.HasPrefix(s.Name, "TLS_ECDHE_") {
				aead = append(aead, s.ID)
			}
		}
		for _, s := range tls.InsecureCipherSuites() {
			if strings.Contains(s.Name, "_CBC_") {
				cbc = append(cbc, s.ID)
			}
		}
		dial := func(suites []uint16, max uint16) error {
			c, err := tls.DialWithDialer(&net.Dialer{}, "tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12, MaxVersion: max, CipherSuites: suites})
			if err == nil {
				c.Close()
			}
			return err
		}
		if err := dial(cbc, tls.VersionTLS12); err == nil {
			t.Error("a TLS 1.2 client offering only CBC suites was served")
		}
		if err := dial(aead, tls.VersionTLS12); err != nil {
			t.Errorf("TLS 1.2 with ECDHE AEAD suites: %v", err)
		}
		if err := dial(nil, tls.VersionTLS13); err != nil {
			t.Errorf("TLS 1.3: %v", err)
		}
	})
}

// A new hub's login page says how to create the first user; once one
// exists the hint is gone (issue #16, an operator's first day).
func TestLoginPageFirstUserHint(t *testing.T) {
	h := hubtest.Start(t)
	b := newBrowser(t, h)
	const hint = "palisade hub user create --name admin --role admin"
	if resp, page := b.do("GET", "/login", nil, nil); resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="no-users"`) || !strings.Contains(page, hint) {
		t.Fatalf("login page of a hub without users: %d, no hint:\n%s", resp.StatusCode, page)
	}
	hubtest.SeedFleet(t, h)
	if _, page := b.do("GET", "/login", nil, nil); strings.Contains(page, `id="no-users"`) {
		t.Errorf("the hint stays after users exist:\n%s", page)
	}
}
