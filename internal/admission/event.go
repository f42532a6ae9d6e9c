package admission

import (
	"context"
	"log/slog"
	"time"
)

// Event types. The set only grows.
const (
	// EventDenied: the request was refused.
	EventDenied = "denied"
	// EventWarned: admitted with warnings returned to the client.
	EventWarned = "warned"
	// EventAudited: admitted; violations recorded as audit annotations only.
	EventAudited = "audited"
	// EventBreakGlass: the break-glass annotation admitted the request;
	// Violations lists what it overrode (possibly nothing).
	EventBreakGlass = "break-glass"
	// EventBreakGlassRefused: the break-glass annotation was present but
	// the policy does not honour it for this requester (off, or not in
	// breakGlassGroups); the request was judged without it.
	EventBreakGlassRefused = "break-glass-refused"
	// EventCheckFailed: a check could not complete (registry or scanner
	// unreachable, timeout) and the failure policy decided.
	EventCheckFailed = "check-failed"
)

// EventSchemaVersion is the version of the Event JSON schema
// (docs/admission.md); fields are only ever added.
const EventSchemaVersion = "palisade.io/admission-event/v1"

// Event is one admission decision worth reporting: every denial, warning,
// audit-only violation, break-glass use and failed check. It is what the
// log line carries and what an agent ships to the hub.
type Event struct {
	Schema string    `json:"schema"`
	Time   time.Time `json:"time"`
	Type   string    `json:"type"`
	// Allowed is the decision returned to the API server.
	Allowed bool `json:"allowed"`
	// Endpoint is "validate" or "mutate".
	Endpoint  string `json:"endpoint"`
	UID       string `json:"uid"`
	Operation string `json:"operation"`
	// Kind is group/version/kind of the object ("apps/v1/Deployment").
	Kind      string   `json:"kind"`
	Namespace string   `json:"namespace,omitempty"`
	Name      string   `json:"name,omitempty"`
	User      string   `json:"user"`
	Groups    []string `json:"groups,omitempty"`
	DryRun    bool     `json:"dryRun,omitempty"`
	// BreakGlassReason is the annotation's value, for break-glass events.
	BreakGlassReason string `json:"breakGlassReason,omitempty"`
	// Images are the object's container images, for break-glass uses
	// and attempts.
	Images     []string    `json:"images,omitempty"`
	Violations []Violation `json:"violations,omitempty"`
	// Policy names the policy that decided and its content hash.
	Policy     string `json:"policy,omitempty"`
	PolicyHash string `json:"policyHash,omitempty"`
}

// Violation is one rule violated by the object, with the mode it had.
type Violation struct {
	RuleID    string `json:"ruleID"`
	Severity  string `json:"severity"`
	Mode      Mode   `json:"mode"`
	Message   string `json:"message"`
	Field     string `json:"field,omitempty"`
	Container string `json:"container,omitempty"`
	// Image is set for image rules.
	Image string `json:"image,omitempty"`
}

// EventSink receives events. Emit must not block for long: it runs on
// the request path.
type EventSink interface {
	Emit(ctx context.Context, e *Event)
}

// LogSink writes each event as one structured log line:
//
//	{"time":…,"level":"WARN","msg":"admission event","event":{…Event…}}
//
// Denials and break-glass uses and attempts log at WARN, the rest at INFO.
type LogSink struct{ Logger *slog.Logger }

// Emit logs the event.
func (s LogSink) Emit(ctx context.Context, e *Event) {
	level := slog.LevelInfo
	if e.Type == EventDenied || e.Type == EventBreakGlass || e.Type == EventBreakGlassRefused || e.Type == EventCheckFailed {
		level = slog.LevelWarn
	}
	s.Logger.LogAttrs(ctx, level, "admission event", slog.Any("event", e))
}

// MultiSink sends every event to each sink in turn.
type MultiSink []EventSink

// Emit sends the event on.
func (m MultiSink) Emit(ctx context.Context, e *Event) {
	for _, s := range m {
		s.Emit(ctx, e)
	}
}
