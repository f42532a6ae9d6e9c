package hub

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/palisade-sec/palisade/internal/hub/store"
)

// The hub's private keys (the CA key, which signs every agent certificate
// and the serving certificate, and the bundle-signing key) live in files,
// never in the database that every replica, backup and DBA can read. The
// database keeps only their public halves (the CA certificate, the bundle
// public key), so every replica can tell whether the key files it was
// given belong to this hub.
//
//   - A fresh hub creates the keys, writes the files (0600, in a 0700
//     directory) and stores the public halves.
//   - A replica given no key files for a database whose CA exists refuses
//     to start: minting a second CA would split the fleet.
//   - A database of a hub before this change holds the private keys in
//     hub_secrets: they are moved to the files and wiped from the table on
//     start (AuditKeysMigrated).

// KeyFiles locates the hub's private keys.
type KeyFiles struct {
	// CAKey is the CA's private key (PKCS #8 PEM); BundleKey the Ed25519
	// bundle-signing key (PKCS #8 PEM). Both empty: keys are created in
	// memory for this process only (tests), and a database whose keys
	// exist elsewhere is refused.
	CAKey, BundleKey string
}

// Names in hub_secrets: the public records, and the private keys of hubs
// before key files (read only to move them out).
const (
	secretCACert     = "ca-cert"
	secretBundlePub  = "bundle-public-key"
	legacySecretCA   = "ca"
	legacySecretBKey = "bundle-key"
)

// newCAPEM creates a CA key and certificate, PEM concatenated as hubs
// before key files stored them.
func newCAPEM() ([]byte, error) {
	keyPEM, err := newCAKeyPEM()
	if err != nil {
		return nil, err
	}
	key, err := parsePrivateKey(keyPEM)
	if err != nil {
		return nil, err
	}
	certPEM, err := newCACertPEM(key)
	if err != nil {
		return nil, err
	}
	return append(certPEM, keyPEM...), nil
}

func parsePrivateKey(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, errors.New("no PKCS #8 PEM private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("not a signing key")
	}
	return s, nil
}

// splitPEM returns the CERTIFICATE and PRIVATE KEY blocks of a legacy
// secret.
func splitPEM(b []byte) (cert, key []byte) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return cert, key
		}
		switch blk.Type {
		case "CERTIFICATE":
			cert = pem.EncodeToMemory(blk)
		case "PRIVATE KEY":
			key = pem.EncodeToMemory(blk)
		}
	}
}

// readKeyFile reads a private key file, refusing one that others can
// read or anyone but its owner can write (ssh's rule, with group read
// allowed for Kubernetes secrets mounted with fsGroup). It returns nil,
// nil when the file does not exist.
func readKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if m := fi.Mode().Perm(); m&0o027 != 0 {
		return nil, fmt.Errorf("key file %s: mode %04o lets others read or write the hub's private key: chmod 600 it", path, m)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return b, nil
}

// writeKeyFile creates path with content, 0600 in a 0700 directory,
// atomically and only if it does not exist: replicas starting at once on
// a shared directory agree on the first file written. It returns the
// file's content, which is another writer's when that one was first.
func writeKeyFile(path string, content []byte) ([]byte, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("key directory %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".key-*")
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	// A hard link never replaces an existing file: the first wins whole.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readKeyFile(path)
		}
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return content, nil
}

// keyMaterial is what loadKeys finds: the CA and the bundle key.
type keyMaterial struct {
	ca        *authority
	bundleKey ed25519.PrivateKey
}

