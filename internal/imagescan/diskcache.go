package imagescan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
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
const AnalyzerVersion = "imagescan/4"

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
	files *lruDir
}

// NewDiskCache returns a cache in dir (created if missing) holding at most
// max bytes (DefaultDiskCacheBytes when max <= 0).
func NewDiskCache(dir string, max int64) (*DiskCache, error) {
	d, err := newLRUDir(dir, max, ".json")
	if err != nil {
		return nil, fmt.Errorf("inventory cache %s: %w", dir, err)
	}
	return &DiskCache{files: d}, nil
}

// Get returns the inventory cached under key.
func (c *DiskCache) Get(key string) (*Inventory, bool) {
	b, ok := c.files.read(key, maxEntryBytes)
	if !ok {
		return nil, false
	}
	var e diskEntry
	if err := json.Unmarshal(b, &e); err != nil || e.Analyzer != AnalyzerVersion || e.Key != key || e.Inventory == nil {
		return nil, false
	}
	sets := make([]map[string]struct{}, len(e.GoSymbolSets))
	for i, set := range e.GoSymbolSets { // shared, as the walk shares them
		sets[i] = make(map[string]struct{}, len(set))
		for _, s := range set {
			sets[i][s] = struct{}{}
		}
	}
	for i, set := range e.GoSymbols {
		if i < 0 || i >= len(e.Inventory.Packages) || set < 0 || set >= len(sets) {
			return nil, false
		}
		e.Inventory.Packages[i].GoSymbols = sets[set]
	}
	return e.Inventory, true
}

// diskEntry is the file format: the full key is kept so that a hash
// collision or a renamed file can never return another image's inventory.
type diskEntry struct {
	Analyzer  string     `json:"analyzer"`
	Key       string     `json:"key"`
	Inventory *Inventory `json:"inventory"`
	// GoSymbolSets are the Go binaries' function names, each binary's
	// once, and GoSymbols the set of each package by package index:
	// sbom.Package does not serialise them, and without them a warm scan
	// would call every Go finding's reachability unknown where the cold
	// scan decided it. Every module of a binary shares its binary's set;
	// written once per package, a binary of 300 modules and 60,000
	// functions made an entry of gigabytes (never kept: it is over
	// maxEntryBytes), built in 40 s and 5 GB on every scan.
	GoSymbolSets [][]string  `json:"goSymbolSets,omitempty"`
	GoSymbols    map[int]int `json:"goSymbols,omitempty"`
}

// Put stores inv under key and evicts the least recently used entries
// beyond the size bound. Failures to write are ignored: the cache is an
// optimisation and the scan's result does not depend on it.
func (c *DiskCache) Put(key string, inv *Inventory) {
	e := diskEntry{Analyzer: AnalyzerVersion, Key: key, Inventory: inv}
	seen := map[uintptr]int{} // a set's map, by identity → its index
	for i := range inv.Packages {
		syms := inv.Packages[i].GoSymbols
		if syms == nil {
			continue
		}
		id := reflect.ValueOf(syms).Pointer()
		set, ok := seen[id]
		if !ok {
			set = len(e.GoSymbolSets)
			seen[id] = set
			e.GoSymbolSets = append(e.GoSymbolSets, slices.Sorted(maps.Keys(syms)))
		}
		if e.GoSymbols == nil {
			e.GoSymbols = map[int]int{}
		}
		e.GoSymbols[i] = set
	}
	// Encoding stops at maxEntryBytes: an entry too large to keep is
	// never built whole.
	buf := &cappedBuffer{max: maxEntryBytes}
	if err := json.NewEncoder(buf).Encode(e); err != nil {
		return
	}
	c.files.write(key, buf.Bytes())
}

// cappedBuffer is a bytes.Buffer that refuses to grow past max.
type cappedBuffer struct {
	bytes.Buffer
	max int
}

var errEntryTooLarge = errors.New("cache entry over its bound")

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, errEntryTooLarge
	}
	return b.Buffer.Write(p)
}

// Size is the bytes of entries in the cache directory.
func (c *DiskCache) Size() int64 { return c.files.size() }

// lruDir is a directory of files named by the hash of their key and
// AnalyzerVersion, bounded in bytes, least recently used first (a read
// refreshes a file's modification time). Files are 0600 in a 0700
// directory; writes are atomic (a temporary file renamed into place).
type lruDir struct {
	dir string
	max int64
	ext string
	mu  sync.Mutex // serialises eviction within the process
}

func newLRUDir(dir string, max int64, ext string) (*lruDir, error) {
	if max <= 0 {
		max = DefaultDiskCacheBytes
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &lruDir{dir: dir, max: max, ext: ext}, nil
}

func (d *lruDir) path(key string) string {
	sum := sha256.Sum256([]byte(AnalyzerVersion + "\x00" + key))
	return filepath.Join(d.dir, hex.EncodeToString(sum[:])+d.ext)
}

// read returns the file of key, if it is a regular file of at most limit
// bytes, and marks it used.
func (d *lruDir) read(key string, limit int64) ([]byte, bool) {
	p := d.path(key)
	f, err := os.Open(p)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() > limit {
		return nil, false
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, false
	}
	now := time.Now()
	_ = os.Chtimes(p, now, now) // recency for LRU; a failure only ages the entry
	return b, true
}

// write stores b as the file of key and evicts beyond the bound; failures
// are ignored.
func (d *lruDir) write(key string, b []byte) {
	if int64(len(b)) > d.max {
		return
	}
	tmp, err := os.CreateTemp(d.dir, ".tmp-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Chmod(tmp.Name(), 0o600) != nil || os.Rename(tmp.Name(), d.path(key)) != nil {
		os.Remove(tmp.Name())
		return
	}
	d.evict()
}

// evict removes the oldest files until the directory holds at most d.max
// bytes of them.
func (d *lruDir) evict() {
	d.mu.Lock()
	defer d.mu.Unlock()
	ents, err := os.ReadDir(d.dir)
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
		if !de.Type().IsRegular() || !strings.HasSuffix(de.Name(), d.ext) {
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
		if total <= d.max {
			break
		}
		if err := os.Remove(filepath.Join(d.dir, f.name)); err == nil || errors.Is(err, fs.ErrNotExist) {
			total -= f.size
		}
	}
}

// size is the bytes of files in the directory.
func (d *lruDir) size() int64 {
	ents, _ := os.ReadDir(d.dir)
	var n int64
	for _, de := range ents {
		if fi, err := de.Info(); err == nil && de.Type().IsRegular() && strings.HasSuffix(de.Name(), d.ext) {
			n += fi.Size()
		}
	}
	return n
}
