package auditlog

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/valyala/fastjson"
)

// Bounds of one decoded document. A document is one line of JSON lines, a
// pretty-printed value, or one webhook batch.
const (
	// maxEnvelopeDepth bounds how many envelopes (a log shipper's record
	// holding the event as a JSON string, that record inside another
	// shipper's record, ...) are unwrapped: real pipelines add one or two.
	maxEnvelopeDepth = 4
	// MaxItemsPerDocument bounds the events read from one EventList, JSON
	// array or shipper batch; the API server's webhook batches hold 400 by
	// default. Items past it are reported, not read.
	MaxItemsPerDocument = 100000
)

// auditVersions are the audit.k8s.io versions whose Event has the fields
// the detections read under the same names. v1beta1 (Kubernetes 1.8–1.23
// logs, --audit-log-version) adds "timestamp" and "metadata" and lacks
// nothing the detections need; v1alpha1 has the same fields.
var auditVersions = map[string]bool{
	"audit.k8s.io/v1": true, "audit.k8s.io/v1beta1": true, "audit.k8s.io/v1alpha1": true,
}

// envelopeKeys are where log shippers put the event, tried in this order
// when a JSON object is not itself an audit event. The value is the event
// as an object or as a JSON string (or another envelope):
//   - log: Docker json-file, CRI via fluent-bit/fluentd tail, AKS
//     diagnostic records under "properties";
//   - message: EKS CloudWatch Logs exports, Logstash, Vector, syslog-JSON;
//   - MESSAGE: journald (journalctl -o json);
//   - line: Loki (logcli --output jsonl);
//   - body: OpenTelemetry log records;
//   - event: Splunk HEC;
//   - jsonPayload, protoPayload: Google Cloud Logging;
//   - _source: Elasticsearch/OpenSearch search hits;
//   - log_processed: fluent-bit's Merge_Log_Key;
//   - properties: Azure diagnostic records (AKS kube-audit category);
//   - kubernetes then audit: Elastic's kubernetes.audit_logs integration.
var envelopeKeys = []string{"log", "message", "MESSAGE", "line", "body", "event", "jsonPayload", "protoPayload",
	"_source", "log_processed", "properties", "kubernetes", "audit"}

// fieldAliases are other spellings of an event's fields: Azure Monitor's
// AKSAudit and AKSAuditAdmin tables (Log Analytics, Sentinel exports)
// carry the event's fields as PascalCase columns, some of them "dynamic"
// columns exported as JSON strings.
var fieldAliases = map[string][]string{
	"auditID": {"AuditId", "AuditID"}, "stage": {"Stage"}, "verb": {"Verb"}, "requestURI": {"RequestUri", "RequestURI"},
	"level": {"Level"}, "user": {"User"}, "impersonatedUser": {"ImpersonatedUser"}, "sourceIPs": {"SourceIps", "SourceIPs"},
	"userAgent": {"UserAgent"}, "objectRef": {"ObjectRef"}, "responseStatus": {"ResponseStatus"},
	"requestObject": {"RequestObject"}, "responseObject": {"ResponseObject"}, "annotations": {"Annotations"},
	"requestReceivedTimestamp": {"RequestReceivedTime"}, "stageTimestamp": {"StageReceivedTime", "StageTimestamp"},
	"username": {"Username"}, "groups": {"Groups"}, "uid": {"Uid", "UID"}, "extra": {"Extra"},
	"resource": {"Resource"}, "namespace": {"Namespace"}, "name": {"Name"}, "apiGroup": {"ApiGroup", "APIGroup"},
	"apiVersion": {}, "subresource": {"Subresource"}, "code": {"Code"}, "reason": {"Reason"}, "message": {"Message"},
}

// get is v's field key, under its own name or an alias.
func get(v *fastjson.Value, key string) *fastjson.Value {
	if v == nil {
		return nil
	}
	if f := v.Get(key); f != nil {
		return f
	}
	for _, a := range fieldAliases[key] {
		if f := v.Get(a); f != nil {
			return f
		}
	}
	return nil
}

// maxOtherFields bounds the fields of an unknown envelope searched for an
// event (fluent-bit's Merge_Log_Key and similar put it under any name).
const maxOtherFields = 64

// batchKeys hold arrays of records: EventList "items", Azure "records",
// CloudWatch filter-log-events "events", Cloud Logging "entries".
var batchKeys = []string{"items", "records", "events", "entries"}