// loadKeys loads the hub's keys from files, creating them for a fresh
// hub, moving them out of a legacy database, and refusing files that do
// not belong to the database's hub.
func loadKeys(ctx context.Context, st store.Store, kf KeyFiles, log *slog.Logger) (keyMaterial, []string, error) {
	var km keyMaterial
	var moved []string
	caKey, movedCA, err := loadKey(ctx, st, kf.CAKey, legacySecretCA, "CA key", "--ca-key-file", newCAKeyPEM)
	if err != nil {
		return km, nil, err
	}
	signer, err := parsePrivateKey(caKey)
	if err != nil {
		return km, nil, fmt.Errorf("CA key %s: %w", kf.CAKey, err)
	}
	certPEM, err := publicRecord(ctx, st, secretCACert, legacySecretCA, func() ([]byte, error) { return newCACertPEM(signer) })
	if err != nil {
		return km, nil, err
	}
	ca, err := parseCA(append(append([]byte{}, certPEM...), caKey...))
	if err != nil {
		return km, nil, err
	}
	if !publicKeysEqual(ca.cert.PublicKey, signer.Public()) {
		return km, nil, fmt.Errorf("CA key %s is not the key of this hub's CA (%s, in the database): "+
			"every replica must be given the same key files (another replica created the CA first if they all started at once: restart with its key)",
			kf.CAKey, Fingerprint(ca.cert.Raw))
	}
	bk, movedBK, err := loadKey(ctx, st, kf.BundleKey, legacySecretBKey, "bundle-signing key", "--bundle-signing-key-file", newBundleKeyPEM)
	if err != nil {
		return km, nil, err
	}
	bundleKey, err := parseBundleKey(bk)
	if err != nil {
		return km, nil, fmt.Errorf("%s: %w", kf.BundleKey, err)
	}
	pub, err := publicRecord(ctx, st, secretBundlePub, legacySecretBKey, func() ([]byte, error) { return PublicKeyPEM(bundleKey.Public().(ed25519.PublicKey)) })
	if err != nil {
		return km, nil, err
	}
	if want, _ := PublicKeyPEM(bundleKey.Public().(ed25519.PublicKey)); !bytes.Equal(pub, want) {
		return km, nil, fmt.Errorf("bundle-signing key %s is not the key of this hub (its public key is in the database): every replica must be given the same key files", kf.BundleKey)
	}
	// Wipe the legacy private keys only once both files hold them.
	for _, m := range []struct {
		moved bool
		name  string
		file  string
	}{{movedCA, legacySecretCA, kf.CAKey}, {movedBK, legacySecretBKey, kf.BundleKey}} {
		if !m.moved {
			continue
		}
		if err := st.WipeSecret(ctx, m.name); err != nil {
			return km, nil, err
		}
		log.WarnContext(ctx, "private key moved out of the database", slog.String("secret", m.name), slog.String("file", m.file))
		moved = append(moved, m.name+" → "+m.file)
	}
	return keyMaterial{ca: ca, bundleKey: bundleKey}, moved, nil
}

// loadKey returns one private key (PEM): from its file; else from the
// legacy database row (moved is true: the caller wipes the row once every
// key is safe); else, for a hub whose public record does not exist yet,
// newly created. path "" keeps the key in memory (tests).
func loadKey(ctx context.Context, st store.Store, path, legacy, what, flag string, create func() ([]byte, error)) (key []byte, moved bool, err error) {
	var fromFile []byte
	if path != "" {
		if fromFile, err = readKeyFile(path); err != nil {
			return nil, false, err
		}
	}
	old, err := st.LookupSecret(ctx, legacy)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, false, err
	}
	if old != nil {
		if legacy == legacySecretCA {
			_, old = splitPEM(old)
		}
		if fromFile != nil && !bytes.Equal(bytes.TrimSpace(fromFile), bytes.TrimSpace(old)) {
			return nil, false, fmt.Errorf("%s %s differs from the key this hub's database holds: refusing to choose (move the file away to migrate the database's key into it)", what, path)
		}
		if path == "" {
			return old, false, nil // in memory: nowhere to move it
		}
		if fromFile == nil {
			if _, err := writeKeyFile(path, old); err != nil {
				return nil, false, err
			}
		}
		return old, true, nil
	}
	if fromFile != nil {
		return fromFile, false, nil
	}
	pubName := secretCACert
	if legacy == legacySecretBKey {
		pubName = secretBundlePub
	}
	if _, err := st.LookupSecret(ctx, pubName); err == nil {
		// A replica starting beside this one may have written the file
		// and then the public record after this one read the directory:
		// read the file again before calling it missing.
		if path != "" {
			if fromFile, err = readKeyFile(path); err != nil {
				return nil, false, err
			}
			if fromFile != nil {
				return fromFile, false, nil
			}
		}
		where := "no key file was given"
		if path != "" {
			where = path + " does not exist"
		}
		return nil, false, fmt.Errorf("this hub's %s exists (its public half is in the database) but %s: "+
			"give this replica the same %s as the others rather than create a second one (see docs/fleet.md, 'Keys')", what, where, flag)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, false, err
	}
	key, err = create()
	if err != nil {
		return nil, false, fmt.Errorf("create %s: %w", what, err)
	}
	if path == "" {
		return key, false, nil
	}
	// Another replica sharing the directory may have written it first.
	key, err = writeKeyFile(path, key)
	return key, false, err
}

// publicRecord returns the public record called name, storing create's
// value when there is none (the first replica's wins). For a legacy
// database the record is taken from the legacy CA secret's certificate,
// so the CA agents pin stays the same.
func publicRecord(ctx context.Context, st store.Store, name, legacy string, create func() ([]byte, error)) ([]byte, error) {
	return st.Secret(ctx, name, func() ([]byte, error) {
		if legacy == legacySecretCA {
			if old, err := st.LookupSecret(ctx, legacy); err == nil {
				if cert, _ := splitPEM(old); cert != nil {
					return cert, nil
				}
			}
		}
		return create()
	})
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}
