package admission

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// ttlCache remembers results per key for a time, loads each missing key
// once however many requests ask for it at the same moment, and holds at
// most max entries. Errors are not cached: the next request retries.
type ttlCache[V any] struct {
	mu       sync.Mutex
	entries  map[string]cacheEntry[V]
	inflight map[string]*call[V]
	max      int
	hits     atomic.Uint64
	misses   atomic.Uint64
	now      func() time.Time
	// ttlOf, when set, shortens the time a value is kept (negative
	// results are trusted less than positive ones).
	ttlOf func(v V, ttl time.Duration) time.Duration
}

type cacheEntry[V any] struct {
	value   V
	expires time.Time
}

type call[V any] struct {
	done  chan struct{}
	value V
	err   error
}

func newTTLCache[V any](max int) *ttlCache[V] {
	return &ttlCache[V]{entries: map[string]cacheEntry[V]{}, inflight: map[string]*call[V]{}, max: max, now: time.Now}
}

// get returns the cached value or loads it. hit reports a cache hit. A
// waiter whose context ends stops waiting; the load goes on for others.
func (c *ttlCache[V]) get(ctx context.Context, key string, ttl time.Duration, load func(context.Context) (V, error)) (v V, hit bool, err error) {
	c.mu.Lock()
	if e, ok := c.entries[key]; ok && c.now().Before(e.expires) {
		c.mu.Unlock()
		c.hits.Add(1)
		return e.value, true, nil
	}
	c.misses.Add(1)
	cl, running := c.inflight[key]
	if !running {
		cl = &call[V]{done: make(chan struct{})}
		c.inflight[key] = cl
		// The load is bounded by the first caller's deadline, not by
		// the context's cancellation alone, so a request that gives up
		// does not fail the others.
		lctx, cancel := context.WithoutCancel(ctx), func() {}
		if dl, ok := ctx.Deadline(); ok {
			lctx, cancel = context.WithDeadline(lctx, dl)
		}
		go func() {
			defer cancel()
			cl.value, cl.err = load(lctx)
			c.mu.Lock()
			delete(c.inflight, key)
			if cl.err == nil {
				if len(c.entries) >= c.max {
					c.evictLocked()
				}
				keep := ttl
				if c.ttlOf != nil {
					keep = c.ttlOf(cl.value, ttl)
				}
				c.entries[key] = cacheEntry[V]{value: cl.value, expires: c.now().Add(keep)}
			}
			c.mu.Unlock()
			close(cl.done)
		}()
	}
	c.mu.Unlock()
	select {
	case <-cl.done:
		return cl.value, false, cl.err
	case <-ctx.Done():
		return v, false, ctx.Err()
	}
}

// evictLocked drops expired entries, or a tenth of all when none expired.
func (c *ttlCache[V]) evictLocked() {
	now := c.now()
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	n := c.max / 10
	for k := range c.entries {
		if len(c.entries) < c.max || n <= 0 {
			break
		}
		delete(c.entries, k)
		n--
	}
}

func (c *ttlCache[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
