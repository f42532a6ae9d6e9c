package auditlog

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
)

// Detection is one built-in or custom detection: metadata plus a pure
// check of one event that returns a message when it fires.
type Detection struct {
	ID          string
	Title       string
	Severity    finding.Severity
	Description string
	Remediation string
	References  []finding.Reference
	// Frameworks maps the detection to MITRE ATT&CK techniques and other
	// frameworks (see finding.Frameworks).
	Frameworks finding.Frameworks
	// Match returns a non-empty message when the event is suspicious.
	Match func(e *Event) string
	// Blind, when set, returns why the event is one the detection is
	// about but cannot judge (the audit policy did not log the body it
	// reads), or "". The engine counts such requests (Engine.Blind), so
	// a log that cannot show what the detection looks for is not read as
	// a log where it found nothing.
	Blind func(e *Event) string
}

// BlindSpot counts the requests some detections could not judge for one
// reason, with the first of them.
type BlindSpot struct {
	Reason     string
	Detections []string
	Requests   int
	// File and Line locate the first such request; Example describes it.
	File    string
	Line    int
	Example string
}

// Info is the detection's metadata for reports.
func (d *Detection) Info() finding.RuleInfo {
	return finding.RuleInfo{ID: d.ID, Title: d.Title, Severity: d.Severity, Description: d.Description,
		Remediation: d.Remediation, References: d.References, Tags: []string{"audit"},
		Frameworks: d.Frameworks}
}

// Burst settings for the forbidden-responses detection.
const (
	DefaultBurstThreshold = 10
	DefaultBurstWindow    = time.Minute
	// maxTrackedIdentities bounds the per-identity state, so a log with
	// millions of distinct users still runs in constant memory.
	maxTrackedIdentities = 10000
)

// Engine runs detections over a stream of events. It is not safe for
// concurrent use; give each stream its own engine or lock around Observe.
type Engine struct {
	detections []*Detection
	burst      *burstTracker
	burstRule  *Detection
	requests   *requestTracker
	// blind is keyed by BlindSpot.Reason: one entry per reason, so it
	// stays bounded whatever the log holds.
	blind map[string]*BlindSpot
}

// EngineOptions configure an engine.
type EngineOptions struct {
	// Custom detections (CEL) run after the built-in ones.
	Custom []*Detection
	// Select keeps detections whose ID matches one of these globs; empty keeps all.
	Select []string
	// BurstThreshold forbidden responses within BurstWindow by one identity fire
	// audit/forbidden-burst.
	BurstThreshold int
	BurstWindow    time.Duration
	// StageWindow is how long a request waits for its final stage before
	// it is judged on its most complete stage; 0 means DefaultStageWindow.
	StageWindow time.Duration
}

// NewEngine builds an engine with the built-in detections plus custom ones.
func NewEngine(o EngineOptions) (*Engine, error) {
	if o.BurstThreshold <= 0 {
		o.BurstThreshold = DefaultBurstThreshold
	}
	if o.BurstWindow <= 0 {
		o.BurstWindow = DefaultBurstWindow
	}
	all := append(Builtin(), o.Custom...)
	seen := map[string]bool{burstDetection.ID: true}
	e := &Engine{requests: newRequestTracker(o.StageWindow)}
	for _, d := range all {
		if seen[d.ID] {
			return nil, fmt.Errorf("detection %s defined twice", d.ID)
		}
		seen[d.ID] = true
		if selected(o.Select, d.ID) {
			e.detections = append(e.detections, d)
		}
	}
	if selected(o.Select, burstDetection.ID) {
		e.burstRule = burstDetection
		e.burst = newBurstTracker(o.BurstThreshold, o.BurstWindow)
	}
	if len(o.Select) > 0 && len(e.detections) == 0 && e.burstRule == nil {
		return nil, fmt.Errorf("detection selectors %v match nothing (see 'palisade auditlog detections')", o.Select)
	}
	return e, nil
}

func selected(globs []string, id string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if g == id || (strings.HasSuffix(g, "*") && strings.HasPrefix(id, strings.TrimSuffix(g, "*"))) {
			return true
		}
	}
	return false
}

