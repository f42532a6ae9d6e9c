package agent

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzBundleKey is the fixed key the seeds in testdata/fuzz/FuzzBundle
// are signed with, so that the fuzzer starts from bundles that verify.
func fuzzBundleKey(t testing.TB) (ed25519.PrivateKey, []byte) {
	priv := ed25519.NewKeyFromSeed([]byte("palisade-agent-bundle-fuzz-seed!"))
	der, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return priv, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// FuzzBundle feeds arbitrary bytes to what reads a bundle from the hub's
// answer or the on-disk cache: decoding, verification, caching and
// loading back. A bundle that verifies has a safe name whose cache file
// stays in the cache directory, and it is cached and loaded back
// unchanged; nothing panics.
func FuzzBundle(f *testing.F) {
	_, pub := fuzzBundleKey(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := decodeBundle(raw)
		if err != nil {
			return
		}
		if err := verifyBundle(b, pub, "c-1"); err != nil {
			return
		}
		name := bundleFileName(b, ".json")
		if filepath.Base(name) != name || strings.ContainsAny(name, "/\\\n") || strings.HasPrefix(name, ".") {
			t.Fatalf("verified bundle %q/%q names file %q", b.Kind, b.Name, name)
		}
		c := bundleCache{dir: t.TempDir()}
		if _, err := c.receive(context.Background(), b, pub, "c-1", nil); err != nil {
			t.Fatalf("verified bundle not cached: %v", err)
		}
		got, errs := c.load(pub, "c-1")
		if len(errs) > 0 || len(got) != 1 || got[0].SHA256 != b.SHA256 || got[0].Version != b.Version {
			t.Fatalf("cached %+v, loaded %+v %v", b, got, errs)
		}
		if content, err := c.content(&got[0]); err != nil || string(content) != string(b.Content) {
			t.Fatalf("cached content %q, loaded %q %v", b.Content, content, err)
		}
	})
}