// eventDecoder decodes audit events with reusable fastjson parsers: audit
// logs run to millions of events, and reflection-based decoding was the
// whole cost of analysis. Request and response bodies are kept as raw JSON
// for the few detections that read them. A decoder is not safe for
// concurrent use.
type eventDecoder struct {
	// p[0] parses the document, p[i] the JSON string found in the i-th
	// envelope: values of a fastjson parser live until its next parse.
	p [maxEnvelopeDepth + 1]fastjson.Parser
	// side parses dynamic columns written as JSON strings, one at a time.
	side fastjson.Parser
}

// decoded is what one document held.
type decoded struct {
	events []*Event
	// depth is the deepest nesting an event was found at (0: the document).
	depth int
	// skipped are the reasons items of a list or array were not read.
	skipped []string
}

// decode parses one document: an audit event of any supported version,
// with or without apiVersion and kind, an EventList, a JSON array of
// events, or any of those inside a log shipper's envelope. When nothing in
// it is an event, reason says why.
func (d *eventDecoder) decode(b []byte) (out decoded, reason string) {
	v, err := d.p[0].ParseBytes(b)
	if err != nil {
		return out, "not valid JSON (truncated line?): " + shortErr(err)
	}
	reason = d.value(v, b, 0, &out)
	if len(out.events) > 0 {
		reason = ""
	}
	return out, reason
}

// value reads v (whose JSON text is raw when known) into out, returning
// why it holds no event.
func (d *eventDecoder) value(v *fastjson.Value, raw []byte, depth int, out *decoded) string {
	switch v.Type() {
	case fastjson.TypeArray:
		return d.items(v.GetArray(), depth, out)
	case fastjson.TypeObject:
	default:
		return "not an audit event: a JSON " + v.Type().String()
	}
	apiVersion, kind := str(v, "apiVersion"), str(v, "kind")
	switch {
	case kind == "EventList" && (apiVersion == "" || isAuditGroup(apiVersion)):
		if apiVersion != "" && !auditVersions[apiVersion] {
			return fmt.Sprintf("unsupported audit API version %q (supported: audit.k8s.io/v1, v1beta1)", apiVersion)
		}
		return d.items(v.GetArray("items"), depth, out)
	case isAuditGroup(apiVersion):
		if kind != "Event" && kind != "" {
			return fmt.Sprintf("an %s %s, not an audit event", apiVersion, kind)
		}
		if !auditVersions[apiVersion] {
			return fmt.Sprintf("unsupported audit API version %q (supported: audit.k8s.io/v1, v1beta1)", apiVersion)
		}
		out.events = append(out.events, d.eventOf(v, raw))
		out.depth = max(out.depth, depth)
		return ""
	case (apiVersion == "" && kind == "" || kind == "Event" && apiVersion == "") && looksLikeEvent(v):
		// Webhook batch items and shippers that merge the event into their
		// record drop the TypeMeta; the fields every event has say what it is.
		out.events = append(out.events, d.eventOf(v, raw))
		out.depth = max(out.depth, depth)
		return ""
	}
	if depth < maxEnvelopeDepth {
		for _, k := range envelopeKeys {
			inner := v.Get(k)
			if inner == nil {
				continue
			}
			var sub decoded
			if d.envelope(inner, depth+1, &sub) == "" && len(sub.events) > 0 {
				out.events, out.depth = append(out.events, sub.events...), max(out.depth, sub.depth)
				out.skipped = append(out.skipped, sub.skipped...)
				return ""
			}
		}
		for _, k := range batchKeys {
			if arr := v.GetArray(k); arr != nil {
				var sub decoded
				if d.items(arr, depth+1, &sub) == "" && len(sub.events) > 0 {
					out.events, out.depth = append(out.events, sub.events...), max(out.depth, sub.depth)
					out.skipped = append(out.skipped, sub.skipped...)
					return ""
				}
			}
		}
		if d.otherFields(v, depth, out) {
			return ""
		}
	}
	switch {
	case kind == "Event" && (apiVersion == "v1" || apiVersion == "events.k8s.io/v1" || apiVersion == "events.k8s.io/v1beta1"):
		return fmt.Sprintf("a Kubernetes Event object (%s), not an audit event", apiVersion)
	case strings.Contains(str(v.Get("protoPayload"), "@type"), "AuditLog"):
		return "a Google Cloud Audit Logs entry (protoPayload AuditLog), not a Kubernetes audit event: export the API server's own audit events instead"
	case kind != "" || apiVersion != "":
		return fmt.Sprintf("not an audit event (apiVersion %q, kind %q)", apiVersion, kind)
	}
	return "a JSON object that is not an audit event (no auditID, stage and verb, nor an envelope holding one)"
}

