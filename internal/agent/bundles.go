package agent

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// The bundle cache (STATE/bundles) holds, for each bundle,
//
//	<kind>--<name>[@<cluster>].json  its signed metadata (no content)
//	<sha256>.bundle                  its content, named by its digest
//
// The content is written first, to a ".download-*" file while it is
// hashed, and renamed into place only when it matches the signed SHA-256;
// the metadata file is replaced after it, so a crash or a failed download
// leaves the previous bundle whole. Content files no metadata names any
// more are removed after each new bundle, stale downloads at each fetch.
// Every read verifies again: the metadata's signature and the content's
// hash, streaming, so a tampered file is refused and a large bundle is
// never held in memory.
const (
	bundleContentExt = ".bundle"
	bundleTempPrefix = ".download-"
	// DefaultMaxBundleBytes bounds one bundle's content (--max-bundle-mib).
	DefaultMaxBundleBytes = 512 << 20
	// maxBundleMetaBytes bounds a metadata file.
	maxBundleMetaBytes = 1 << 20
	// maxLegacyBundleBytes bounds a cache file written by an agent that
	// kept the content inside the JSON: read only when this small.
	maxLegacyBundleBytes = 16 << 20
	// maxAppliedBundleBytes bounds the bundles read into memory to be
	// applied (policies, rules, allow-lists); vulndb bundles are read by
	// the scanner from their file.
	maxAppliedBundleBytes = 4 << 20
	// A download must progress every bundleStallTimeout and end within
	// bundleDownloadTimeout.
	bundleStallTimeout    = time.Minute
	bundleDownloadTimeout = 30 * time.Minute
)

// bundleKey parses the hub's PEM bundle-signing key.
func bundleKey(keyPEM []byte) (ed25519.PublicKey, error) {
	blk, _ := pem.Decode(keyPEM)
	if blk == nil {
		return nil, errors.New("bundle key: no PEM")
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("bundle key: %w", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("bundle key: not ed25519")
	}
	return pub, nil
}

// verifyBundleMeta checks a bundle's kind and name, and the signature
// against the hub's bundle key, binding kind, name, version, cluster and
// SHA-256 (the content is checked against the SHA-256 apart, as it is
// read). cluster is the agent's own cluster: a bundle for another cluster
// is refused even when validly signed.
func verifyBundleMeta(b *fleetapi.Bundle, keyPEM []byte, cluster string) error {
	if err := fleetapi.CheckBundleName(b.Kind, b.Name); err != nil {
		return fmt.Errorf("unsafe: %w", err)
	}
	if b.Cluster != "" && fleetapi.CheckBundleName(b.Kind, b.Cluster) != nil {
		return fmt.Errorf("bundle %s/%s: unsafe cluster %q", b.Kind, b.Name, b.Cluster)
	}
	pub, err := bundleKey(keyPEM)
	if err != nil {
		return err
	}
	if !ed25519.Verify(pub, b.SigningPayload(), b.Signature) {
		return fmt.Errorf("bundle %s/%s v%d: bad signature", b.Kind, b.Name, b.Version)
	}
	if b.Cluster != "" && b.Cluster != cluster {
		return fmt.Errorf("bundle %s/%s v%d: for cluster %s, not this one", b.Kind, b.Name, b.Version, b.Cluster)
	}
	return nil
}

// verifyBundle checks the metadata and the content carried inline (a
// small bundle in the hub's list, or a cache file of an older agent).
func verifyBundle(b *fleetapi.Bundle, keyPEM []byte, cluster string) error {
	if err := verifyBundleMeta(b, keyPEM, cluster); err != nil {
		return err
	}
	sum := sha256.Sum256(b.Content)
	if hex.EncodeToString(sum[:]) != b.SHA256 {
		return errContentMismatch(b)
	}
	return nil
}

func errContentMismatch(b *fleetapi.Bundle) error {
	return fmt.Errorf("bundle %s/%s v%d: content does not match its sha256", b.Kind, b.Name, b.Version)
}

// bundleFileName names a bundle's metadata file: "<kind>--<name>" for the
// fleet, "<kind>--<name>@<cluster>" for a bundle of this cluster alone (a
// hub may publish both under one name; '@' is never part of a name), plus
// ext.
func bundleFileName(b *fleetapi.Bundle, ext string) string {
	n := b.Kind + "--" + b.Name
	if b.Cluster != "" {
		n += "@" + b.Cluster
	}
	return n + ext
}

// bundleCache keeps verified bundles on disk so that policies, rules and
// the vulnerability database keep working while the hub is unreachable.
type bundleCache struct {
	dir string
	// max bounds one bundle's content; 0 is DefaultMaxBundleBytes.
	max int64
	// hashed, when set, remembers content files already hashed, so the
	// periodic cache read does not hash a 40 MB vulndb bundle every 5
	// minutes (see verifyContentFile).
	hashed *hashedFiles
}

// hashedFiles remembers the content files whose hash matched, with the
// size and modification time they had then.
type hashedFiles struct {
	mu    sync.Mutex
	files map[string]hashedFile
	now   func() time.Time // tests; nil is time.Now
}

type hashedFile struct {
	sha      string
	size     int64
	modTime  time.Time
	hashedAt time.Time
}

// rehashAfter is how long a content file that did not change (same size
// and modification time) is trusted without hashing it again.
const rehashAfter = 24 * time.Hour

func newHashedFiles() *hashedFiles { return &hashedFiles{files: map[string]hashedFile{}} }

// fresh reports whether p was hashed to sha within rehashAfter and has
// not changed since.
func (h *hashedFiles) fresh(p, sha string, st os.FileInfo, now time.Time) bool {
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	f, ok := h.files[p]
	return ok && f.sha == sha && f.size == st.Size() && f.modTime.Equal(st.ModTime()) && now.Sub(f.hashedAt) < rehashAfter
}

func (h *hashedFiles) record(p, sha string, st os.FileInfo, now time.Time) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.files[p] = hashedFile{sha: sha, size: st.Size(), modTime: st.ModTime(), hashedAt: now}
}

