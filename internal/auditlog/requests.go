package auditlog

import (
	"bytes"
	"container/list"
	"time"
)

// Bounds of the request tracker.
const (
	// DefaultStageWindow is how long, in the log's own time, a request
	// whose last stage has not been seen waits before it is judged on its
	// most complete stage so far. Ordinary requests finish within the API
	// server's request timeout (60s by default), so their stages are seldom
	// more than a minute apart; long-running ones (exec, attach,
	// portforward, proxy, watch) log ResponseStarted at once and
	// ResponseComplete only when the session ends, possibly hours later.
	DefaultStageWindow = 2 * time.Minute
	// maxTrackedRequests bounds the auditIDs remembered (waiting for their
	// final stage, or judged and remembered to drop their later stages and
	// duplicates).
	maxTrackedRequests = 200000
	// maxPendingBytes bounds the bodies held by requests waiting for their
	// final stage.
	maxPendingBytes = 64 << 20
)

// stageRank orders stages by how complete the picture of the request is.
func stageRank(stage string) int {
	switch stage {
	case "RequestReceived":
		return 1
	case "ResponseStarted":
		return 2
	case "ResponseComplete", "Panic", "":
		return 3
	}
	return 0
}

// requestKey names one request: its auditID with what every stage of it
// repeats. The auditID alone is not enough: the API server takes it from
// the client's Audit-ID header when one is sent, so a client could give
// its exec the auditID of an earlier harmless request to have it dropped
// as a duplicate.
func requestKey(e *Event) string {
	key := e.AuditID + "\x00" + e.Verb + "\x00" + e.RequestURI + "\x00" + e.User.Username
	if e.ImpersonatedUser != nil {
		key += "\x00" + e.ImpersonatedUser.Username
	}
	return key
}

// requestTracker groups the stages of each request by auditID so that
// one request is judged once, on the most complete stage seen: a final
// stage (ResponseComplete, Panic) is judged at once; an earlier one waits
// for it until the stage window passes, the tracker is full or the stream
// ends. A judged auditID is remembered, so its later stages and duplicates
// of its events (the same log read twice, a shipper's retries) are dropped.
//
// Memory is bounded by maxTrackedRequests auditIDs and maxPendingBytes of
// waiting bodies; the oldest entry goes first. The bound is safe because
// the stages of one request are logged within its duration: an entry
// evicted while waiting is judged on what it has (never lost), and an
// entry evicted after judgement can only matter for a request still
// running after maxTrackedRequests newer ones, a long session whose final
// stage would then be judged a second time: a duplicate, never a miss.
type requestTracker struct {
	window  time.Duration
	byID    map[string]*list.Element // of *tracked, by requestKey
	order   *list.List               // all entries, oldest first
	pending *list.List               // waiting entries, oldest first
	bytes   int
	clock   time.Time // the latest event time seen
}

type tracked struct {
	id      string
	best    Record // the most complete stage while waiting
	first   time.Time
	judged  bool
	final   bool          // judged on a final stage
	waiting *list.Element // in pending while not judged
}

func newRequestTracker(window time.Duration) *requestTracker {
	if window <= 0 {
		window = DefaultStageWindow
	}
	return &requestTracker{window: window, byID: map[string]*list.Element{}, order: list.New(), pending: list.New()}
}

// add takes one event and calls judge for each request ready to be judged.
func (t *requestTracker) add(rec Record, judge func(Record)) {
	ev := rec.Event
	at := ev.StageTimestamp
	if at.IsZero() {
		at = ev.RequestReceived
	}
	if ev.AuditID == "" {
		judge(rec) // nothing to group it by
		t.expire(at, judge)
		return
	}
	final := stageRank(ev.Stage) == 3
	key := requestKey(ev)
	if el, ok := t.byID[key]; ok {
		tr := el.Value.(*tracked)
		switch {
		case tr.judged:
			if final && !tr.final {
				// The session judged early has ended; nothing follows.
				t.remove(el)
			}
		case final:
			t.judge(tr, rec, judge)
		case stageRank(ev.Stage) >= stageRank(tr.best.Event.Stage):
			t.bytes -= size(tr.best.Event)
			tr.best = own(rec)
			t.bytes += size(tr.best.Event)
		}
	} else {
		tr := &tracked{id: key, first: at}
		if at.IsZero() {
			tr.first = t.clock // an event without times waits from the latest time seen
		}
		if final {
			tr.judged, tr.final = true, true
			judge(rec)
		} else {
			tr.best = own(rec)
			t.bytes += size(tr.best.Event)
			tr.waiting = t.pending.PushBack(tr)
		}
		t.byID[key] = t.order.PushBack(tr)
	}
	for t.order.Len() > maxTrackedRequests || t.bytes > maxPendingBytes {
		oldest := t.order.Front()
		if t.bytes > maxPendingBytes && t.pending.Len() > 0 {
			oldest = t.byID[t.pending.Front().Value.(*tracked).id]
		}
		if tr := oldest.Value.(*tracked); !tr.judged {
			t.judge(tr, tr.best, judge)
		}
		t.remove(oldest)
	}
	t.expire(at, judge)
}

// expire judges the waiting requests first seen more than the window
// before now.
func (t *requestTracker) expire(now time.Time, judge func(Record)) {
	if now.After(t.clock) {
		t.clock = now
	}
	for el := t.pending.Front(); el != nil; el = t.pending.Front() {
		tr := el.Value.(*tracked)
		if tr.first.IsZero() {
			// Seen before any time was known: its wait starts now, behind
			// the others (whose times are all at most now).
			if t.clock.IsZero() {
				return
			}
			tr.first = t.clock
			t.pending.MoveToBack(el)
			continue
		}
		if t.clock.Sub(tr.first) <= t.window {
			return
		}
		t.judge(tr, tr.best, judge)
	}
}

// flush judges every waiting request (the end of the stream).
func (t *requestTracker) flush(judge func(Record)) {
	for el := t.pending.Front(); el != nil; el = t.pending.Front() {
		tr := el.Value.(*tracked)
		t.judge(tr, tr.best, judge)
	}
}

// judge ends the wait of tr, if any, and judges rec: its final stage, or
// the most complete one it had when it stopped waiting.
func (t *requestTracker) judge(tr *tracked, rec Record, judge func(Record)) {
	if tr.waiting != nil {
		t.pending.Remove(tr.waiting)
		tr.waiting = nil
		t.bytes -= size(tr.best.Event)
	}
	tr.best = Record{} // keep no body once judged
	tr.judged = true
	tr.final = stageRank(rec.Event.Stage) == 3
	judge(rec)
}

func (t *requestTracker) remove(el *list.Element) {
	tr := el.Value.(*tracked)
	if tr.waiting != nil {
		t.pending.Remove(tr.waiting)
		t.bytes -= size(tr.best.Event)
	}
	t.order.Remove(el)
	delete(t.byID, tr.id)
}

// own detaches a waiting event from the reader's buffer.
func own(rec Record) Record {
	ev := *rec.Event
	ev.raw = bytes.Clone(ev.raw)
	rec.Event = &ev
	return rec
}

func size(e *Event) int {
	return len(e.raw) + len(e.RequestObject) + len(e.ResponseObject) + 256
}
