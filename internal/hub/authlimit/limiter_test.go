package authlimit

import (
	"fmt"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

var policy = Policy{Free: 3, BaseLock: time.Minute, MaxLock: 8 * time.Minute, Forget: time.Hour}

func TestLockFor(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want time.Duration
	}{{0, 0}, {1, 0}, {2, 0}, {3, time.Minute}, {4, 2 * time.Minute}, {5, 4 * time.Minute}, {6, 8 * time.Minute}, {7, 8 * time.Minute}, {1000, 8 * time.Minute}} {
		if got := policy.lockFor(tt.n); got != tt.want {
			t.Errorf("lockFor(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
	if got := (Policy{}).lockFor(50); got != 0 {
		t.Errorf("disabled policy locks for %v", got)
	}
}

// step is one action at a time offset from the start; want* are checked
// after it.
type step struct {
	at        time.Duration
	op        string // "fail", "ok", "allow"
	key       string
	wantLock  time.Duration // for fail: lockout started
	wantAllow bool          // for allow
	wantWait  time.Duration // for allow
}

func TestLimiter(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"free failures then locked, even for the right password", []step{
			{0, "fail", "a", 0, false, 0},
			{0, "fail", "a", 0, false, 0},
			{0, "allow", "a", 0, true, 0},
			{0, "fail", "a", time.Minute, false, 0},
			{0, "allow", "a", 0, false, time.Minute},
			{59 * time.Second, "allow", "a", 0, false, time.Second},
			{time.Minute, "allow", "a", 0, true, 0},
		}},
		{"each failure after the lock doubles it, up to the cap", []step{
			{0, "fail", "a", 0, false, 0},
			{0, "fail", "a", 0, false, 0},
			{0, "fail", "a", time.Minute, false, 0},
			{time.Minute, "fail", "a", 2 * time.Minute, false, 0},
			{3 * time.Minute, "fail", "a", 4 * time.Minute, false, 0},
			{7 * time.Minute, "fail", "a", 8 * time.Minute, false, 0},
			{15 * time.Minute, "fail", "a", 8 * time.Minute, false, 0},
			{16 * time.Minute, "allow", "a", 0, false, 7 * time.Minute},
		}},
		{"success resets the count", []step{
			{0, "fail", "a", 0, false, 0},
			{0, "fail", "a", 0, false, 0},
			{0, "ok", "a", 0, false, 0},
			{0, "fail", "a", 0, false, 0},
			{0, "fail", "a", 0, false, 0},
			{0, "allow", "a", 0, true, 0},
		}},
		{"keys are independent", []step{
			{0, "fail", "a", 0, false, 0},
			{0, "fail", "a", 0, false, 0},
			{0, "fail", "a", time.Minute, false, 0},
			{0, "allow", "b", 0, true, 0},
			{0, "fail", "b", 0, false, 0},
		}},
		{"forgotten after a quiet hour", []step{
			{0, "fail", "a", 0, false, 0},
			{0, "fail", "a", 0, false, 0},
			{time.Hour, "fail", "a", 0, false, 0},
			{time.Hour, "fail", "a", 0, false, 0},
			{time.Hour, "fail", "a", time.Minute, false, 0},
		}},
		{"the doubling survives the end of a lock within the forget window", []step{
			{0, "fail", "a", 0, false, 0},
			{0, "fail", "a", 0, false, 0},
			{0, "fail", "a", time.Minute, false, 0},
			{30 * time.Minute, "fail", "a", 2 * time.Minute, false, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			start := c.t
			l := New(policy, 100, c.now)
			for i, s := range tt.steps {
				c.t = start.Add(s.at)
				switch s.op {
				case "fail":
					if got := l.Fail(s.key); got != s.wantLock {
						t.Fatalf("step %d: Fail(%s) locked for %v, want %v", i, s.key, got, s.wantLock)
					}
				case "ok":
					l.Succeed(s.key)
				case "allow":
					ok, wait := l.Allow(s.key)
					if ok != s.wantAllow || wait != s.wantWait {
						t.Fatalf("step %d: Allow(%s) = %v, %v, want %v, %v", i, s.key, ok, wait, s.wantAllow, s.wantWait)
					}
				}
			}
		})
	}
}

func TestDisabledPolicyTracksNothing(t *testing.T) {
	l := New(Policy{}, 10, nil)
	for range 100 {
		if lock := l.Fail("a"); lock != 0 {
			t.Fatalf("disabled limiter locked for %v", lock)
		}
	}
	if ok, _ := l.Allow("a"); !ok || l.Len() != 0 {
		t.Fatalf("disabled limiter: allow %v, %d keys", ok, l.Len())
	}
}

func TestCapacityBoundsMemoryAndKeepsLocks(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(policy, 64, c.now)
	// The victim is locked.
	for range policy.Free {
		l.Fail("victim")
	}
	// A flood of distinct keys, each failing once.
	for i := range 100000 {
		l.Fail(fmt.Sprintf("flood-%d", i))
		if l.Len() > 64 {
			t.Fatalf("after %d keys: %d tracked, cap 64", i+1, l.Len())
		}
	}
	if ok, _ := l.Allow("victim"); ok {
		t.Fatal("the flood evicted a locked key while unlocked ones could go")
	}
	// Every tracked key locked: the oldest lock goes, the cap holds.
	for i := range 200 {
		k := fmt.Sprintf("locked-%d", i)
		for range policy.Free {
			l.Fail(k)
		}
	}
	if l.Len() > 64 {
		t.Fatalf("%d tracked, cap 64", l.Len())
	}
	if ok, _ := l.Allow("locked-199"); ok {
		t.Fatal("newest lock evicted")
	}
}

func TestExpiredKeysGoFirst(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(policy, 2, c.now)
	for range policy.Free {
		l.Fail("old")
	}
	c.advance(2 * time.Hour) // old's lock and forget window have passed
	l.Fail("recent")
	l.Fail("recent")
	l.Fail("third") // must evict old (expired), not recent
	if l.Len() != 2 {
		t.Fatalf("%d keys, want 2", l.Len())
	}
	if lock := l.Fail("recent"); lock != time.Minute {
		t.Fatalf("recent's count was lost (lock %v): an expired key should have gone first", lock)
	}
}

// TestAllowReserves: attempts in flight count against Free, so a burst
// that passes Allow before any check ends cannot exceed it.
func TestAllowReserves(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(policy, 100, c.now)
	for i := range policy.Free {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("attempt %d refused", i)
		}
	}
	for range 100 {
		if ok, wait := l.Allow("a"); ok || wait != PendingRetry {
			t.Fatalf("attempt past Free with %d in flight: %v %v, want refused for %v", policy.Free, ok, wait, PendingRetry)
		}
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another key refused")
	}
	l.Cancel("b")
	if l.Len() != 1 {
		t.Fatalf("a cancelled first attempt left %d keys, want 1", l.Len())
	}
	// A refunded attempt frees its place.
	l.Cancel("a")
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("cancelled attempt not refunded")
	}
	l.Fail("a")
	l.Fail("a")
	if lock := l.Fail("a"); lock != time.Minute {
		t.Fatalf("third failure locked for %v", lock)
	}
	if ok, wait := l.Allow("a"); ok || wait != time.Minute {
		t.Fatalf("locked: %v %v", ok, wait)
	}
	// After the lock, one attempt at a time.
	c.advance(time.Minute)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("refused after the lock")
	}
	if ok, wait := l.Allow("a"); ok || wait != PendingRetry {
		t.Fatalf("second attempt after the lock: %v %v", ok, wait)
	}
	// A hanging attempt never lets the key expire.
	c.advance(2 * time.Hour)
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("an attempt in flight was forgotten")
	}
	if lock := l.Fail("a"); lock != 2*time.Minute {
		t.Fatalf("failure after the lock locked for %v, want the doubled 2m", lock)
	}
}

