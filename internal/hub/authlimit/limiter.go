// Package authlimit slows down online guessing of passwords and tokens.
//
// A Limiter counts failed attempts per key (an account name, a client
// address) and, once a key has had Policy.Free failures, refuses it for a
// lockout window that doubles with every further failure, up to
// Policy.MaxLock. A key that has not failed for Policy.Forget is forgotten.
// Refused attempts are not counted: a locked key cannot be locked for
// longer by hammering it, and the owner gets in once the window passes.
//
// Allow reserves: an admitted attempt counts as pending until the caller
// ends it with exactly one of Fail, Succeed or Cancel, and pending
// attempts count against Policy.Free. So a key with f failures admits at
// most Free-f attempts at once (one at a time once it has had Free), and
// parallel requests cannot all pass Allow before the first slow check
// records its failure.
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
	// Keys live in exactly one of two lists, most recent failure or
	// reservation at the front: below (fewer than Free failures and
	// pending attempts) and over (at least Free: locked now or before,
	// and doubling, or about to be if the pending attempts fail).
	// Eviction takes the back of below first.
	keys  map[string]*list.Element
	below list.List
	over  list.List
}

type entry struct {
	key      string
	failures int
	pending  int        // attempts admitted by Allow and not yet ended
	last     time.Time  // last counted failure (first reservation of a key without failures)
	until    time.Time  // locked until (zero: not locked)
	in       *list.List // below or over
}

// PendingRetry is the wait Allow reports when a key is refused only
// because attempts in flight could reach Policy.Free: they are decided
// within a password check.
const PendingRetry = time.Second

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
// it may. An admitted attempt is reserved: it counts as a failure in
// waiting, and the caller must end it with exactly one of Fail, Succeed
// or Cancel. A key is refused while locked, and while its failures plus
// the attempts in flight have reached Policy.Free (then with
// PendingRetry), so at most Free attempts are ever decided before the
// lock, however many arrive at once.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	if l.policy.Free <= 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	el, e := l.find(key, now)
	if e != nil {
		if now.Before(e.until) {
			return false, e.until.Sub(now)
		}
		if e.pending > 0 && e.failures+e.pending >= l.policy.Free {
			return false, PendingRetry
		}
	}
	e = l.take(el, key)
	e.pending++
	if e.failures == 0 {
		// A new key's time; once it has failures, last stays the last
		// failure's, so good traffic does not keep old failures alive.
		e.last = now
	}
	l.push(e)
	return true, 0
}

// Fail records a failed attempt by key, ending its reservation, and
// returns the lockout it started (0 if the key may still try). A Fail
// without a reservation (or after the key was evicted) counts too.
func (l *Limiter) Fail(key string) time.Duration {
	if l.policy.Free <= 0 {
		return 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	el, e := l.find(key, now)
	if e != nil {
		e.pending = max(0, e.pending-1)
	}
	e = l.take(el, key)
	e.failures++
	e.last = now
	lock := l.policy.lockFor(e.failures)
	e.until = time.Time{}
	if lock > 0 {
		e.until = now.Add(lock)
	}
	l.push(e)
	return lock
}

// Succeed ends a reservation with a correct password, which ends key's
// count; attempts still in flight keep their reservations.
func (l *Limiter) Succeed(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.keys[key]; ok {
		e := el.Value.(*entry)
		e.failures, e.until = 0, time.Time{}
		l.release(el)
	}
}

// Cancel ends a reservation without a verdict (the check did not run, or
// passed for a limit that success does not reset): the attempt is
// refunded and the count stays.
func (l *Limiter) Cancel(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.keys[key]; ok {
		l.release(el)
	}
}

// Locked returns until when key is locked and since when (its last
// failure); zero times when it is not locked now.
func (l *Limiter) Locked(key string) (until, since time.Time) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.keys[key]
	if !ok {
		return time.Time{}, time.Time{}
	}
	e := el.Value.(*entry)
	if !now.Before(e.until) {
		return time.Time{}, time.Time{}
	}
	return e.until, e.last
}

// Reset forgets key's failures and lockout (an admin's unlock); attempts
// in flight keep their reservations. It reports whether key was tracked.
func (l *Limiter) Reset(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.keys[key]
	if !ok {
		return false
	}
	e := el.Value.(*entry)
	l.unlink(el)
	e.failures, e.until = 0, time.Time{}
	if e.pending == 0 {
		delete(l.keys, e.key)
		return true
	}
	l.push(e)
	return true
}

// release drops one reservation of el's key, forgetting the key when
// nothing is left to remember.
func (l *Limiter) release(el *list.Element) {
	e := el.Value.(*entry)
	l.unlink(el)
	e.pending = max(0, e.pending-1)
	if e.pending == 0 && e.failures == 0 {
		delete(l.keys, e.key)
		return
	}
	l.push(e)
}

// find returns key's element and entry, the count reset if it has
// expired, or nils.
func (l *Limiter) find(key string, now time.Time) (*list.Element, *entry) {
	el, ok := l.keys[key]
	if !ok {
		return nil, nil
	}
	e := el.Value.(*entry)
	if l.expired(e, now) {
		e.failures, e.until = 0, time.Time{}
	}
	return el, e
}

// take unlinks el's entry for an update and a push, or, with no el,
// makes a new entry for key, evicting one when full.
func (l *Limiter) take(el *list.Element, key string) *entry {
	if el != nil {
		l.unlink(el)
		return el.Value.(*entry)
	}
	if len(l.keys) >= l.capacity {
		l.evict()
	}
	return &entry{key: key}
}

// push files e at the front of the list its counts belong in.
func (l *Limiter) push(e *entry) {
	e.in = &l.below
	if !e.until.IsZero() || e.failures+e.pending >= l.policy.Free {
		e.in = &l.over
	}
	l.keys[e.key] = e.in.PushFront(e)
}

// Len is the number of keys tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

// expired: not locked, no attempt in flight and no failure for Forget.
func (l *Limiter) expired(e *entry, now time.Time) bool {
	return e.pending == 0 && !now.Before(e.until) && now.Sub(e.last) >= l.policy.Forget
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
	el.Value.(*entry).in.Remove(el)
}

func (l *Limiter) remove(el *list.Element) {
	l.unlink(el)
	delete(l.keys, el.Value.(*entry).key)
}
