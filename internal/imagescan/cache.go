package imagescan

import (
	"container/list"
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/sbom/catalog"
)

// InventoryCache keeps image inventories by manifest digest, for callers
// that scan the same images again and again (the admission webhook, node
// agents). An image's content never changes for a digest, so an entry is
// valid for as long as it is kept; vulnerabilities are always matched
// against the current database, so a database update takes effect on the
// next scan without invalidating the cache. Implementations must be safe
// for concurrent use and must not modify the inventories they hold.
type InventoryCache interface {
	Get(key string) (*Inventory, bool)
	Put(key string, inv *Inventory)
}

// cacheKey identifies an inventory: the digest and what was collected
// (secret findings depend on the secret options' caps too; the catalogers
// by name, so a Palisade with a new cataloger never reuses an inventory
// collected without it). inventoryVersion changes when the inventory
// collects something new beside the catalogers' packages.
func cacheKey(digest string, sc Scanners, opts Options, set *catalog.Set) string {
	var names []string
	for _, c := range set.Catalogers {
		names = append(names, c.Name())
	}
	for _, c := range set.Streams {
		names = append(names, c.Name())
	}
	return fmt.Sprintf("%s|secret=%t|%d|%d|catalogers=%s|inventory=%d|executables=%d", digest, sc.Secret, opts.Secrets.MaxFileSize, len(opts.Secrets.SkipDirs), strings.Join(names, ","), inventoryVersion, opts.Executables)
}

// inventoryVersion: 2 added Red Hat content sets (Inventory.ContentSets);
// 3 made files and entries the catalogers could not read errors of
// Inventory.Problems (and reported skipped dpkg and apk entries).
const inventoryVersion = 3

// MemoryCache is an InventoryCache in memory that keeps the most recently
// used entries. An inventory is a few hundred bytes per package.
type MemoryCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front = most recent; values are *cacheEntry
	items map[string]*list.Element
}

type cacheEntry struct {
	key string
	inv *Inventory
}

// NewMemoryCache keeps up to max inventories (at least 1).
func NewMemoryCache(max int) *MemoryCache {
	if max < 1 {
		max = 1
	}
	return &MemoryCache{max: max, order: list.New(), items: map[string]*list.Element{}}
}

// Get returns the inventory cached under key.
func (c *MemoryCache) Get(key string) (*Inventory, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*cacheEntry).inv, true
}

// Put stores inv under key, evicting the least recently used entry when full.
func (c *MemoryCache) Put(key string, inv *Inventory) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		e.Value.(*cacheEntry).inv = inv
		c.order.MoveToFront(e)
		return
	}
	c.items[key] = c.order.PushFront(&cacheEntry{key: key, inv: inv})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*cacheEntry).key)
	}
}

// Len is the number of cached inventories.
func (c *MemoryCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// Scanner scans images by reference with fixed options and a shared
// inventory cache. It implements the admission webhook's vulnerability
// gate (internal/admission.ImageScanner).
type Scanner struct {
	opts Options
}

// NewScanner returns a Scanner. Without opts.Cache, inventories are kept
// in a MemoryCache of 512 entries; without opts.DB, the database of
// opts.CacheDir is opened for each scan, so `palisade db update` takes
// effect at once.
func NewScanner(opts Options) *Scanner {
	if opts.Cache == nil {
		opts.Cache = NewMemoryCache(512)
	}
	return &Scanner{opts: opts}
}

// Scan scans the image and returns its report.
func (s *Scanner) Scan(ctx context.Context, ref string) (*finding.Report, error) {
	res, err := Scan(ctx, ref, s.opts)
	if err != nil {
		return nil, err
	}
	return res.Report, nil
}

// Fixable reports whether a vulnerability finding has a fixed version (the
// admission gate's fixableOnly).
func Fixable(f finding.Finding) bool {
	return f.Vulnerability != nil && f.Vulnerability.Fixed != ""
}