func TestSucceedWithAttemptsInFlight(t *testing.T) {
	l := New(policy, 100, nil)
	l.Fail("a")
	l.Allow("a")
	l.Allow("a")
	l.Succeed("a") // count reset, one attempt still in flight
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("refused after a success")
	}
	l.Fail("a")
	l.Fail("a")
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("two failures after a success locked or refused the key")
	}
	l.Succeed("a")
	if l.Len() != 0 {
		t.Fatalf("%d keys after the last attempt succeeded", l.Len())
	}
}

func TestReservedKeysAreKeptOverFloods(t *testing.T) {
	l := New(policy, 8, nil)
	for range policy.Free {
		l.Allow("victim") // a burst in flight
	}
	for i := range 1000 {
		if ok, _ := l.Allow(fmt.Sprintf("flood-%d", i)); ok {
			l.Fail(fmt.Sprintf("flood-%d", i))
		}
	}
	if ok, _ := l.Allow("victim"); ok {
		t.Fatal("a flood of one-off keys evicted a key with Free attempts in flight")
	}
	if l.Len() > 8 {
		t.Fatalf("%d keys, cap 8", l.Len())
	}
}

// TestGoodTrafficDoesNotKeepFailures: failures are forgotten Forget after
// the last one even while the key keeps making good attempts (a host
// whose API token works, an office behind one address signing in).
func TestGoodTrafficDoesNotKeepFailures(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(policy, 100, c.now)
	for range policy.Free - 1 {
		if ok, _ := l.Allow("host"); !ok {
			t.Fatal("refused before any lock")
		}
		l.Fail("host")
	}
	for range 5 { // good attempts every 30 minutes for 2.5 hours
		c.t = c.t.Add(30 * time.Minute)
		if ok, _ := l.Allow("host"); !ok {
			t.Fatal("good attempt refused")
		}
		l.Cancel("host")
	}
	if ok, _ := l.Allow("host"); !ok {
		t.Fatal("refused")
	}
	if lock := l.Fail("host"); lock != 0 {
		t.Fatalf("one failure after %v of good traffic locked the key for %v: the old failures were kept", 150*time.Minute, lock)
	}
}
