// Package auditlog detects risky activity in Kubernetes audit logs, from
// files or live from the API server's audit webhook. It reads audit
// events as every source writes them: audit.k8s.io/v1 and v1beta1, with
// or without apiVersion and kind, EventList batches, JSON lines or
// pretty-printed JSON, and events inside log shippers' envelopes. Reading
// is streaming and bounded: one document at a time, anything not
// understood counted and reported with its line number, so a gigabyte log
// costs the same memory as a kilobyte one. The stages of one request are
// grouped by auditID and judged once.
package auditlog

import (
	"encoding/json"
	"strings"
	"time"
)

// Event is the part of an audit event (audit.k8s.io/v1, or v1beta1
// mapped to it) that detections read.
// Request and response bodies stay raw until a detection asks for them.
type Event struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Level      string `json:"level"`
	AuditID    string `json:"auditID"`
	Stage      string `json:"stage"`
	RequestURI string `json:"requestURI"`
	Verb       string `json:"verb"`
	User       User   `json:"user"`
	// ImpersonatedUser is set when the request impersonated someone.
	ImpersonatedUser *User             `json:"impersonatedUser,omitempty"`
	SourceIPs        []string          `json:"sourceIPs,omitempty"`
	UserAgent        string            `json:"userAgent,omitempty"`
	ObjectRef        *ObjectRef        `json:"objectRef,omitempty"`
	ResponseStatus   *Status           `json:"responseStatus,omitempty"`
	RequestObject    json.RawMessage   `json:"requestObject,omitempty"`
	ResponseObject   json.RawMessage   `json:"responseObject,omitempty"`
	RequestReceived  time.Time         `json:"requestReceivedTimestamp"`
	StageTimestamp   time.Time         `json:"stageTimestamp"`
	Annotations      map[string]string `json:"annotations,omitempty"`

	// raw is the event's JSON line, for custom (CEL) detections; valid only
	// while the event is being observed.
	raw []byte
}

// User is an authenticated identity.
type User struct {
	Username string              `json:"username"`
	UID      string              `json:"uid,omitempty"`
	Groups   []string            `json:"groups,omitempty"`
	Extra    map[string][]string `json:"extra,omitempty"`
}

// ObjectRef names the object a request was about.
type ObjectRef struct {
	Resource    string `json:"resource,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	Name        string `json:"name,omitempty"`
	APIGroup    string `json:"apiGroup,omitempty"`
	APIVersion  string `json:"apiVersion,omitempty"`
	Subresource string `json:"subresource,omitempty"`
}

// Status is the response status of a request.
type Status struct {
	Code    int    `json:"code,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Code is the HTTP status code of the response, 0 when unknown.
func (e *Event) Code() int {
	if e.ResponseStatus == nil {
		return 0
	}
	return e.ResponseStatus.Code
}

// Allowed reports whether the request succeeded (2xx, or 1xx for
// upgraded exec/attach streams); an unknown code counts as allowed.
func (e *Event) Allowed() bool {
	c := e.Code()
	return c == 0 || c < 300
}

// Resource is "resource" or "resource/subresource", with the API group
// when it is not the core group ("roles.rbac.authorization.k8s.io").
func (e *Event) Resource() string {
	if e.ObjectRef == nil {
		return ""
	}
	r := e.ObjectRef.Resource
	if e.ObjectRef.APIGroup != "" {
		r += "." + e.ObjectRef.APIGroup
	}
	if e.ObjectRef.Subresource != "" {
		r += "/" + e.ObjectRef.Subresource
	}
	return r
}

// Is reports whether the event is about resource (core group when group is
// "") and, when subresource is not "*", exactly that subresource.
func (e *Event) Is(group, resource, subresource string) bool {
	if e.ObjectRef == nil || e.ObjectRef.APIGroup != group || e.ObjectRef.Resource != resource {
		return false
	}
	return subresource == "*" || e.ObjectRef.Subresource == subresource
}

// IsSystem reports whether the identity is part of the control plane:
// system users (system:kube-controller-manager, system:apiserver,
// system:node:*, ...) and service accounts of kube-system. Detections that
// look for humans and workloads skip them.
func (u User) IsSystem() bool {
	if strings.HasPrefix(u.Username, "system:serviceaccount:") {
		return strings.HasPrefix(u.Username, "system:serviceaccount:kube-system:")
	}
	if u.Username == "system:anonymous" {
		return false
	}
	return strings.HasPrefix(u.Username, "system:")
}

// Who names the identity for messages, with the impersonated one if any.
func (e *Event) Who() string {
	if e.ImpersonatedUser != nil {
		return e.User.Username + " (as " + e.ImpersonatedUser.Username + ")"
	}
	return e.User.Username
}

// Effective is the identity the request ran as.
func (e *Event) Effective() User {
	if e.ImpersonatedUser != nil {
		return *e.ImpersonatedUser
	}
	return e.User
}

// Target renders the object: "namespace/name" or "name".
func (e *Event) Target() string {
	if e.ObjectRef == nil {
		return e.RequestURI
	}
	switch {
	case e.ObjectRef.Namespace != "" && e.ObjectRef.Name != "":
		return e.ObjectRef.Namespace + "/" + e.ObjectRef.Name
	case e.ObjectRef.Name != "":
		return e.ObjectRef.Name
	case e.ObjectRef.Namespace != "":
		return e.ObjectRef.Namespace + "/*"
	}
	return "*"
}
