package agent

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/rules"
)

// bundleSigner signs bundles as the hub does.
type bundleSigner struct {
	priv   ed25519.PrivateKey
	pubPEM []byte
}

func newBundleSigner(t testing.TB) bundleSigner {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return bundleSigner{priv: priv, pubPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}
}

func (s bundleSigner) sign(kind, name, cluster string, version int64, content string) fleetapi.Bundle {
	sum := sha256.Sum256([]byte(content))
	b := fleetapi.Bundle{Kind: kind, Name: name, Cluster: cluster, Version: version, SHA256: hex.EncodeToString(sum[:]),
		Content: []byte(content), CreatedAt: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)}
	b.Signature = ed25519.Sign(s.priv, b.SigningPayload())
	return b
}

// bundleAgent is an agent as far as bundles go, with its state in dir:
// a new one over the same dir is the agent after a restart (nothing
// survives in memory), and New applies the cache before any hub contact.
func bundleAgent(t testing.TB, dir string, key []byte) *Agent {
	t.Helper()
	set, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	a := testAgent(t, Config{Rules: set, StateDir: dir})
	a.id = &identity{bundleKey: key, meta: identityMeta{ClusterID: "c-1"}}
	a.applyCachedBundles(context.Background())
	return a
}

// applied describes what the agent applies from its bundles.
func (a *Agent) applied() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	custom := 0
	for _, r := range a.opts.Rules.Rules() {
		if strings.HasPrefix(r.ID, "custom/") {
			custom++
		}
	}
	return fmt.Sprintf("pss=%s registries=%v exceptions=%d custom=%d", a.opts.Settings.DefaultPSSLevel, a.opts.Settings.AllowedRegistries, len(a.opts.Exceptions), custom)
}

