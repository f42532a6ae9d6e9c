// Package authlimit slows down online guessing of passwords and tokens.
//
// A Limiter counts failed attempts per key (an account name, a client
// address) and, once a key has had Policy.Free failures, refuses it for a
// lockout window that doubles with every further failure, up to
// Policy.MaxLock. A key that has not failed for Policy.Forget is forgotten.
// Refused attempts are not counted: a locked key cannot be locked for
// longer by hammering it, and the owner gets in once the window passes.
//
// Memory is bounded: at most capacity keys are tracked. When full, the
// least recently failed key still below the threshold is evicted first, so
// a flood of distinct one-off keys (random user names, many addresses)
// pushes out other one-off keys before it can free a locked one. Only
// when every tracked key has reached the threshold does the oldest go.
//
// The state is in memory, per process: replicas of a service each keep
// their own, so N replicas behind a load balancer allow up to N times the
// attempts. Time comes from an injected clock, so tests never sleep.
package authlimit

import (
	"container/list"
	"sync"
	"time"
)

// Policy says how many failures are free and how long keys lock after.
type Policy struct {
	// Free is how many failures a key may have before it locks; the
	// Free-th failure starts the first lockout. Zero or less disables
	// the limit (Allow always answers yes, Fail records nothing).
	Free int
	// BaseLock is the first lockout; each further failure doubles it.
	BaseLock time.Duration
	// MaxLock caps the lockout.
	MaxLock time.Duration
	// Forget drops a key this long after its last failure once it is no
	// longer locked, resetting its count.
	Forget time.Duration
}

// lockFor is the lockout after the n-th failure (0 while n < Free).
func (p Policy) lockFor(n int) time.Duration {
	if p.Free <= 0 || n < p.Free {
		return 0
	}
	d := p.BaseLock
	for i := p.Free; i < n && d < p.MaxLock; i++ {
		d *= 2
	}
	return min(d, p.MaxLock)
}

// Limiter tracks failures per key. It is safe for concurrent use.
type Limiter struct {
	policy   Policy
	capacity int
	now      func() time.Time

	mu sync.Mutex
	// Keys live in exactly one of two lists, most recent failure at the
	// front: below (fewer than Free failures) and over (at least Free:
	// locked now or before, and doubling). Eviction takes the back of
	// below first.
	keys  map[string]*list.Element
	below list.List
	over  list.List
}

type entry struct {
	key      string
	failures int
	last     time.Time // last counted failure
	until    time.Time // locked until (zero: not locked)
}

// New returns a limiter tracking at most capacity keys (at least 1) with
// clock now (nil: time.Now).
func New(p Policy, capacity int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	l := &Limiter{policy: p, capacity: max(1, capacity), now: now, keys: map[string]*list.Element{}}
	l.below.Init()
	l.over.Init()
	return l
}

// Allow reports whether key may attempt now, and if not, how long until
// it may.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	if l.policy.Free <= 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.keys[key]
	if !ok {
		return true, 0
	}
	e := el.Value.(*entry)
	if l.expired(e, now) {
		l.remove(el)
		return true, 0
	}
	if now.Before(e.until) {
		return false, e.until.Sub(now)
	}
	return true, 0
}

// Fail records a failed attempt by key and returns the lockout it
// started (0 if the key may still try).
func (l *Limiter) Fail(key string) time.Duration {
	if l.policy.Free <= 0 {
		return 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.keys[key]
	var e *entry
	if ok {
		e = el.Value.(*entry)
		if l.expired(e, now) {
			e.failures = 0
		}
		l.unlink(el)
	} else {
		if len(l.keys) >= l.capacity {
			l.evict()
		}
		e = &entry{key: key}
	}
	e.failures++
	e.last = now
	lock := l.policy.lockFor(e.failures)
	e.until = time.Time{}
	if lock > 0 {
		e.until = now.Add(lock)
		l.keys[key] = l.over.PushFront(e)
	} else {
		l.keys[key] = l.below.PushFront(e)
	}
	return lock
}

// Succeed forgets key: a correct password ends its count.
func (l *Limiter) Succeed(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.keys[key]; ok {
		l.remove(el)
	}
}

// Len is the number of keys tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

// expired: not locked and no failure for Forget.
func (l *Limiter) expired(e *entry, now time.Time) bool {
	return !now.Before(e.until) && now.Sub(e.last) >= l.policy.Forget
}

// evict drops an expired key if the oldest over the threshold is one,
// else the least recently failed key below the threshold, else the
// oldest key over it.
func (l *Limiter) evict() {
	if back := l.over.Back(); back != nil && l.expired(back.Value.(*entry), l.now()) {
		l.remove(back)
		return
	}
	if back := l.below.Back(); back != nil {
		l.remove(back)
		return
	}
	if back := l.over.Back(); back != nil {
		l.remove(back)
	}
}

func (l *Limiter) unlink(el *list.Element) {
	if el.Value.(*entry).until.IsZero() {
		l.below.Remove(el)
	} else {
		l.over.Remove(el)
	}
}

func (l *Limiter) remove(el *list.Element) {
	l.unlink(el)
	delete(l.keys, el.Value.(*entry).key)
}