// cachedBundle is a verified bundle of the cache.
type cachedBundle struct {
	fleetapi.Bundle // Content is set only for a file cached by an older agent
	// path is the content file, verified when the bundle was loaded; ""
	// when Content is inline.
	path string
}

func (c bundleCache) limit(kind string) int64 {
	m := c.max
	if m <= 0 {
		m = DefaultMaxBundleBytes
	}
	if kind != fleetapi.BundleVulnDB {
		m = min(m, maxAppliedBundleBytes)
	}
	return m
}

func (c bundleCache) contentPath(sha string) string {
	return filepath.Join(c.dir, sha+bundleContentExt)
}

// readFileMax reads a file of at most max bytes.
func readFileMax(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > max {
		return nil, fmt.Errorf("%s: more than %d bytes", filepath.Base(p), max)
	}
	return raw, nil
}

// readMeta reads a metadata file (not verified).
func (c bundleCache) readMeta(p string) (*fleetapi.Bundle, error) {
	raw, err := readFileMax(p, maxLegacyBundleBytes)
	if err != nil {
		return nil, err
	}
	return decodeBundle(raw)
}

// decodeBundle decodes one metadata file or listed bundle (verified by
// the caller before use).
func decodeBundle(raw []byte) (*fleetapi.Bundle, error) {
	var b fleetapi.Bundle
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// verifyContentFile hashes the content file of b, streaming.
func (c bundleCache) verifyContentFile(b *fleetapi.Bundle) (string, error) {
	p := c.contentPath(b.SHA256)
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("bundle %s/%s v%d: %w", b.Kind, b.Name, b.Version, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("bundle %s/%s v%d: %w", b.Kind, b.Name, b.Version, err)
	}
	now := time.Now()
	if c.hashed != nil && c.hashed.now != nil {
		now = c.hashed.now()
	}
	if c.hashed.fresh(p, b.SHA256, st, now) {
		return p, nil
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, c.limit(b.Kind)+1))
	if err != nil {
		return "", fmt.Errorf("bundle %s/%s v%d: %w", b.Kind, b.Name, b.Version, err)
	}
	if n > c.limit(b.Kind) {
		return "", fmt.Errorf("bundle %s/%s v%d: content over the limit of %d bytes", b.Kind, b.Name, b.Version, c.limit(b.Kind))
	}
	if hex.EncodeToString(h.Sum(nil)) != b.SHA256 {
		return "", errContentMismatch(b)
	}
	c.hashed.record(p, b.SHA256, st, now)
	return p, nil
}

// read returns the verified cached bundle of a metadata file.
func (c bundleCache) read(p string, keyPEM []byte, cluster string) (*cachedBundle, error) {
	b, err := c.readMeta(p)
	if err != nil {
		return nil, err
	}
	if b.Content != nil {
		if err := verifyBundle(b, keyPEM, cluster); err != nil {
			return nil, err
		}
		return &cachedBundle{Bundle: *b}, nil
	}
	if err := verifyBundleMeta(b, keyPEM, cluster); err != nil {
		return nil, err
	}
	cp, err := c.verifyContentFile(b)
	if err != nil {
		return nil, err
	}
	return &cachedBundle{Bundle: *b, path: cp}, nil
}

