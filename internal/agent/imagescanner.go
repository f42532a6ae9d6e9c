package agent

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/image"
	"github.com/palisade-sec/palisade/internal/imagescan"
	rt "github.com/palisade-sec/palisade/internal/runtime"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

// RegistryScanConfig configures the agent's image scanner
// (NewRegistryScanner). The zero value scans with the database under the
// state directory and anonymous registry access over HTTPS.
type RegistryScanConfig struct {
	// VulnDBDir holds the vulnerability database in the layout of
	// palisade's cache directory (VulnDBDir/vulndb/osv.db); "" means the
	// agent's state directory. vulndb bundles from the hub are imported
	// here.
	VulnDBDir string
	// VulnDBKeyFiles are PEM public keys trusted to sign vulnerability
	// database bundles (`palisade db keygen`). A bundle from the hub is
	// imported only when one of them signed it.
	VulnDBKeyFiles []string
	// RegistryConfig is a Docker config file (config.json, or a mounted
	// kubernetes.io/dockerconfigjson Secret) with registry credentials:
	// the agent cannot read pull secrets through the API.
	RegistryConfig string
	// InsecureRegistries ("host:port") may be reached over plain HTTP; no
	// other registry ever is.
	InsecureRegistries []string
	// CacheMaxBytes bounds the on-disk package lists (default 64 MiB).
	CacheMaxBytes int64
	// LayerCacheMaxBytes bounds the on-disk layer records (default 128
	// MiB): what each layer contributed, by layer digest, so a new image
	// on base layers the agent has read before pulls only its own layers.
	LayerCacheMaxBytes int64
	// Platform chooses from multi-arch images ("" = linux and the agent's
	// architecture).
	Platform string
	// Timeout bounds connecting to a registry and each response's headers
	// (default 30s).
	Timeout time.Duration
	// Transport, when set, replaces the HTTP transport to registries.
	Transport http.RoundTripper
	// UserAgent is sent to registries.
	UserAgent string
	// MaxFileBytes and MaxMemoryBytes bound one image walk: the largest
	// file kept for the catalogers (a JAR, a package database) and all
	// the files kept at once (DefaultScanMaxFileBytes,
	// DefaultScanMaxMemoryBytes). An image needing more is not scanned
	// (an error names it): the agent must fit its container.
	MaxFileBytes, MaxMemoryBytes int64
}

// Defaults of RegistryScanConfig's walk limits: with two scans at once,
// 2 × 24 MiB of kept files beside the agent's own ~30 MiB stays inside
// deploy/agent's 128 MiB limit. (The CLI's defaults are 64 and 512 MiB.)
const (
	DefaultScanMaxFileBytes   = 16 << 20
	DefaultScanMaxMemoryBytes = 24 << 20
)

var _ VulnDBLoader = (*RegistryScanner)(nil)

// RegistryScanner is the agent's ImageScanner and VulnDBLoader. It pulls
// each image by digest from its registry, walks its layers once (streamed,
// never unpacked; layers read for an earlier image are replayed from
// imagescan's layer cache instead of pulled) into a package list that it
// keeps on disk by digest, and
// matches package lists against the local vulnerability database. When
// the database changes, the agent calls Scan again for every digest and
// the kept package lists are matched again without reading the image.
type RegistryScanner struct {
	dbCache vulndb.Cache
	keys    []ed25519.PublicKey
	image   image.Options
	limits  image.Limits
	sboms   *sbomCache
	layers  *imagescan.LayerDiskCache
	log     *slog.Logger
	walks   atomic.Int64

	mu      sync.Mutex
	db      *openDB // nil until a database exists
	lastErr string
}

// openDB is an opened database file, closed once replaced and unused.
type openDB struct {
	db      *vulndb.DB
	stamp   string
	file    os.FileInfo
	refs    int
	retired bool
}

