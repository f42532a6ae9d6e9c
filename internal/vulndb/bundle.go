package vulndb

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// A bundle is the database in one file for air-gapped and edge hosts: a
// gzip-compressed tar of three entries, in this order:
//
//	manifest.json      BundleManifest: the database's size, SHA-256 and metadata
//	manifest.json.sig  BundleSignature: an ed25519 signature of manifest.json's bytes
//	osv.db             the database file
//
// The manifest and its signature come first so an importer verifies them
// before reading a byte of the database, and then checks the database
// against the signed hash while streaming it to a temporary file.
const (
	BundleFormat    = "palisade-vulndb-bundle/v1"
	bundleManifest  = "manifest.json"
	bundleSignature = "manifest.json.sig"
	bundleDB        = "osv.db"
	maxManifestSize = 1 << 20
	maxBundleDBSize = 16 << 30
	bundleEntryMode = 0o644
)

// BundleManifest is the signed description of a bundle.
type BundleManifest struct {
	Format   string    `json:"format"`
	Created  time.Time `json:"created"`
	DBSize   int64     `json:"dbSize"`
	DBSHA256 string    `json:"dbSHA256"`
	Metadata Metadata  `json:"metadata"`
}

// BundleSignature signs the manifest's exact bytes.
type BundleSignature struct {
	// KeyID is the hex SHA-256 of the public key (PKIX DER), so an
	// importer with several trusted keys knows which to use.
	KeyID     string `json:"keyID"`
	Algorithm string `json:"algorithm"`
	Signature []byte `json:"signature"`
}

// Export writes the live database to w as a bundle signed with key.
func (c Cache) Export(ctx context.Context, w io.Writer, key ed25519.PrivateKey, now time.Time) (*BundleManifest, error) {
	db, err := c.Open(ctx)
	if err != nil {
		return nil, err
	}
	meta := db.Metadata()
	// Hash a consistent snapshot: the live file is only ever replaced by
	// rename, so the open descriptor keeps the file this handle reads.
	f, err := os.Open(db.Path())
	db.Close()
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return nil, fmt.Errorf("export: read %s: %w", f.Name(), err)
	}
	m := &BundleManifest{Format: BundleFormat, Created: now.UTC(), DBSize: size, DBSHA256: hex.EncodeToString(h.Sum(nil)), Metadata: meta}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	pub := key.Public().(ed25519.PublicKey)
	sig, err := json.Marshal(BundleSignature{KeyID: KeyID(pub), Algorithm: "ed25519", Signature: ed25519.Sign(key, mb)})
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	write := func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: bundleEntryMode, Size: size, ModTime: m.Created, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return err
		}
		n, err := io.Copy(tw, r)
		if err == nil && n != size {
			err = fmt.Errorf("%s changed while exporting", name)
		}
		return err
	}
	if err := write(bundleManifest, int64(len(mb)), bytes.NewReader(mb)); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := write(bundleSignature, int64(len(sig)), bytes.NewReader(sig)); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := write(bundleDB, size, f); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := gz.Close(); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return m, nil
}

// ErrBundleSignature is wrapped when a bundle is not signed by a trusted key.
var ErrBundleSignature = errors.New("bundle signature does not verify with a trusted key")

