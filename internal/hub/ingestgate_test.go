package hub

import (
	"net/http"
	"net/http/httptest"
	"strings"
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
// told to come back later the more reports wait behind the slots, up to a
// minute, so a replica behind its load is not kept busy answering resends.
func TestRetryAfterGrowsWithWaiting(t *testing.T) {
	tests := []struct {
		base, waiting, slots, want int
	}{
		{1, 0, 16, 1},
		{1, 15, 16, 1},
		{1, 16, 16, 2},
		{1, 160, 16, 11},
		{5, 4, 2, 15},
		{1, 100000, 16, maxRetryAfter},
		{5, 1000, 2, maxRetryAfter},
		{1, 5, 0, 1},
	}
	for _, tt := range tests {
		if got := slotRetryAfter(tt.base, tt.waiting, tt.slots); got != tt.want {
			t.Errorf("slotRetryAfter(%d, %d waiting, %d slots) = %d, want %d", tt.base, tt.waiting, tt.slots, got, tt.want)
		}
	}
}

// TestRetryAfterOfRefusedReport: the header a refused report gets counts
// the reports still waiting beside it.
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
		want   string
	}{{0, "1"}, {3, "4"}, {100, "60"}} {
		h.gate.waitingSmall.Store(tt.others)
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
		if _, ok := h.ingestSlot(rec, r); ok {
			t.Fatal("admitted beside a held slot")
		}
		if got := rec.Header().Get("Retry-After"); got != tt.want {
			t.Errorf("%d others waiting: Retry-After %s, want %s", tt.others, got, tt.want)
		}
	}
}