// NewRegistryScanner returns the scanner, its package lists kept under
// stateDir/sboms.
func NewRegistryScanner(cfg RegistryScanConfig, stateDir string, log *slog.Logger) (*RegistryScanner, error) {
	if log == nil {
		log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	dbDir := cfg.VulnDBDir
	if dbDir == "" {
		dbDir = stateDir
	}
	limits := image.Limits{MaxFileSize: cfg.MaxFileBytes, MaxTotalBytes: cfg.MaxMemoryBytes}
	if limits.MaxFileSize <= 0 {
		limits.MaxFileSize = DefaultScanMaxFileBytes
	}
	if limits.MaxTotalBytes <= 0 {
		limits.MaxTotalBytes = DefaultScanMaxMemoryBytes
	}
	// A layer's record shares the kept files' memory; its entries are
	// bounded like them, so a walk stays within the agent's budget.
	limits.MaxRecordBytes = limits.MaxTotalBytes
	s := &RegistryScanner{dbCache: vulndb.Cache{Dir: dbDir}, log: log, limits: limits, image: image.Options{
		Platform:           cfg.Platform,
		InsecureRegistries: cfg.InsecureRegistries,
		Timeout:            cfg.Timeout,
		Transport:          cfg.Transport,
		UserAgent:          cfg.UserAgent,
		// Never the process's own Docker config or credential helpers.
		Keychain: &image.Credentials{},
	}}
	if cfg.RegistryConfig != "" {
		creds, err := image.LoadDockerConfig(cfg.RegistryConfig)
		if err != nil {
			return nil, err
		}
		s.image.Keychain = creds
	}
	keys, err := readPublicKeys(cfg.VulnDBKeyFiles, "vulnerability DB key")
	if err != nil {
		return nil, err
	}
	s.keys = keys
	max := cfg.CacheMaxBytes
	if max <= 0 {
		max = 64 << 20
	}
	if s.sboms, err = openSBOMCache(filepath.Join(stateDir, "sboms"), max); err != nil {
		return nil, err
	}
	layerMax := cfg.LayerCacheMaxBytes
	if layerMax <= 0 {
		layerMax = 128 << 20
	}
	if s.layers, err = imagescan.NewLayerDiskCache(filepath.Join(stateDir, "layers"), layerMax); err != nil {
		return nil, err
	}
	return s, nil
}

// Walks counts the images read from a registry (cache misses).
func (s *RegistryScanner) Walks() int64 { return s.walks.Load() }

// Close releases the database.
func (s *RegistryScanner) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db != nil {
		s.retire(s.db)
		s.db = nil
	}
	return nil
}

var digestPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// Scan returns the vulnerabilities of the image with this digest. ref
// names its repository (a pod's image field); the image is pulled as
// repository@digest, so a moved tag never changes what is scanned.
func (s *RegistryScanner) Scan(ctx context.Context, ref, digest string) ([]finding.Finding, error) {
	pull, err := checkedPullRef(ref, digest)
	if err != nil {
		return nil, err
	}
	d, err := s.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", pull, err)
	}
	defer s.release(d)
	inv, err := s.inventory(ctx, pull, digest)
	if err != nil {
		return nil, err
	}
	m, err := imagescan.Match(ctx, inv, d.db, imagescan.Options{})
	if err != nil {
		return nil, err
	}
	// Packages left unchecked (an ecosystem the database has no advisories
	// of) must not pass for a clean image: the operator is told, once per
	// scan or rematch. The hub does not carry them yet.
	for _, p := range m.Problems {
		if p.Level == finding.LevelError {
			s.log.Warn("image not fully checked for vulnerabilities", slog.String("image", pull), slog.String("problem", p.Message))
		}
	}
	return m.Findings, nil
}

// Catalogue implements ImageCataloguer: it reads the image as Scan does
// and keeps its package list and executable paths, without a
// vulnerability database. Scan then matches the kept list once a
// database arrives, without reading the image again (while the package
// list cache keeps it; past that, layers read before are replayed from
// the layer cache).
func (s *RegistryScanner) Catalogue(ctx context.Context, ref, digest string) error {
	pull, err := checkedPullRef(ref, digest)
	if err != nil {
		return err
	}
	_, err = s.inventory(ctx, pull, digest)
	return err
}

// inventory is the image's kept package list, read from the registry
// when none is kept.
func (s *RegistryScanner) inventory(ctx context.Context, pull, digest string) (*imagescan.Inventory, error) {
	inv, ok := s.sboms.get(digest)
	// A package list kept before executables were listed is read again
	// once, for the runtime sensors' drift check.
	if !ok || inv.Executables == nil {
		var err error
		if inv, err = s.walk(ctx, pull, digest); err != nil {
			return nil, err
		}
		s.walks.Add(1)
		if err := s.sboms.put(digest, inv); err != nil {
			s.log.Warn("cannot keep the image's package list; it will be read again", slog.String("image", pull), slog.Any("error", err))
		}
	}
	inv.Image.Ref = pull
	return inv, nil
}

// checkedPullRef is pullRef of a sha256 digest only.
func checkedPullRef(ref, digest string) (string, error) {
	if !digestPattern.MatchString(digest) {
		return "", fmt.Errorf("image %s: digest %q is not a sha256 digest", ref, digest)
	}
	return pullRef(ref, digest)
}

// walk catalogues the image, a marker file in place while it runs.
func (s *RegistryScanner) walk(ctx context.Context, pull, digest string) (*imagescan.Inventory, error) {
	done, ok := s.sboms.startWalk(digest)
	if !ok {
		return nil, fmt.Errorf("image %s: not scanned again for now: a scan of it was running when the agent last stopped (out of memory?); tried again %s after the restart, or raise the agent's memory limit or --scan-max-memory-mib", pull, unfinishedBlock)
	}
	defer done()
	return imagescan.Catalog(ctx, pull, imagescan.Options{Image: s.image, Limits: s.limits, Layers: s.layers, Executables: rt.MaxImageFiles}) // errors name the image
}

