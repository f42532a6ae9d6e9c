package auditlog

import (
	"encoding/json"
	"fmt"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	rbaceval "github.com/palisade-sec/palisade/internal/rbac"
	rbacrules "github.com/palisade-sec/palisade/internal/rules/rbac"
)

// The RBAC detections judge each Role, ClusterRole, RoleBinding and
// ClusterRoleBinding that a non-system identity creates, updates or
// patches with internal/rules/rbac's RoleRisks, BindingRisks and
// BoundRoleRisks, the functions behind 'palisade rbac analyze': one definition of a risky
// grant for the static and the streaming analyser. Each rbac rule has an
// audit detection of the same severity, named "audit/rbac-<name>", except
// the two whose IDs predate this and stay as they were:
// rbac/cluster-admin-binding is audit/cluster-admin-granted and
// rbac/escalation is audit/escalation-rights-granted.
//
// The written object is the request body (audit level Request or
// RequestResponse; v1 and v1beta1 RBAC objects have the same fields). For
// a patch the response body is used when the policy logged it, else the
// object kubectl apply records in its last-applied annotation, else the
// patch itself when it is a merge patch (rules and subjects are replaced
// whole by a patch, so they are the new ones). A JSON patch (a list of
// operations) without a response body cannot be judged.

// rbacAuditIDs are the audit IDs of rbac rules that predate the rbac
// detections; users select and suppress them by these names.
var rbacAuditIDs = map[string]string{
	"rbac/cluster-admin-binding": "audit/cluster-admin-granted",
	"rbac/escalation":            "audit/escalation-rights-granted",
}

// rbacAuditTitles keep the titles of those two detections.
var rbacAuditTitles = map[string]string{
	"rbac/cluster-admin-binding": "cluster-admin granted",
	"rbac/escalation":            "Role with escalation rights written",
}

// RBACDetectionID is the audit detection that reports the rbac rule id
// for roles and bindings written through the API.
func RBACDetectionID(ruleID string) string {
	if id, ok := rbacAuditIDs[ruleID]; ok {
		return id
	}
	return "audit/rbac-" + strings.TrimPrefix(ruleID, "rbac/")
}

// rbacDetections returns one detection per rbac rule.
func rbacDetections() []*Detection {
	rules := rbacrules.Rules()
	out := make([]*Detection, 0, len(rules))
	for _, r := range rules {
		title, ok := rbacAuditTitles[r.ID]
		if !ok {
			title = "RBAC written: " + r.Title
		}
		ruleID := r.ID
		out = append(out, &Detection{
			ID: RBACDetectionID(r.ID), Title: title, Severity: r.Severity,
			Description: r.Description + " Fires when a non-system identity creates, updates or patches a Role, ClusterRole or binding that grants it, judged like " + r.ID + " in 'palisade rbac analyze'.",
			Remediation: r.Remediation,
			References:  r.References,
			Blind:       rbacBlind,
			Match: func(e *Event) string {
				w := writtenRBAC(e)
				if w == nil {
					return ""
				}
				var what []string
				for _, risk := range w.risks() {
					if risk.RuleID == ruleID {
						what = append(what, fmt.Sprintf("%s (%s)", risk.What, risk.Field))
					}
				}
				if len(what) == 0 {
					return ""
				}
				return fmt.Sprintf("%s did %s on %s %s, which grants %s", e.Who(), e.Verb, e.ObjectRef.Resource, w.name(e), strings.Join(what, "; "))
			},
		})
	}
	return out
}

// rbacObject is the part of a Role, ClusterRole or binding the risks
// depend on.
type rbacObject struct {
	Metadata struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Rules    []rbacv1.PolicyRule `json:"rules"`
	RoleRef  rbacv1.RoleRef      `json:"roleRef"`
	Subjects []rbacv1.Subject    `json:"subjects"`

	binding   bool
	namespace string // "" for ClusterRoles and ClusterRoleBindings
}

// risks judges the object. A binding's role is not in the event, so what
// it gives through its role's rules is known only for the roles every
// cluster ships (admin, edit, view).
func (o *rbacObject) risks() []rbacrules.Risk {
	if !o.binding {
		return rbacrules.RoleRisks(o.Rules, o.namespace)
	}
	risks := rbacrules.BindingRisks(o.RoleRef, o.Subjects, o.namespace)
	if o.RoleRef.Kind == "ClusterRole" {
		if rules, ok := rbaceval.BuiltinClusterRoleRules(o.RoleRef.Name); ok {
			risks = append(risks, rbacrules.BoundRoleRisks(o.RoleRef, o.Subjects, o.namespace, rules)...)
		}
	}
	return risks
}

func (o *rbacObject) name(e *Event) string {
	if e.ObjectRef.Name == "" && o.Metadata.Name != "" {
		if o.namespace != "" {
			return o.namespace + "/" + o.Metadata.Name
		}
		return o.Metadata.Name
	}
	return e.Target()
}

const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// writtenRBAC decodes the RBAC object a successful write by a non-system
// identity left, or returns nil.
func writtenRBAC(e *Event) *rbacObject {
	binding, namespaced, ok := rbacWrite(e)
	if !ok {
		return nil
	}
	bodies := []json.RawMessage{e.RequestObject, e.ResponseObject}
	if e.Verb == "patch" {
		bodies = []json.RawMessage{e.ResponseObject, nil, e.RequestObject}
		// kubectl apply's patch carries the whole new object in its
		// last-applied annotation.
		var patch rbacObject
		if json.Unmarshal(e.RequestObject, &patch) == nil {
			if s := patch.Metadata.Annotations[lastApplied]; s != "" {
				bodies[1] = json.RawMessage(s)
			}
		}
	}
	for _, b := range bodies {
		o := &rbacObject{binding: binding}
		if len(b) == 0 || json.Unmarshal(b, o) != nil {
			continue
		}
		if namespaced {
			o.namespace = e.ObjectRef.Namespace
			if o.namespace == "" {
				o.namespace = o.Metadata.Namespace
			}
		}
		return o
	}
	return nil
}

// rbacWrite reports whether the event is a successful write of a Role,
// ClusterRole or binding by a non-system identity: what the RBAC
// detections judge.
func rbacWrite(e *Event) (binding, namespaced, ok bool) {
	if e.ObjectRef == nil || e.ObjectRef.APIGroup != rbacv1.GroupName || e.ObjectRef.Subresource != "" ||
		!(e.Verb == "create" || e.Verb == "update" || e.Verb == "patch") || !e.Allowed() || !nonSystem(e) {
		return false, false, false
	}
	switch e.ObjectRef.Resource {
	case "roles":
		return false, true, true
	case "clusterroles":
		return false, false, true
	case "rolebindings":
		return true, true, true
	case "clusterrolebindings":
		return true, false, true
	}
	return false, false, false
}

// rbacBlind is the RBAC detections' Blind: an RBAC write whose logged
// bodies do not show the object written.
func rbacBlind(e *Event) string {
	if _, _, ok := rbacWrite(e); !ok || writtenRBAC(e) != nil {
		return ""
	}
	if len(e.RequestObject) == 0 && len(e.ResponseObject) == 0 {
		return "Role, ClusterRole and binding writes logged without a request body (audit level Metadata)"
	}
	return "Role, ClusterRole and binding writes whose logged body does not show the object (a JSON patch logged without its response)"
}
