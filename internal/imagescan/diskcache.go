package imagescan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// AnalyzerVersion is part of every on-disk cache key. Bump it whenever a
// cataloger, the secret rules or the Inventory encoding changes what a walk
// of the same image yields, so entries written by an older Palisade are
// never read as current.
const AnalyzerVersion = "imagescan/2"

// DefaultDiskCacheBytes bounds a DiskCache made with max <= 0.
const DefaultDiskCacheBytes = 256 << 20

// maxEntryBytes caps one cached inventory: a file larger than this in the
// cache directory was not written by Palisade and is not decoded.
const maxEntryBytes = 64 << 20

// DiskCache is an InventoryCache in a directory, content-addressed by
// image digest, scan options and AnalyzerVersion: an image's content never
// changes for its digest, so an entry stays valid until evicted. The
// directory is bounded in bytes, least recently used first (Get refreshes
// an entry's modification time). Entries are files of mode 0600 in a
// directory of mode 0700, because secret findings are cached with them. A
// corrupt or unreadable entry is a miss, never an error: the image is
// walked again and the entry rewritten.
type DiskCache struct {
	dir string
	max int64
	mu  sync.Mutex // serialises eviction within the process
}

// NewDiskCache returns a cache in dir (created if missing) holding at most
// max bytes (DefaultDiskCacheBytes when max <= 0).
func NewDiskCache(dir string, max int64) (*DiskCache, error) {
	if max <= 0 {
		max = DefaultDiskCacheBytes
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("inventory cache %s: %w", dir, err)
	}
	return &DiskCache{dir: dir, max: max}, nil
}

func (c *DiskCache) path(key string) string {
	sum := sha256.Sum256([]byte(AnalyzerVersion + "\x00" + key))
	return filepath.Join(c.dir, hex.EncodeToString(sum[:])+".json")
}

// Get returns the inventory cached under key.
func (c *DiskCache) Get(key string) (*Inventory, bool) {
	p := c.path(key)
	f, err := os.Open(p)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() > maxEntryBytes {
		return nil, false
	}
	var e diskEntry
	if err := json.NewDecoder(f).Decode(&e); err != nil || e.Analyzer != AnalyzerVersion || e.Key != key || e.Inventory == nil {
		return nil, false
	}
	for i, syms := range e.GoSymbols {
		if i < 0 || i >= len(e.Inventory.Packages) {
			return nil, false
		}
		set := make(map[string]struct{}, len(syms))
		for _, s := range syms {
			set[s] = struct{}{}
		}
		e.Inventory.Packages[i].GoSymbols = set
	}
	now := time.Now()
	_ = os.Chtimes(p, now, now) // recency for LRU; a failure only ages the entry
	return e.Inventory, true
}

// diskEntry is the file format: the full key is kept so that a hash
// collision or a renamed file can never return another image's inventory.
type diskEntry struct {
	Analyzer  string     `json:"analyzer"`
	Key       string     `json:"key"`
	Inventory *Inventory `json:"inventory"`
	// GoSymbols are the Go binaries' function names by package index:
	// sbom.Package does not serialise them, and without them a warm scan
	// would call every Go finding's reachability unknown where the cold
	// scan decided it.
	GoSymbols map[int][]string `json:"goSymbols,omitempty"`
}

// Put stores inv under key and evicts the least recently used entries
// beyond the size bound. Failures to write are ignored: the cache is an
// optimisation and the scan's result does not depend on it.
func (c *DiskCache) Put(key string, inv *Inventory) {
	var buf bytes.Buffer
	e := diskEntry{Analyzer: AnalyzerVersion, Key: key, Inventory: inv}
	for i := range inv.Packages {
		if syms := inv.Packages[i].GoSymbols; syms != nil {
			if e.GoSymbols == nil {
				e.GoSymbols = map[int][]string{}
			}
			e.GoSymbols[i] = slices.Sorted(maps.Keys(syms))
		}
	}
	if err := json.NewEncoder(&buf).Encode(e); err != nil {
		return
	}
	if int64(buf.Len()) > c.max || buf.Len() > maxEntryBytes {
		return
	}
	tmp, err := os.CreateTemp(c.dir, ".tmp-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(buf.Bytes())
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Chmod(tmp.Name(), 0o600) != nil || os.Rename(tmp.Name(), c.path(key)) != nil {
		os.Remove(tmp.Name())
		return
	}
	c.evict()
}

// evict removes the oldest entries until the directory holds at most
// c.max bytes of entries.
func (c *DiskCache) evict() {
	c.mu.Lock()
	defer c.mu.Unlock()
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	type file struct {
		name string
		size int64
		mod  time.Time
	}
	var files []file
	var total int64
	for _, de := range ents {
		if !de.Type().IsRegular() || !strings.HasSuffix(de.Name(), ".json") {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue
		}
		files = append(files, file{de.Name(), fi.Size(), fi.ModTime()})
		total += fi.Size()
	}
	sort.Slice(files, func(i, j int) bool { return files[i].mod.Before(files[j].mod) })
	for _, f := range files {
		if total <= c.max {
			break
		}
		if err := os.Remove(filepath.Join(c.dir, f.name)); err == nil || errors.Is(err, fs.ErrNotExist) {
			total -= f.size
		}
	}
}

// Size is the bytes of entries in the cache directory.
func (c *DiskCache) Size() int64 {
	ents, _ := os.ReadDir(c.dir)
	var n int64
	for _, de := range ents {
		if fi, err := de.Info(); err == nil && de.Type().IsRegular() && strings.HasSuffix(de.Name(), ".json") {
			n += fi.Size()
		}
	}
	return n
}
