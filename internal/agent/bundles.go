package agent

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// maxCachedBundleBytes bounds one cached bundle file (the hub bounds
// report bodies likewise; vulnerability-DB bundles are the large ones).
const maxCachedBundleBytes = 512 << 20

// verifyBundle checks a bundle's kind and name, its content against its
// SHA-256 and the signature against the hub's bundle key, binding kind,
// name, version and cluster. cluster is the agent's own cluster: a bundle
// for another cluster is refused even when validly signed.
func verifyBundle(b *fleetapi.Bundle, keyPEM []byte, cluster string) error {
	if err := fleetapi.CheckBundleName(b.Kind, b.Name); err != nil {
		return fmt.Errorf("unsafe: %w", err)
	}
	blk, _ := pem.Decode(keyPEM)
	if blk == nil {
		return errors.New("bundle key: no PEM")
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return fmt.Errorf("bundle key: %w", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return errors.New("bundle key: not ed25519")
	}
	sum := sha256.Sum256(b.Content)
	if hex.EncodeToString(sum[:]) != b.SHA256 {
		return fmt.Errorf("bundle %s/%s v%d: content does not match its sha256", b.Kind, b.Name, b.Version)
	}
	if !ed25519.Verify(pub, b.SigningPayload(), b.Signature) {
		return fmt.Errorf("bundle %s/%s v%d: bad signature", b.Kind, b.Name, b.Version)
	}
	if b.Cluster != "" && b.Cluster != cluster {
		return fmt.Errorf("bundle %s/%s v%d: for cluster %s, not this one", b.Kind, b.Name, b.Version, b.Cluster)
	}
	return nil
}

// bundleFileName names a bundle's files: "<kind>--<name>" for the fleet,
// "<kind>--<name>@<cluster>" for a bundle of this cluster alone (a hub may
// publish both under one name; '@' is never part of a name), plus ext.
func bundleFileName(b *fleetapi.Bundle, ext string) string {
	n := b.Kind + "--" + b.Name
	if b.Cluster != "" {
		n += "@" + b.Cluster
	}
	return n + ext
}

// bundleCache keeps verified bundles on disk so that policies, rules and
// the vulnerability database keep working while the hub is unreachable.
// Files are re-verified when read: a tampered cache is ignored.
type bundleCache struct {
	dir string
}

// store writes a verified bundle; it reports whether the cache changed. A
// bundle older than the verified cached one of the same kind, name and
// scope is refused (a replayed or rolled-back bundle never replaces a
// newer one), and so is other content under the same version.
func (c bundleCache) store(b *fleetapi.Bundle, keyPEM []byte, cluster string) (bool, error) {
	if err := fleetapi.CheckBundleName(b.Kind, b.Name); err != nil {
		return false, err
	}
	if b.Cluster != "" && fleetapi.CheckBundleName(b.Kind, b.Cluster) != nil {
		return false, fmt.Errorf("bundle %s/%s: unsafe cluster %q", b.Kind, b.Name, b.Cluster)
	}
	p := filepath.Join(c.dir, bundleFileName(b, ".json"))
	if old, err := c.readFile(p); err == nil && verifyBundle(old, keyPEM, cluster) == nil {
		switch {
		case old.Version > b.Version:
			return false, fmt.Errorf("bundle %s/%s v%d: older than the cached v%d, refused (a replayed bundle, or a hub database restored from an older backup)", b.Kind, b.Name, b.Version, old.Version)
		case old.Version == b.Version && old.SHA256 != b.SHA256:
			return false, fmt.Errorf("bundle %s/%s v%d: other content than the cached bundle of the same version, refused", b.Kind, b.Name, b.Version)
		case old.Version == b.Version:
			return false, nil
		}
	}
	raw, err := json.Marshal(b)
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return false, err
	}
	return true, writeFileAtomic(p, raw)
}

func (c bundleCache) readFile(p string) (*fleetapi.Bundle, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxCachedBundleBytes {
		return nil, fmt.Errorf("%d bytes, more than %d", st.Size(), maxCachedBundleBytes)
	}
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return decodeBundle(raw)
}

// decodeBundle decodes one cached bundle file (it is re-verified by the
// caller before use).
func decodeBundle(raw []byte) (*fleetapi.Bundle, error) {
	var b fleetapi.Bundle
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// load returns every cached bundle that still verifies, one per kind,
// name and scope (the newest, should older files linger), fleet-wide ones
// first so that a cluster's own bundles are applied after them.
func (c bundleCache) load(keyPEM []byte, cluster string) ([]fleetapi.Bundle, []error) {
	files, _ := filepath.Glob(filepath.Join(c.dir, "*.json"))
	type key struct{ kind, name, cluster string }
	newest := map[key]*fleetapi.Bundle{}
	var errs []error
	for _, f := range files {
		b, err := c.readFile(f)
		if err == nil {
			err = verifyBundle(b, keyPEM, cluster)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("cached bundle %s: %w", filepath.Base(f), err))
			continue
		}
		k := key{b.Kind, b.Name, b.Cluster}
		if old, ok := newest[k]; !ok || b.Version > old.Version {
			newest[k] = b
		}
	}
	out := make([]fleetapi.Bundle, 0, len(newest))
	for _, b := range newest {
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.Cluster == "") != (b.Cluster == "") {
			return a.Cluster == ""
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Name < b.Name
	})
	return out, errs
}

// receiveBundles verifies and caches the hub's bundles and applies the
// cache when it changed. A bundle that fails verification or is older
// than the cached one is refused alone: the others are still taken, and
// the cached bundle it would have replaced stays in use. The error lists
// every refusal.
func (a *Agent) receiveBundles(ctx context.Context, bundles []fleetapi.Bundle) error {
	changed := false
	var errs []error
	for i := range bundles {
		b := &bundles[i]
		if err := verifyBundle(b, a.id.bundleKey, a.id.meta.ClusterID); err != nil {
			errs = append(errs, fmt.Errorf("refusing %w", err))
			continue
		}
		c, err := a.cache.store(b, a.id.bundleKey, a.id.meta.ClusterID)
		if err != nil {
			errs = append(errs, fmt.Errorf("cache: %w", err))
			continue
		}
		changed = changed || c
	}
	if changed {
		a.applyCachedBundles(ctx)
	}
	return errors.Join(errs...)
}