// teamRulePolicy is a policy bundle: a default Pod Security level and a
// custom rule.
func teamRulePolicy(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "team-policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestBundleVerificationAndCache: good bundles are verified, cached and
// applied; each bad one is refused with a clear error while the cached
// bundle stays in use; a replayed older bundle never replaces a newer one;
// after a restart with no hub the cache alone is applied, and a tampered
// cache file is ignored.
func TestBundleVerificationAndCache(t *testing.T) {
	ctx := context.Background()
	hub := newBundleSigner(t)
	dir := t.TempDir()
	a := bundleAgent(t, dir, hub.pubPEM)
	if got, want := a.applied(), "pss= registries=[] exceptions=0 custom=0"; got != want {
		t.Fatalf("no bundles: %s, want %s", got, want)
	}

	good := []fleetapi.Bundle{
		hub.sign(fleetapi.BundlePolicy, "fleet", "", 1, teamRulePolicy(t)),
		hub.sign(fleetapi.BundleAllowList, "registries", "", 3, "# fleet registries\nregistry.example.com\n\nghcr.io/acme/*\n"),
	}
	if err := a.receiveBundles(ctx, good); err != nil {
		t.Fatal(err)
	}
	const applied = "pss=baseline registries=[registry.example.com ghcr.io/acme/*] exceptions=0 custom=1"
	if got := a.applied(); got != applied {
		t.Fatalf("good bundles: %s, want %s", got, applied)
	}
	for _, f := range []string{"policy--fleet.json", "allowlist--registries.json"} {
		if _, err := os.Stat(filepath.Join(dir, "bundles", f)); err != nil {
			t.Errorf("not cached: %v", err)
		}
	}

	mutate := func(b fleetapi.Bundle, f func(*fleetapi.Bundle)) fleetapi.Bundle {
		b.Content = append([]byte(nil), b.Content...)
		b.Signature = append([]byte(nil), b.Signature...)
		f(&b)
		return b
	}
	allow := good[1]
	other := newBundleSigner(t)
	tests := []struct {
		name   string
		bundle fleetapi.Bundle
		want   string
	}{
		{"content changed under its digest", mutate(allow, func(b *fleetapi.Bundle) { b.Content = []byte("evil.example.com\n") }), "content does not match its sha256"},
		{"truncated in transit", mutate(allow, func(b *fleetapi.Bundle) { b.Content = b.Content[:len(b.Content)/2] }), "content does not match its sha256"},
		{"digest recomputed, signature not", mutate(allow, func(b *fleetapi.Bundle) {
			b.Content = []byte("evil.example.com\n")
			s := sha256.Sum256(b.Content)
			b.SHA256 = hex.EncodeToString(s[:])
		}), "bad signature"},
		{"signature altered", mutate(allow, func(b *fleetapi.Bundle) { b.Signature[0] ^= 1 }), "bad signature"},
		{"signature truncated", mutate(allow, func(b *fleetapi.Bundle) { b.Signature = b.Signature[:32] }), "bad signature"},
		{"no signature", mutate(allow, func(b *fleetapi.Bundle) { b.Signature = nil }), "bad signature"},
		{"version raised without signing", mutate(allow, func(b *fleetapi.Bundle) { b.Version = 99 }), "bad signature"},
		{"signed by another key", other.sign(fleetapi.BundleAllowList, "registries", "", 4, "evil.example.com\n"), "bad signature"},
		{"path traversal name", hub.sign(fleetapi.BundleAllowList, "../../../tmp/evil", "", 1, "evil.example.com\n"), "kind and name must be letters"},
		{"path traversal kind", hub.sign("../policies/x", "registries", "", 1, "evil.example.com\n"), "kind and name must be letters"},
		{"newline forging the signed payload", hub.sign(fleetapi.BundleAllowList, "x\nversion=7", "", 1, "evil.example.com\n"), "kind and name must be letters"},
		{"another cluster's", hub.sign(fleetapi.BundleAllowList, "registries", "c-2", 9, "evil.example.com\n"), "for cluster c-2, not this one"},
		{"replayed older version", hub.sign(fleetapi.BundleAllowList, "registries", "", 2, "old.example.com\n"), "older than the cached v3"},
		{"same version, other content", hub.sign(fleetapi.BundleAllowList, "registries", "", 3, "evil.example.com\n"), "other content than the cached bundle of the same version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := a.receiveBundles(ctx, []fleetapi.Bundle{tt.bundle})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if got := a.applied(); got != applied {
				t.Errorf("after the refusal: %s, want the cached bundles still: %s", got, applied)
			}
			cached, err := a.cache.read(filepath.Join(dir, "bundles", "allowlist--registries.json"), hub.pubPEM, "c-1")
			if err != nil || cached.Version != 3 {
				t.Fatalf("cached allow-list replaced: %+v %v", cached, err)
			}
			if content, err := a.cache.content(cached); err != nil || string(content) != string(allow.Content) {
				t.Errorf("cached allow-list content %q %v", content, err)
			}
		})
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "bundles")); len(entries) != 4 {
		t.Errorf("cache holds %d files, want the 2 good bundles' metadata and content", len(entries))
	}
	if _, err := os.Stat(filepath.Join(dir, "tmp")); err == nil {
		t.Error("a bundle name escaped the cache directory")
	}

	// A refused bundle does not hold back the others of the same fetch;
	// the cluster's own policy is applied after the fleet's and wins.
	err := a.receiveBundles(ctx, []fleetapi.Bundle{
		hub.sign(fleetapi.BundlePolicy, "fleet", "", 0, teamRulePolicy(t)), // replay
		hub.sign(fleetapi.BundlePolicy, "fleet", "c-1", 1, "apiVersion: palisade.io/v1alpha1\nkind: Policy\nmetadata: {name: edge}\nspec:\n  podSecurity: {defaultLevel: restricted}\n  exceptions:\n  - rules: [hardening/latest-tag]\n    reason: edge images are pinned by the hub\n"),
		hub.sign(fleetapi.BundleAllowList, "registries", "", 4, "registry.example.com\nmirror.example.com\n"),
	})
	if err == nil || !strings.Contains(err.Error(), "older than the cached v1") {
		t.Errorf("mixed fetch: %v", err)
	}
	const newer = "pss=restricted registries=[registry.example.com mirror.example.com] exceptions=1 custom=1"
	if got := a.applied(); got != newer {
		t.Fatalf("mixed fetch applied %s, want %s", got, newer)
	}

	// Restart with the hub unreachable: the cache alone gives the same.
	if got := bundleAgent(t, dir, hub.pubPEM).applied(); got != newer {
		t.Errorf("after a restart: %s, want %s", got, newer)
	}
	// A cache file tampered with on disk is ignored on the next start; a
	// file with the right name but another bundle inside cannot shadow it.
	p := filepath.Join(dir, "bundles", "allowlist--registries.json")
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(raw), `"version":4`, `"version":5`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, want := bundleAgent(t, dir, hub.pubPEM).applied(), "pss=restricted registries=[] exceptions=1 custom=1"; got != want {
		t.Errorf("tampered cache: %s, want %s", got, want)
	}
	// And a truncated cache file likewise.
	if err := os.WriteFile(p, raw[:len(raw)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errs := (bundleCache{dir: filepath.Join(dir, "bundles")}).load(hub.pubPEM, "c-1"); len(errs) != 1 || !strings.Contains(errs[0].Error(), "allowlist--registries.json") {
		t.Errorf("truncated cache file: %v", errs)
	}
	// The hub's current bundle is accepted again over a broken cache file.
	if err := a.receiveBundles(ctx, []fleetapi.Bundle{hub.sign(fleetapi.BundleAllowList, "registries", "", 4, "registry.example.com\nmirror.example.com\n")}); err != nil {
		t.Errorf("re-fetch over a broken cache file: %v", err)
	}
	if got := a.applied(); got != newer {
		t.Errorf("after the re-fetch: %s, want %s", got, newer)
	}
	// The content file of the cluster's policy, changed on disk, is
	// refused on the next start: the fleet policy alone applies.
	m, err := a.cache.readMeta(filepath.Join(dir, "bundles", "policy--fleet@c-1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(a.cache.contentPath(m.SHA256), []byte("apiVersion: palisade.io/v1alpha1\nkind: Policy\nmetadata: {name: edge}\nspec: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, want := bundleAgent(t, dir, hub.pubPEM).applied(), "pss=baseline registries=[registry.example.com mirror.example.com] exceptions=0 custom=1"; got != want {
		t.Errorf("tampered content file: %s, want %s", got, want)
	}
}

// TestBundleCacheOfAnOlderAgent: a cache file written by an agent that
// kept the content inside the JSON still applies after an upgrade (hub
// down), and the same bundle from the hub is cached again in the current
// layout, content apart, without counting as a replay.
func TestBundleCacheOfAnOlderAgent(t *testing.T) {
	hub := newBundleSigner(t)
	dir := t.TempDir()
	allow := hub.sign(fleetapi.BundleAllowList, "registries", "", 3, "registry.example.com\n")
	raw, err := json.Marshal(allow)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "bundles"), 0o700); err != nil {
		t.Fatal(err)
	}
	legacy := filepath.Join(dir, "bundles", "allowlist--registries.json")
	if err := os.WriteFile(legacy, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	a := bundleAgent(t, dir, hub.pubPEM)
	const want = "pss= registries=[registry.example.com] exceptions=0 custom=0"
	if got := a.applied(); got != want {
		t.Fatalf("older cache: %s, want %s", got, want)
	}
	if err := a.receiveBundles(context.Background(), []fleetapi.Bundle{hub.sign(fleetapi.BundleAllowList, "registries", "", 2, "old.example.com\n")}); err == nil || !strings.Contains(err.Error(), "older than the cached v3") {
		t.Fatalf("replay over an older agent's cache: %v", err)
	}
	if err := a.receiveBundles(context.Background(), []fleetapi.Bundle{allow}); err != nil {
		t.Fatal(err)
	}
	m, err := a.cache.readMeta(legacy)
	if err != nil || m.Content != nil || m.Size != int64(len(allow.Content)) {
		t.Fatalf("cached again as %+v %v", m, err)
	}
	if _, err := os.Stat(a.cache.contentPath(allow.SHA256)); err != nil {
		t.Fatal(err)
	}
	if got := bundleAgent(t, dir, hub.pubPEM).applied(); got != want {
		t.Errorf("after the re-cache: %s, want %s", got, want)
	}
}