// content returns a small bundle's content, verified again as it is read.
func (c bundleCache) content(b *cachedBundle) ([]byte, error) {
	if b.path == "" {
		return b.Content, nil
	}
	raw, err := readFileMax(b.path, maxAppliedBundleBytes)
	if err != nil {
		return nil, fmt.Errorf("bundle %s/%s v%d: %w", b.Kind, b.Name, b.Version, err)
	}
	sum := sha256.Sum256(raw)
	if hex.EncodeToString(sum[:]) != b.SHA256 {
		return nil, errContentMismatch(&b.Bundle)
	}
	return raw, nil
}

// bundleSource opens a listed bundle's content (b.Content is nil: the hub
// serves it apart).
type bundleSource func(ctx context.Context, b *fleetapi.Bundle, limit int64) (io.ReadCloser, error)

// receive verifies a listed bundle and caches it; it reports whether the
// cache changed. A bundle older than the verified cached one of the same
// kind, name and scope is refused (a replayed or rolled-back bundle never
// replaces a newer one), and so is other content under the same version;
// a bundle already cached is not fetched again. Content the list does not
// carry is read from open.
func (c bundleCache) receive(ctx context.Context, b *fleetapi.Bundle, keyPEM []byte, cluster string, open bundleSource) (bool, error) {
	inline := b.Content != nil || b.Size == 0
	if len(b.Content) > fleetapi.MaxInlineBundleBytes {
		// The hub sends larger contents apart; this list is not the hub's.
		return false, fmt.Errorf("refusing bundle %s/%s v%d: %d bytes of content inside the list, over the %d the hub sends there", b.Kind, b.Name, b.Version, len(b.Content), fleetapi.MaxInlineBundleBytes)
	}
	verify := verifyBundleMeta
	if inline {
		verify = verifyBundle
	}
	if err := verify(b, keyPEM, cluster); err != nil {
		return false, fmt.Errorf("refusing %w", err)
	}
	p := filepath.Join(c.dir, bundleFileName(b, ".json"))
	if old, err := c.read(p, keyPEM, cluster); err == nil {
		switch {
		case old.Version > b.Version:
			return false, fmt.Errorf("bundle %s/%s v%d: older than the cached v%d, refused (a replayed bundle, or a hub database restored from an older backup)", b.Kind, b.Name, b.Version, old.Version)
		case old.Version == b.Version && old.SHA256 != b.SHA256:
			return false, fmt.Errorf("bundle %s/%s v%d: other content than the cached bundle of the same version, refused", b.Kind, b.Name, b.Version)
		case old.Version == b.Version && old.path != "":
			return false, nil
		}
		// The same bundle cached by an older agent: cached again below,
		// content apart.
	}
	var src io.Reader
	if inline {
		src = bytes.NewReader(b.Content)
	} else {
		if open == nil {
			return false, fmt.Errorf("bundle %s/%s v%d: no content", b.Kind, b.Name, b.Version)
		}
		rc, err := open(ctx, b, c.limit(b.Kind))
		if err != nil {
			return false, fmt.Errorf("bundle %s/%s v%d: %w", b.Kind, b.Name, b.Version, err)
		}
		defer rc.Close()
		src = rc
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return false, err
	}
	n, err := c.putContent(b, src)
	if err != nil {
		return false, err
	}
	meta := *b
	meta.Content, meta.Size = nil, n
	raw, err := json.Marshal(&meta)
	if err != nil {
		return false, err
	}
	if err := writeFileAtomic(p, raw); err != nil {
		return false, err
	}
	c.removeUnused()
	return true, nil
}

