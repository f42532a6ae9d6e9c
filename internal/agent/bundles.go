package agent

import (
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
	"regexp"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// verifyBundle checks a bundle's content against its SHA-256 and the
// signature against the hub's bundle key, binding kind, name, version and
// cluster. cluster is the agent's own cluster: a bundle for another
// cluster is refused even when validly signed.
func verifyBundle(b *fleetapi.Bundle, keyPEM []byte, cluster string) error {
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

var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// bundleCache keeps verified bundles on disk so that policies, rules and
// the vulnerability database keep working while the hub is unreachable.
// Files are re-verified when read: a tampered cache is ignored.
type bundleCache struct {
	dir string
}

func (c bundleCache) path(kind, name string) (string, error) {
	if !safeName.MatchString(kind) || !safeName.MatchString(name) {
		return "", fmt.Errorf("bundle name %q/%q: unsafe", kind, name)
	}
	return filepath.Join(c.dir, kind+"--"+name+".json"), nil
}

// store writes a verified bundle; it reports whether it changed.
func (c bundleCache) store(b *fleetapi.Bundle) (bool, error) {
	p, err := c.path(b.Kind, b.Name)
	if err != nil {
		return false, err
	}
	if old, err := c.readFile(p); err == nil && old.SHA256 == b.SHA256 && old.Version >= b.Version {
		return false, nil
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
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var b fleetapi.Bundle
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// load returns every cached bundle that still verifies.
func (c bundleCache) load(keyPEM []byte, cluster string) ([]fleetapi.Bundle, []error) {
	files, _ := filepath.Glob(filepath.Join(c.dir, "*.json"))
	var out []fleetapi.Bundle
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
		out = append(out, *b)
	}
	return out, errs
}
