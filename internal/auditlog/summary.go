package auditlog

import (
	"sort"
	"time"
)

// maxSummaryEntries bounds the access summary (identity × action × target
// triples), keeping analysis of huge logs in constant memory; entries past
// the bound are counted in Dropped.
const maxSummaryEntries = 100000

// AccessSummary says who read which Secrets and who exec'd, attached or
// port-forwarded where.
type AccessSummary struct {
	Identities []IdentityAccess `json:"identities"`
	// Dropped counts accesses not itemised because the summary was full.
	Dropped int `json:"dropped,omitempty"`
}

// IdentityAccess is one identity's sensitive accesses.
type IdentityAccess struct {
	Identity string   `json:"identity"`
	Accesses []Access `json:"accesses"`
}

// Access is one kind of access to one target, with how often and when.
type Access struct {
	// Action is "secret get", "secret list", "pods/exec" ...
	Action string    `json:"action"`
	Target string    `json:"target"`
	Count  int       `json:"count"`
	First  time.Time `json:"first"`
	Last   time.Time `json:"last"`
	// Denied counts attempts the API server refused.
	Denied int `json:"denied,omitempty"`
}

// summaryBuilder accumulates accesses.
type summaryBuilder struct {
	entries map[accessKey]*Access
	dropped int
}

type accessKey struct{ identity, action, target string }

func newSummaryBuilder() *summaryBuilder { return &summaryBuilder{entries: map[accessKey]*Access{}} }

// observe records the judged stage of one request if it is a sensitive
// access.
func (s *summaryBuilder) observe(e *Event) {
	if e.ObjectRef == nil {
		return
	}
	var action string
	switch {
	case e.Is("", "secrets", "") && isRead(e.Verb):
		action = "secret " + e.Verb
	case e.Is("", "pods", "exec"), e.Is("", "pods", "attach"), e.Is("", "pods", "portforward"), e.Is("", "pods", "ephemeralcontainers"), e.Is("", "nodes", "proxy"):
		action = e.ObjectRef.Resource + "/" + e.ObjectRef.Subresource
	case e.Is("", "serviceaccounts", "token") && e.Verb == "create":
		action = "serviceaccounts/token"
	default:
		return
	}
	key := accessKey{identity: e.Who(), action: action, target: e.Target()}
	a, ok := s.entries[key]
	if !ok {
		if len(s.entries) >= maxSummaryEntries {
			s.dropped++
			return
		}
		a = &Access{Action: action, Target: key.target, First: e.RequestReceived}
		s.entries[key] = a
	}
	a.Count++
	if !e.Allowed() {
		a.Denied++
	}
	if e.RequestReceived.Before(a.First) {
		a.First = e.RequestReceived
	}
	if e.RequestReceived.After(a.Last) {
		a.Last = e.RequestReceived
	}
}

func (s *summaryBuilder) build() *AccessSummary {
	by := map[string][]Access{}
	for k, a := range s.entries {
		by[k.identity] = append(by[k.identity], *a)
	}
	out := &AccessSummary{Identities: []IdentityAccess{}, Dropped: s.dropped}
	for id, as := range by {
		sort.Slice(as, func(i, j int) bool {
			if as[i].Action != as[j].Action {
				return as[i].Action < as[j].Action
			}
			return as[i].Target < as[j].Target
		})
		out.Identities = append(out.Identities, IdentityAccess{Identity: id, Accesses: as})
	}
	sort.Slice(out.Identities, func(i, j int) bool { return out.Identities[i].Identity < out.Identities[j].Identity })
	return out
}
