package auditlog

import (
	"fmt"
	"time"

	"github.com/valyala/fastjson"
)

// eventDecoder decodes audit events with a reusable fastjson parser:
// audit logs run to millions of events, and reflection-based decoding was
// the whole cost of analysis. Request and response bodies are kept as raw
// JSON for the few detections that read them. A decoder is not safe for
// concurrent use.
type eventDecoder struct {
	p fastjson.Parser
}

// decode parses one event; listItem accepts items of an EventList, which
// carry no kind and apiVersion. A nil event comes with the reason.
func (d *eventDecoder) decode(b []byte, listItem bool) (*Event, string) {
	v, err := d.p.ParseBytes(b)
	if err != nil {
		return nil, "not valid JSON (truncated line?)"
	}
	if v.Type() != fastjson.TypeObject {
		return nil, "not an audit event: not a JSON object"
	}
	ev := &Event{
		Kind:       str(v, "kind"),
		APIVersion: str(v, "apiVersion"),
	}
	if listItem && ev.APIVersion == "" && ev.Kind == "" {
		ev.APIVersion, ev.Kind = "audit.k8s.io/v1", "Event"
	}
	if ev.APIVersion != "audit.k8s.io/v1" || ev.Kind != "Event" {
		return nil, fmt.Sprintf("not an audit.k8s.io/v1 Event (apiVersion %q, kind %q)", ev.APIVersion, ev.Kind)
	}
	ev.Level = str(v, "level")
	ev.AuditID = str(v, "auditID")
	ev.Stage = str(v, "stage")
	ev.RequestURI = str(v, "requestURI")
	ev.Verb = str(v, "verb")
	ev.UserAgent = str(v, "userAgent")
	ev.User = user(v.Get("user"))
	if iu := v.Get("impersonatedUser"); iu != nil && iu.Type() == fastjson.TypeObject {
		u := user(iu)
		ev.ImpersonatedUser = &u
	}
	ev.SourceIPs = strs(v.Get("sourceIPs"))
	if o := v.Get("objectRef"); o != nil && o.Type() == fastjson.TypeObject {
		ev.ObjectRef = &ObjectRef{Resource: str(o, "resource"), Namespace: str(o, "namespace"), Name: str(o, "name"),
			APIGroup: str(o, "apiGroup"), APIVersion: str(o, "apiVersion"), Subresource: str(o, "subresource")}
	}
	if s := v.Get("responseStatus"); s != nil && s.Type() == fastjson.TypeObject {
		ev.ResponseStatus = &Status{Code: s.GetInt("code"), Reason: str(s, "reason"), Message: str(s, "message")}
	}
	if r := v.Get("requestObject"); r != nil && r.Type() != fastjson.TypeNull {
		ev.RequestObject = r.MarshalTo(nil)
	}
	if r := v.Get("responseObject"); r != nil && r.Type() != fastjson.TypeNull {
		ev.ResponseObject = r.MarshalTo(nil)
	}
	ev.RequestReceived = timestamp(v, "requestReceivedTimestamp")
	ev.StageTimestamp = timestamp(v, "stageTimestamp")
	if a := v.GetObject("annotations"); a != nil && a.Len() > 0 {
		ev.Annotations = make(map[string]string, a.Len())
		a.Visit(func(k []byte, val *fastjson.Value) {
			if s, err := val.StringBytes(); err == nil {
				ev.Annotations[string(k)] = string(s)
			}
		})
	}
	ev.raw = b
	return ev, ""
}

func str(v *fastjson.Value, key string) string {
	f := v.Get(key)
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
	u := User{Username: str(v, "username"), UID: str(v, "uid"), Groups: strs(v.Get("groups"))}
	if ex := v.GetObject("extra"); ex != nil && ex.Len() > 0 {
		u.Extra = map[string][]string{}
		ex.Visit(func(k []byte, val *fastjson.Value) { u.Extra[string(k)] = strs(val) })
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