// Executables implements ImageExecutables from the kept package lists.
func (s *RegistryScanner) Executables(digest string) *imagescan.Executables {
	inv, ok := s.sboms.get(digest)
	if !ok {
		return nil
	}
	return inv.Executables
}

// readPublicKeys is vulndb.ReadPublicKeys with its errors named by what.
func readPublicKeys(files []string, what string) ([]ed25519.PublicKey, error) {
	keys, err := vulndb.ReadPublicKeys(files)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return keys, nil
}

// pullRef is ref's repository at digest ("nginx:1.27" and
// "sha256:…" give "index.docker.io/library/nginx@sha256:…").
func pullRef(ref, digest string) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", ref, err)
	}
	return r.Context().Name() + "@" + digest, nil
}

// DBStamp identifies the database in use: when it was built and a hash
// of its sources. It is "" while there is no database, and the agent
// matches nothing until one arrives (it catalogues the images meanwhile).
func (s *RegistryScanner) DBStamp() string {
	d, err := s.acquire(context.Background())
	if err != nil {
		return ""
	}
	defer s.release(d)
	return d.stamp
}

// acquire returns the current database, opening it again when the file
// was replaced (a bundle import, `palisade db update` on a shared volume).
func (s *RegistryScanner) acquire(ctx context.Context) (*openDB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	path := s.dbCache.DBPath()
	st, err := os.Stat(path)
	if err == nil && s.db != nil && os.SameFile(st, s.db.file) && st.ModTime().Equal(s.db.file.ModTime()) && st.Size() == s.db.file.Size() {
		s.db.refs++
		return s.db, nil
	}
	var db *vulndb.DB
	if err == nil {
		db, err = vulndb.Open(ctx, path)
	} else if errors.Is(err, os.ErrNotExist) {
		err = fmt.Errorf("%s: %w", path, vulndb.ErrNoDatabase)
	}
	if err != nil {
		if msg := err.Error(); msg != s.lastErr {
			s.lastErr = msg
			s.log.Warn("no usable vulnerability database; images are not scanned until one arrives", slog.Any("error", err))
		}
		return nil, err
	}
	s.lastErr = ""
	if s.db != nil {
		s.retire(s.db)
	}
	s.db = &openDB{db: db, stamp: dbStamp(db.Metadata()), file: st, refs: 1}
	s.log.Info("vulnerability database opened", slog.String("stamp", s.db.stamp), slog.Int("records", db.Metadata().Records))
	return s.db, nil
}

func (s *RegistryScanner) release(d *openDB) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d.refs--
	if d.retired && d.refs == 0 {
		d.db.Close()
	}
}

// retire closes d once no scan uses it; s.mu is held.
func (s *RegistryScanner) retire(d *openDB) {
	d.retired = true
	if d.refs == 0 {
		d.db.Close()
	}
}

func dbStamp(m vulndb.Metadata) string {
	type src struct{ Name, SHA256 string }
	in := struct {
		Built   time.Time
		Records int
		Sources []src
	}{Built: m.Built, Records: m.Records}
	for _, s := range m.Sources {
		in.Sources = append(in.Sources, src{s.Name, s.SHA256})
	}
	b, _ := json.Marshal(in)
	sum := sha256.Sum256(b)
	return m.Built.UTC().Format(time.RFC3339) + "/" + hex.EncodeToString(sum[:6])
}

// LoadBundle imports a vulnerability-database bundle from the hub
// (`palisade db export` output, the file at path whose SHA-256 is sum)
// after checking its signature against the trusted keys; the next
// DBStamp then differs and every image is matched again. The import
// streams the file: the database is never held in memory. A bundle
// already imported is not imported again.
func (s *RegistryScanner) LoadBundle(ctx context.Context, name, sum, path string) error {
	if len(s.keys) == 0 {
		return fmt.Errorf("vulnerability DB bundle %s: no trusted signing key configured (--vuln-db-public-key); ignored", name)
	}
	marker := filepath.Join(filepath.Dir(s.dbCache.DBPath()), "hub-bundles.json")
	imported := map[string]string{}
	if b, err := os.ReadFile(marker); err == nil {
		_ = json.Unmarshal(b, &imported) // unreadable: import again
	}
	if imported[name] == sum {
		if _, err := os.Stat(s.dbCache.DBPath()); err == nil {
			return nil
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("vulnerability DB bundle %s: %w", name, err)
	}
	defer f.Close()
	m, err := s.dbCache.ImportBundle(ctx, f, s.keys)
	if err != nil {
		return fmt.Errorf("vulnerability DB bundle %s: %w", name, err)
	}
	imported[name] = sum
	if b, err := json.Marshal(imported); err == nil {
		if err := writeFileAtomic(marker, b); err != nil {
			s.log.Warn("cannot record the imported bundle; it will be imported again", slog.Any("error", err))
		}
	}
	s.log.Info("vulnerability DB bundle imported", slog.String("name", name), slog.Int("records", m.Metadata.Records), slog.Time("built", m.Metadata.Built))
	return nil
}