// Detections lists the engine's detections, sorted by ID.
func (e *Engine) Detections() []*Detection {
	out := append([]*Detection(nil), e.detections...)
	if e.burstRule != nil {
		out = append(out, e.burstRule)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Observe takes one event and returns the findings of the requests it
// completes. The stages of one request (grouped by auditID) are judged
// once, on the most complete stage seen: a request whose final stage has
// not come yet is judged later, by Observe, Expire or Flush.
func (e *Engine) Observe(rec Record) []finding.Finding {
	var out []finding.Finding
	e.Feed(rec, func(_ Record, fs []finding.Finding) { out = append(out, fs...) })
	return out
}

// Feed is Observe calling fn for each request judged, with its findings
// (often none), so callers can also summarise every request.
func (e *Engine) Feed(rec Record, fn func(Record, []finding.Finding)) {
	e.requests.add(rec, func(r Record) { fn(r, e.judge(r)) })
}

// Expire judges the requests that have waited longer than the stage
// window before now (for a live stream that falls quiet).
func (e *Engine) Expire(now time.Time, fn func(Record, []finding.Finding)) {
	e.requests.expire(now, func(r Record) { fn(r, e.judge(r)) })
}

// Flush judges every request still waiting for its final stage: call it
// at the end of the stream.
func (e *Engine) Flush(fn func(Record, []finding.Finding)) {
	e.requests.flush(func(r Record) { fn(r, e.judge(r)) })
}

// judge runs the detections on one request's chosen stage.
func (e *Engine) judge(rec Record) []finding.Finding {
	ev := rec.Event
	var out []finding.Finding
	var counted map[string]bool
	for _, d := range e.detections {
		if msg := d.Match(ev); msg != "" {
			out = append(out, newFinding(d, rec, msg))
			continue
		}
		if d.Blind == nil {
			continue
		}
		reason := d.Blind(ev)
		if reason == "" {
			continue
		}
		if e.blind == nil {
			e.blind = map[string]*BlindSpot{}
		}
		b := e.blind[reason]
		if b == nil {
			b = &BlindSpot{Reason: reason, File: rec.File, Line: rec.Line,
				Example: fmt.Sprintf("%s by %s of %s (auditID %s)", ev.Verb, ev.Who(), describeTarget(ev), ev.AuditID)}
			e.blind[reason] = b
		}
		if !slices.Contains(b.Detections, d.ID) {
			b.Detections = append(b.Detections, d.ID)
		}
		if counted == nil {
			counted = map[string]bool{}
		}
		if !counted[reason] {
			counted[reason] = true
			b.Requests++
		}
	}
	if e.burst != nil && ev.Code() == 403 {
		if n, fire := e.burst.add(ev.User.Username, ev.StageTimestamp); fire {
			out = append(out, newFinding(e.burstRule, rec, fmt.Sprintf("%s received %d forbidden responses within %s (last: %s %s)",
				ev.Who(), n, e.burst.window, ev.Verb, describeTarget(ev))))
		}
	}
	return out
}

// Blind lists, by reason, the requests that detections were about but
// could not judge, sorted by reason.
func (e *Engine) Blind() []BlindSpot {
	out := make([]BlindSpot, 0, len(e.blind))
	for _, b := range e.blind {
		c := *b
		c.Detections = append([]string(nil), b.Detections...)
		sort.Strings(c.Detections)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Reason < out[j].Reason })
	return out
}

func newFinding(d *Detection, rec Record, msg string) finding.Finding {
	ev := rec.Event
	ref := finding.ObjectRef{Kind: "AuditEvent", Name: ev.AuditID}
	if ev.ObjectRef != nil {
		ref = finding.ObjectRef{APIVersion: apiVersion(ev.ObjectRef), Kind: ev.ObjectRef.Resource, Namespace: ev.ObjectRef.Namespace, Name: ev.ObjectRef.Name}
		if ev.ObjectRef.Subresource != "" {
			ref.Kind += "/" + ev.ObjectRef.Subresource
		}
	}
	when := ev.StageTimestamp
	if when.IsZero() {
		when = ev.RequestReceived
	}
	if !when.IsZero() {
		msg += " at " + when.UTC().Format(time.RFC3339)
	}
	return finding.Finding{RuleID: d.ID, Severity: d.Severity, Title: d.Title, Message: msg, Object: ref,
		File: rec.File, Line: rec.Line, Remediation: d.Remediation}
}

func apiVersion(o *ObjectRef) string {
	if o.APIGroup == "" {
		return o.APIVersion
	}
	return o.APIGroup + "/" + o.APIVersion
}

func describeTarget(ev *Event) string {
	if r := ev.Resource(); r != "" {
		return r + " " + ev.Target()
	}
	return ev.RequestURI
}

// burstTracker counts forbidden responses per identity in a sliding
// window, firing once per window so a scanner does not flood the report.
type burstTracker struct {
	threshold int
	window    time.Duration
	ids       map[string]*burstState
}

type burstState struct {
	times     []time.Time
	lastFired time.Time
	lastSeen  time.Time
}

func newBurstTracker(threshold int, window time.Duration) *burstTracker {
	return &burstTracker{threshold: threshold, window: window, ids: map[string]*burstState{}}
}

func (b *burstTracker) add(id string, at time.Time) (int, bool) {
	s, ok := b.ids[id]
	if !ok {
		if len(b.ids) >= maxTrackedIdentities {
			b.evictOldest()
		}
		s = &burstState{}
		b.ids[id] = s
	}
	s.lastSeen = at
	cut := at.Add(-b.window)
	keep := s.times[:0]
	for _, t := range s.times {
		if t.After(cut) {
			keep = append(keep, t)
		}
	}
	s.times = append(keep, at)
	if len(s.times) > b.threshold {
		s.times = s.times[len(s.times)-b.threshold:]
	}
	if len(s.times) >= b.threshold && (s.lastFired.IsZero() || at.Sub(s.lastFired) >= b.window) {
		s.lastFired = at
		return len(s.times), true
	}
	return len(s.times), false
}

func (b *burstTracker) evictOldest() {
	var oldestID string
	var oldest time.Time
	for id, s := range b.ids {
		if oldestID == "" || s.lastSeen.Before(oldest) {
			oldestID, oldest = id, s.lastSeen
		}
	}
	delete(b.ids, oldestID)
}
