package hub

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestIngestSlotClasses: a replica stores at most its slots' worth of
// reports at once; one more waits, then is answered 429 with Retry-After
// (the agent keeps it and resends it); the large class (snapshots) and
// the small one (deltas) have their own slots, so snapshots holding every
// large slot do not hold up a delta, and a slot given back is taken again.
func TestIngestSlotClasses(t *testing.T) {
	h := &Hub{gate: newIngestGate(1, 1)}
	h.gate.wait = time.Millisecond
	req := func(size int64) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/agent/reports/batch", strings.NewReader("{}"))
		r.ContentLength = size
		return r
	}
	for _, tc := range []struct {
		name     string
		held     int64 // the request holding its class's only slot
		next     int64
		want     int // status of next: 0 admitted
		retryHdr bool
	}{
		{"small behind small", 1 << 10, 2 << 10, http.StatusTooManyRequests, true},
		{"large behind large", 1 << 20, 200 << 10, http.StatusTooManyRequests, true},
		{"unknown length is large", 1 << 20, -1, http.StatusTooManyRequests, true},
		{"small beside large", 1 << 20, 1 << 10, 0, false},
		{"large beside small", 1 << 10, 1 << 20, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release, ok := h.ingestSlot(httptest.NewRecorder(), req(tc.held))
			if !ok {
				t.Fatal("first report refused")
			}
			rec := httptest.NewRecorder()
			release2, ok := h.ingestSlot(rec, req(tc.next))
			if ok {
				release2()
			}
			got := 0
			if !ok {
				got = rec.Code
			}
			if got != tc.want || (rec.Header().Get("Retry-After") != "") != tc.retryHdr {
				t.Errorf("next report: status %d (0: admitted), Retry-After %q; want %d, Retry-After set %v", got, rec.Header().Get("Retry-After"), tc.want, tc.retryHdr)
			}
			release()
			again, ok := h.ingestSlot(httptest.NewRecorder(), req(tc.held))
			if !ok {
				t.Fatal("slot not given back")
			}
			again()
		})
	}
}

// TestIngestSlotWaits: a report that finds its class full waits for a
// slot (up to the gate's wait) instead of being refused at once.
func TestIngestSlotWaits(t *testing.T) {
	h := &Hub{gate: newIngestGate(1, 1)}
	h.gate.wait = time.Minute // a guard against a hang; the slot is freed at once
	release, _ := h.ingestSlot(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}")))
	got := make(chan bool)
	go func() {
		rel, ok := h.ingestSlot(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}")))
		if ok {
			rel()
		}
		got <- ok
	}()
	release()
	if !<-got {
		t.Error("the waiting report was refused after a slot was freed")
	}
}

// TestRetryAfterGrowsWithWaiting: a report refused for want of a slot is
// told to come back once the reports waiting beside it have had their
// turn (waiting × the slots' hold time ÷ slots), at least after the
// class's base and at most after a minute, so a replica behind its load
// is not kept busy answering resends, and one merely busy does not send
// its agents away for long.
func TestRetryAfterGrowsWithWaiting(t *testing.T) {
	tests := []struct {
		base, waiting int
		hold          time.Duration
		slots, want   int
	}{
		{1, 0, time.Second, 16, 1},
		{1, 15, 100 * time.Millisecond, 16, 1},
		{1, 160, 100 * time.Millisecond, 16, 1},
		{1, 160, time.Second, 16, 10},
		{1, 161, time.Second, 16, 11},
		{5, 4, time.Second, 2, 5},
		{5, 40, time.Second, 2, 20},
		{1, 100000, time.Second, 16, maxRetryAfter},
		{1, 5, time.Second, 0, 1},
		{1, 5, 0, 16, 1},
	}
	for _, tt := range tests {
		if got := slotRetryAfter(tt.base, tt.waiting, tt.hold, tt.slots); got != tt.want {
			t.Errorf("slotRetryAfter(%d, %d waiting, hold %v, %d slots) = %d, want %d", tt.base, tt.waiting, tt.hold, tt.slots, got, tt.want)
		}
	}
}

// TestRetryAfterOfRefusedReport: the header a refused report gets counts
// the reports still waiting beside it and how long slots are held.
func TestRetryAfterOfRefusedReport(t *testing.T) {
	h := &Hub{gate: newIngestGate(1, 1)}
	h.gate.wait = time.Millisecond
	release, ok := h.ingestSlot(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}")))
	if !ok {
		t.Fatal("first report refused")
	}
	defer release()
	for _, tt := range []struct {
		others int32
		hold   time.Duration
		want   string
	}{{0, time.Second, "1"}, {3, time.Second, "3"}, {3, 10 * time.Millisecond, "1"}, {100, time.Second, "60"}} {
		h.gate.waitingSmall.Store(tt.others)
		h.gate.holdSmall.Store(int64(tt.hold))
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
		if _, ok := h.ingestSlot(rec, r); ok {
			t.Fatal("admitted beside a held slot")
		}
		if got := rec.Header().Get("Retry-After"); got != tt.want {
			t.Errorf("%d others waiting, slots held %v: Retry-After %s, want %s", tt.others, tt.hold, got, tt.want)
		}
	}
}

// TestHoldEWMA: the average hold time starts at the first hold and moves
// an eighth of the way towards each next one.
func TestHoldEWMA(t *testing.T) {
	var avg atomic.Int64
	for _, tt := range []struct{ d, want time.Duration }{
		{800 * time.Millisecond, 800 * time.Millisecond},
		{0, 700 * time.Millisecond},
		{1500 * time.Millisecond, 800 * time.Millisecond},
	} {
		holdEWMA(&avg, tt.d)
		if got := time.Duration(avg.Load()); got != tt.want {
			t.Errorf("after %v: average %v, want %v", tt.d, got, tt.want)
		}
	}
}