// otherFields looks for one event in the fields of v not tried already,
// as an object or a JSON string; it reports whether it found one.
func (d *eventDecoder) otherFields(v *fastjson.Value, depth int, out *decoded) bool {
	o, err := v.Object()
	if err != nil {
		return false
	}
	n := 0
	found := false
	o.Visit(func(k []byte, f *fastjson.Value) {
		if found || n >= maxOtherFields {
			return
		}
		n++
		if t := f.Type(); t != fastjson.TypeObject && t != fastjson.TypeString {
			return
		}
		key := string(k)
		for _, known := range envelopeKeys {
			if key == known {
				return
			}
		}
		var sub decoded
		if d.envelope(f, depth+1, &sub) == "" && len(sub.events) == 1 {
			out.events, out.depth = append(out.events, sub.events...), max(out.depth, sub.depth)
			found = true
		}
	})
	return found
}

// envelope reads an envelope field: an object, or a JSON string holding one.
func (d *eventDecoder) envelope(inner *fastjson.Value, depth int, out *decoded) string {
	switch inner.Type() {
	case fastjson.TypeObject, fastjson.TypeArray:
		return d.value(inner, nil, depth, out)
	case fastjson.TypeString:
		s := bytes.TrimSpace(inner.GetStringBytes())
		if len(s) == 0 || (s[0] != '{' && s[0] != '[') {
			return "not JSON"
		}
		v, err := d.p[depth].ParseBytes(s)
		if err != nil {
			return "not valid JSON: " + shortErr(err)
		}
		return d.value(v, s, depth, out)
	}
	return "not an object"
}

// items reads the elements of a list or array.
func (d *eventDecoder) items(arr []*fastjson.Value, depth int, out *decoded) string {
	if len(arr) == 0 {
		return "an empty list: no audit events"
	}
	for i, item := range arr {
		if i == MaxItemsPerDocument {
			out.skipped = append(out.skipped, fmt.Sprintf("%d items past the first %d not read", len(arr)-i, MaxItemsPerDocument))
			break
		}
		var sub decoded
		if depth >= maxEnvelopeDepth {
			out.skipped = append(out.skipped, fmt.Sprintf("item %d: nested too deep", i+1))
			continue
		}
		if r := d.value(item, nil, depth+1, &sub); len(sub.events) == 0 {
			out.skipped = append(out.skipped, fmt.Sprintf("item %d: %s", i+1, r))
			continue
		}
		out.events, out.depth = append(out.events, sub.events...), max(out.depth, sub.depth)
		out.skipped = append(out.skipped, sub.skipped...)
	}
	if len(out.events) == 0 {
		return "no item is an audit event (first: " + strings.TrimPrefix(out.skipped[0], "item 1: ") + ")"
	}
	return ""
}

func isAuditGroup(apiVersion string) bool { return strings.HasPrefix(apiVersion, "audit.k8s.io/") }

// looksLikeEvent recognises an audit event without TypeMeta by the fields
// every stage of every version carries.
func looksLikeEvent(v *fastjson.Value) bool {
	return str(v, "auditID") != "" && str(v, "stage") != "" && (str(v, "verb") != "" || str(v, "requestURI") != "")
}