// ImportBundle reads a signed bundle, verifies the manifest's signature
// against the trusted keys and the database against the manifest, and only
// then swaps the database in. Anything else leaves the live database as it
// was.
func (c Cache) ImportBundle(ctx context.Context, r io.Reader, trusted []ed25519.PublicKey) (*BundleManifest, error) {
	if len(trusted) == 0 {
		return nil, errors.New("import bundle: no trusted public key given")
	}
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("import bundle: not a gzip-compressed bundle: %w", err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	next := func(want string, limit int64) (*tar.Header, error) {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("import bundle: want entry %s: %w", want, err)
		}
		if h.Name != want || h.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("import bundle: entry %q where %s was expected", h.Name, want)
		}
		if h.Size < 0 || h.Size > limit {
			return nil, fmt.Errorf("import bundle: entry %s: size %d over the limit of %d", want, h.Size, limit)
		}
		return h, nil
	}
	if _, err := next(bundleManifest, maxManifestSize); err != nil {
		return nil, err
	}
	mb, err := io.ReadAll(io.LimitReader(tr, maxManifestSize))
	if err != nil {
		return nil, fmt.Errorf("import bundle: %s: %w", bundleManifest, err)
	}
	if _, err := next(bundleSignature, maxManifestSize); err != nil {
		return nil, err
	}
	var sig BundleSignature
	if err := json.NewDecoder(io.LimitReader(tr, maxManifestSize)).Decode(&sig); err != nil {
		return nil, fmt.Errorf("import bundle: %s: %w", bundleSignature, err)
	}
	if !verifyManifest(mb, sig, trusted) {
		return nil, fmt.Errorf("import bundle: %w (key %s)", ErrBundleSignature, sig.KeyID)
	}
	var m BundleManifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return nil, fmt.Errorf("import bundle: %s: %w", bundleManifest, err)
	}
	if m.Format != BundleFormat {
		return nil, fmt.Errorf("import bundle: format %q, want %q", m.Format, BundleFormat)
	}
	if m.DBSize <= 0 || m.DBSize > maxBundleDBSize {
		return nil, fmt.Errorf("import bundle: database size %d out of range", m.DBSize)
	}
	h, err := next(bundleDB, m.DBSize)
	if err != nil {
		return nil, err
	}
	if h.Size != m.DBSize {
		return nil, fmt.Errorf("import bundle: %s has %d bytes, the manifest says %d", bundleDB, h.Size, m.DBSize)
	}

	dest := c.DBPath()
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return nil, fmt.Errorf("import bundle: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(dest), ".bundle-*.db")
	if err != nil {
		return nil, fmt.Errorf("import bundle: %w", err)
	}
	tmp := f.Name()
	keep := false
	defer func() {
		if !keep {
			os.Remove(tmp)
		}
	}()
	sum := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, sum), io.LimitReader(tr, m.DBSize))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("import bundle: %s: %w", bundleDB, err)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); n != m.DBSize || got != m.DBSHA256 {
		return nil, fmt.Errorf("import bundle: %s does not match the signed manifest (SHA-256 %s, want %s)", bundleDB, got, m.DBSHA256)
	}
	// The bytes are the signed ones; opening the file checks that it is a
	// database of this version before it replaces the live one.
	db, err := open(ctx, tmp, c.Program)
	if err != nil {
		return nil, fmt.Errorf("import bundle: %w", err)
	}
	db.Close()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dest); err != nil {
		return nil, fmt.Errorf("import bundle: %w", err)
	}
	keep = true
	_ = syncDir(filepath.Dir(dest))
	return &m, nil
}

func verifyManifest(manifest []byte, sig BundleSignature, trusted []ed25519.PublicKey) bool {
	if sig.Algorithm != "ed25519" || len(sig.Signature) != ed25519.SignatureSize {
		return false
	}
	for _, k := range trusted {
		if len(k) == ed25519.PublicKeySize && ed25519.Verify(k, manifest, sig.Signature) {
			return true
		}
	}
	return false
}

// KeyID identifies a public key: the hex SHA-256 of its PKIX DER encoding,
// which is also what `openssl pkey -pubin -outform DER | sha256sum` prints.
func KeyID(pub ed25519.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:])
}

// GenerateKey creates a bundle signing key pair as PEM: a PKCS #8 private
// key and a PKIX public key, the formats of
// `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout`.
func GenerateKey() (privatePEM, publicPEM []byte, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	pp, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pp}), nil
}

// ParsePrivateKey reads an ed25519 private key in PKCS #8 PEM.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, errors.New("not a PEM \"PRIVATE KEY\" (PKCS #8)")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an ed25519 key", k)
	}
	return ek, nil
}

// ReadPublicKeys reads ed25519 public keys (PKIX PEM) from files; errors
// name the file.
func ReadPublicKeys(files []string) ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		k, err := ParsePublicKey(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// ParsePublicKey reads an ed25519 public key in PKIX PEM.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM \"PUBLIC KEY\"")
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	ek, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an ed25519 key", k)
	}
	return ek, nil
}