// putContent streams src into the cache under b's SHA-256, refusing it
// unless it matches; it returns the content's size. A failed or
// interrupted copy leaves no file behind.
func (c bundleCache) putContent(b *fleetapi.Bundle, src io.Reader) (int64, error) {
	f, err := os.CreateTemp(c.dir, bundleTempPrefix+"*")
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	keep := false
	defer func() {
		if !keep {
			os.Remove(tmp)
		}
	}()
	limit := c.limit(b.Kind)
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(src, limit+1))
	if err == nil && n > limit {
		err = fmt.Errorf("content over the limit of %d bytes (--max-bundle-mib)", limit)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("bundle %s/%s v%d: %w", b.Kind, b.Name, b.Version, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != b.SHA256 {
		return 0, errContentMismatch(b)
	}
	if err := os.Rename(tmp, c.contentPath(b.SHA256)); err != nil {
		return 0, err
	}
	keep = true
	return n, nil
}

// removeUnused removes content files no metadata file names.
func (c bundleCache) removeUnused() {
	metas, _ := filepath.Glob(filepath.Join(c.dir, "*.json"))
	used := map[string]bool{}
	for _, m := range metas {
		if st, err := os.Stat(m); err != nil || st.Size() > maxBundleMetaBytes {
			continue // an older agent's file, content inline
		}
		if b, err := c.readMeta(m); err == nil {
			used[b.SHA256+bundleContentExt] = true
		}
	}
	files, _ := filepath.Glob(filepath.Join(c.dir, "*"+bundleContentExt))
	for _, f := range files {
		if !used[filepath.Base(f)] {
			os.Remove(f)
		}
	}
}

// removeDownloads removes the downloads a stopped agent left.
func (c bundleCache) removeDownloads() {
	files, _ := filepath.Glob(filepath.Join(c.dir, bundleTempPrefix+"*"))
	for _, f := range files {
		os.Remove(f)
	}
}

// load returns every cached bundle that still verifies, one per kind,
// name and scope (the newest, should older files linger), fleet-wide ones
// first so that a cluster's own bundles are applied after them.
func (c bundleCache) load(keyPEM []byte, cluster string) ([]cachedBundle, []error) {
	files, _ := filepath.Glob(filepath.Join(c.dir, "*.json"))
	type key struct{ kind, name, cluster string }
	newest := map[key]*cachedBundle{}
	var errs []error
	for _, f := range files {
		b, err := c.read(f, keyPEM, cluster)
		if err != nil {
			errs = append(errs, fmt.Errorf("cached bundle %s: %w", filepath.Base(f), err))
			continue
		}
		k := key{b.Kind, b.Name, b.Cluster}
		if old, ok := newest[k]; !ok || b.Version > old.Version {
			newest[k] = b
		}
	}
	out := make([]cachedBundle, 0, len(newest))
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
	a.bundleMu.Lock()
	defer a.bundleMu.Unlock()
	a.cache.removeDownloads()
	changed := false
	var errs []error
	for i := range bundles {
		c, err := a.cache.receive(ctx, &bundles[i], a.id.bundleKey, a.id.meta.ClusterID, a.openBundle)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		changed = changed || c
	}
	if changed {
		a.applyCachedBundles(ctx)
	}
	return errors.Join(errs...)
}

// openBundle fetches a bundle's content from the hub as a stream. It must
// keep coming (bundleStallTimeout) and end within bundleDownloadTimeout;
// a body announcing more than limit bytes is refused before reading it.
func (a *Agent) openBundle(ctx context.Context, b *fleetapi.Bundle, limit int64) (io.ReadCloser, error) {
	if a.hub == nil {
		return nil, errors.New("no hub")
	}
	ctx, cancel := context.WithTimeout(ctx, bundleDownloadTimeout)
	stall := time.AfterFunc(bundleStallTimeout, cancel)
	body, err := a.hub.get(ctx, fleetapi.PathBundleContent+"?"+fleetapi.BundleContentQuery(b).Encode(), limit)
	if err != nil {
		stall.Stop()
		cancel()
		return nil, err
	}
	return &progressReader{r: body, stall: stall, cancel: cancel}, nil
}

// progressReader postpones its stall timer with every read that returns
// data.
type progressReader struct {
	r      io.ReadCloser
	stall  *time.Timer
	cancel context.CancelFunc
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.stall.Reset(bundleStallTimeout)
	}
	return n, err
}

func (p *progressReader) Close() error {
	p.stall.Stop()
	p.cancel()
	return p.r.Close()
}

// get opens a raw GET response body; limit bounds its announced length.
// The hub client's overall timeout does not apply: the caller's context
// bounds the transfer.
func (c *hubClient) get(ctx context.Context, path string, limit int64) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Transport: c.http.Transport}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("hub %s: %w", strings.SplitN(path, "?", 2)[0], err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var e fleetapi.Error
		_ = json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&e)
		return nil, &HTTPError{Status: resp.StatusCode, Msg: e.Error}
	}
	if resp.ContentLength > limit {
		resp.Body.Close()
		return nil, fmt.Errorf("%d bytes, over the limit of %d (--max-bundle-mib)", resp.ContentLength, limit)
	}
	return resp.Body, nil
}
