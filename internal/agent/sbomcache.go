package agent

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/palisade-sec/palisade/internal/imagescan"
)

// sbomCache keeps the package list (imagescan.Inventory) of each scanned
// image on disk, gzip-compressed JSON, one file per digest
// ("sha256-<hex>.json.gz"; digests are checked against digestPattern, so
// names are safe). Files are written atomically; beyond maxBytes the least
// recently used are removed. An unreadable or foreign file is a miss.
type sbomCache struct {
	dir      string
	maxBytes int64

	mu    sync.Mutex
	files map[string]*sbomFile // by file name
	total int64
	// unfinished are the digests whose walk was in progress when the
	// agent last stopped (their marker file was left behind), with when
	// the cache was opened: they are not walked for unfinishedBlock.
	unfinished map[string]time.Time
	now        func() time.Time
}

// unfinishedBlock is how long after a restart an image whose walk did not
// finish is left alone: if walking it is what kills the agent, it does so
// at most once in that time, not at every restart.
const unfinishedBlock = 24 * time.Hour

// scanningSuffix names the marker file kept while an image is walked.
const scanningSuffix = ".scanning"

// startWalk leaves a marker for digest until done is called. It reports
// false, and leaves none, if a walk of this digest was in progress when
// the agent last stopped, less than unfinishedBlock ago: a walk that may
// have cost the agent its memory is not started again by every restart.
func (c *sbomCache) startWalk(digest string) (done func(), ok bool) {
	c.mu.Lock()
	since, stuck := c.unfinished[digest]
	if stuck && c.now().Sub(since) >= unfinishedBlock {
		delete(c.unfinished, digest)
		stuck = false
	}
	c.mu.Unlock()
	if stuck {
		return nil, false
	}
	p := filepath.Join(c.dir, strings.Replace(digest, ":", "-", 1)+scanningSuffix)
	if f, err := os.Create(p); err == nil {
		_ = f.Sync()
		f.Close()
	}
	return func() { _ = os.Remove(p) }, true
}

type sbomFile struct {
	size int64
	used time.Time
}

// sbomFormat is the version of the cached file; another version is a miss.
const sbomFormat = 1

// maxSBOMFileBytes bounds what a cached file may inflate to.
const maxSBOMFileBytes = 64 << 20

type cachedSBOM struct {
	Format    int                  `json:"format"`
	Digest    string               `json:"digest"`
	Inventory *imagescan.Inventory `json:"inventory"`
}

func openSBOMCache(dir string, maxBytes int64) (*sbomCache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("package list cache: %w", err)
	}
	c := &sbomCache{dir: dir, maxBytes: maxBytes, files: map[string]*sbomFile{}, unfinished: map[string]time.Time{}, now: time.Now}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("package list cache: %w", err)
	}
	for _, e := range entries {
		n := e.Name()
		if strings.HasSuffix(n, ".tmp") { // an interrupted write
			_ = os.Remove(filepath.Join(dir, n))
			continue
		}
		if d, ok := strings.CutSuffix(n, scanningSuffix); ok {
			// A walk of this image was in progress when the agent
			// stopped: it may be what stopped it (out of memory).
			if digest := strings.Replace(d, "-", ":", 1); digestPattern.MatchString(digest) {
				c.unfinished[digest] = c.now()
			}
			_ = os.Remove(filepath.Join(dir, n))
			continue
		}
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || !strings.HasSuffix(n, ".json.gz") {
			continue
		}
		c.files[n] = &sbomFile{size: info.Size(), used: info.ModTime()}
		c.total += info.Size()
	}
	c.mu.Lock()
	c.evict()
	c.mu.Unlock()
	return c, nil
}

func sbomFileName(digest string) string {
	return strings.Replace(digest, ":", "-", 1) + ".json.gz"
}

// get returns the inventory kept for digest.
func (c *sbomCache) get(digest string) (*imagescan.Inventory, bool) {
	if !digestPattern.MatchString(digest) {
		return nil, false
	}
	n := sbomFileName(digest)
	p := filepath.Join(c.dir, n)
	inv, err := readSBOM(p, digest)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if f, ok := c.files[n]; ok {
			_ = os.Remove(p)
			c.total -= f.size
			delete(c.files, n)
		}
		return nil, false
	}
	now := time.Now()
	if f, ok := c.files[n]; ok {
		f.used = now
	}
	_ = os.Chtimes(p, now, now) // recency survives a restart
	return inv, true
}

func readSBOM(path, digest string) (*imagescan.Inventory, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	var e cachedSBOM
	if err := json.NewDecoder(io.LimitReader(zr, maxSBOMFileBytes)).Decode(&e); err != nil {
		return nil, err
	}
	if e.Format != sbomFormat || e.Digest != digest || e.Inventory == nil {
		return nil, fmt.Errorf("%s: not the package list of %s", path, digest)
	}
	return e.Inventory, nil
}

// put keeps inv for digest, then removes the least recently used files
// beyond the size bound.
func (c *sbomCache) put(digest string, inv *imagescan.Inventory) error {
	if !digestPattern.MatchString(digest) {
		return fmt.Errorf("digest %q is not a sha256 digest", digest)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(cachedSBOM{Format: sbomFormat, Digest: digest, Inventory: inv}); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	size := int64(buf.Len())
	if size > c.maxBytes {
		return fmt.Errorf("package list of %s is %d bytes, over the cache's %d", digest, size, c.maxBytes)
	}
	n := sbomFileName(digest)
	if err := writeFileAtomic(filepath.Join(c.dir, n), buf.Bytes()); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.files[n]; ok {
		c.total -= old.size
	}
	c.files[n] = &sbomFile{size: size, used: time.Now()}
	c.total += size
	c.evict()
	return nil
}

// evict removes the least recently used files until the total fits; c.mu
// is held.
func (c *sbomCache) evict() {
	if c.total <= c.maxBytes {
		return
	}
	names := make([]string, 0, len(c.files))
	for n := range c.files {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return c.files[names[i]].used.Before(c.files[names[j]].used) })
	for _, n := range names {
		if c.total <= c.maxBytes {
			return
		}
		_ = os.Remove(filepath.Join(c.dir, n))
		c.total -= c.files[n].size
		delete(c.files, n)
	}
}

// count is the number of kept package lists.
func (c *sbomCache) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.files)
}
