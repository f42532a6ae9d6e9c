package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// TestContentFileHashedOncePerDay: a cached content file is hashed when
// first verified, trusted while its size and modification time stay the
// same for up to rehashAfter, and hashed again when either changes or
// that time has passed.
func TestContentFileHashedOncePerDay(t *testing.T) {
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	hashed := newHashedFiles()
	hashed.now = func() time.Time { return now }
	c := bundleCache{dir: t.TempDir(), hashed: hashed}
	content := []byte(strings.Repeat("osv record\n", 1000))
	sum := sha256.Sum256(content)
	b := &fleetapi.Bundle{Kind: fleetapi.BundleVulnDB, Name: "osv", Version: 1, SHA256: hex.EncodeToString(sum[:])}
	p := c.contentPath(b.SHA256)
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.verifyContentFile(b); err != nil {
		t.Fatalf("first verification: %v", err)
	}
	// Same size, same modification time, other bytes: trusted (not read)
	// within the day...
	st, _ := os.Stat(p)
	tampered := append([]byte("OSV"), content[3:]...)
	if err := os.WriteFile(p, tampered, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.verifyContentFile(b); err != nil {
		t.Fatalf("unchanged size and time within the day: %v (the file was hashed again)", err)
	}
	// ...hashed again once the day has passed,
	now = now.Add(rehashAfter + time.Minute)
	if _, err := c.verifyContentFile(b); err == nil {
		t.Fatal("tampered content accepted after rehashAfter")
	}
	// and at once when the modification time changes.
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.verifyContentFile(b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, tampered, 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	if _, err := c.verifyContentFile(b); err == nil {
		t.Fatal("content with a new modification time accepted without hashing")
	}
}

// TestHubAnswersBounded: the agent decodes at most maxHubResponseBytes of
// a hub answer, and refuses a listed bundle carrying more inline content
// than the hub ever puts in a list, even when signed.
func TestHubAnswersBounded(t *testing.T) {
	big := strings.Repeat("x", maxHubResponseBytes)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"bundles":[{"kind":"policy","name":"`+big+`"}]}`)
	}))
	defer srv.Close()
	c := &hubClient{base: srv.URL, http: srv.Client()}
	var list fleetapi.BundleList
	if err := c.do(context.Background(), http.MethodGet, fleetapi.PathBundles, nil, &list); err == nil || !strings.Contains(err.Error(), "answer over") {
		t.Fatalf("a 16 MiB bundle list: %v", err)
	}

	hub := newBundleSigner(t)
	a := bundleAgent(t, t.TempDir(), hub.pubPEM)
	huge := hub.sign(fleetapi.BundleAllowList, "registries", "", 1, strings.Repeat("registry.example.com\n", fleetapi.MaxInlineBundleBytes/20))
	if err := a.receiveBundles(context.Background(), []fleetapi.Bundle{huge}); err == nil || !strings.Contains(err.Error(), "inside the list") {
		t.Fatalf("a signed bundle with %d bytes inline: %v", len(huge.Content), err)
	}
}