// eventOf copies the event out of v (whose values die with the parser).
// raw is v's own JSON text when known, for custom detections.
func (d *eventDecoder) eventOf(v *fastjson.Value, raw []byte) *Event {
	ev := &Event{Kind: "Event", APIVersion: str(v, "apiVersion")}
	if ev.APIVersion == "" {
		ev.APIVersion = "audit.k8s.io/v1"
	}
	ev.Level = str(v, "level")
	ev.AuditID = str(v, "auditID")
	ev.Stage = str(v, "stage")
	ev.RequestURI = str(v, "requestURI")
	ev.Verb = str(v, "verb")
	ev.UserAgent = str(v, "userAgent")
	ev.User = user(d.dynamic(v, "user"))
	if iu := d.dynamic(v, "impersonatedUser"); iu != nil && iu.Type() == fastjson.TypeObject {
		u := user(iu)
		ev.ImpersonatedUser = &u
	}
	ev.SourceIPs = strs(d.dynamic(v, "sourceIPs"))
	if o := d.dynamic(v, "objectRef"); o != nil && o.Type() == fastjson.TypeObject {
		ev.ObjectRef = &ObjectRef{Resource: str(o, "resource"), Namespace: str(o, "namespace"), Name: str(o, "name"),
			APIGroup: str(o, "apiGroup"), APIVersion: str(o, "apiVersion"), Subresource: str(o, "subresource")}
	}
	if s := d.dynamic(v, "responseStatus"); s != nil && s.Type() == fastjson.TypeObject {
		code := get(s, "code")
		ev.ResponseStatus = &Status{Reason: str(s, "reason"), Message: str(s, "message")}
		if code != nil {
			ev.ResponseStatus.Code = code.GetInt()
		}
	}
	if r := d.dynamic(v, "requestObject"); r != nil && r.Type() != fastjson.TypeNull {
		ev.RequestObject = r.MarshalTo(nil)
	}
	if r := d.dynamic(v, "responseObject"); r != nil && r.Type() != fastjson.TypeNull {
		ev.ResponseObject = r.MarshalTo(nil)
	}
	// v1beta1 and v1alpha1 events may carry only "timestamp" or
	// metadata.creationTimestamp (the time the event was generated).
	ev.RequestReceived = timestamp(v, "requestReceivedTimestamp")
	ev.StageTimestamp = timestamp(v, "stageTimestamp")
	if ev.StageTimestamp.IsZero() {
		if ev.StageTimestamp = timestamp(v, "timestamp"); ev.StageTimestamp.IsZero() {
			ev.StageTimestamp = timestamp(v.Get("metadata"), "creationTimestamp")
		}
	}
	if ev.RequestReceived.IsZero() {
		ev.RequestReceived = ev.StageTimestamp
	}
	if a := d.dynamic(v, "annotations"); a != nil && a.Type() == fastjson.TypeObject {
		o, _ := a.Object()
		if o.Len() > 0 {
			ev.Annotations = make(map[string]string, o.Len())
			o.Visit(func(k []byte, val *fastjson.Value) {
				if s, err := val.StringBytes(); err == nil {
					ev.Annotations[string(k)] = string(s)
				}
			})
		}
	}
	switch {
	case v.Get("auditID") == nil:
		// Read through aliases (an AKSAudit row): custom detections get
		// the event under its canonical field names instead.
	case raw != nil:
		ev.raw = raw
	default:
		ev.raw = v.MarshalTo(nil)
	}
	return ev
}

// dynamic is v's field key; when it is a JSON object or array written as
// a string (a Log Analytics "dynamic" column exported), it is parsed. The
// result lives until the next call.
func (d *eventDecoder) dynamic(v *fastjson.Value, key string) *fastjson.Value {
	f := get(v, key)
	if f == nil || f.Type() != fastjson.TypeString {
		return f
	}
	s := bytes.TrimSpace(f.GetStringBytes())
	if len(s) == 0 || (s[0] != '{' && s[0] != '[') {
		return f
	}
	parsed, err := d.side.ParseBytes(s)
	if err != nil {
		return f
	}
	return parsed
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

func str(v *fastjson.Value, key string) string {
	f := get(v, key)
	if f == nil {
		return ""
	}
	s, err := f.StringBytes()
	if err != nil {
		return ""
	}
	return string(s)
}

func strs(v *fastjson.Value) []string {
	if v == nil || v.Type() != fastjson.TypeArray {
		return nil
	}
	arr, _ := v.Array()
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		if s, err := e.StringBytes(); err == nil {
			out = append(out, string(s))
		}
	}
	return out
}

func user(v *fastjson.Value) User {
	if v == nil || v.Type() != fastjson.TypeObject {
		return User{}
	}
	u := User{Username: str(v, "username"), UID: str(v, "uid"), Groups: strs(get(v, "groups"))}
	if ex := get(v, "extra"); ex != nil && ex.Type() == fastjson.TypeObject && ex.GetObject().Len() > 0 {
		u.Extra = map[string][]string{}
		ex.GetObject().Visit(func(k []byte, val *fastjson.Value) { u.Extra[string(k)] = strs(val) })
	}
	return u
}

func timestamp(v *fastjson.Value, key string) time.Time {
	s := str(v, key)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
