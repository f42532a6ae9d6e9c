package auditlog

import (
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
)

// TestBlindSpots: a log whose policy dropped the body a detection reads
// (pods, workloads, RBAC, Services and ConfigMaps written at Metadata
// level, an RBAC JSON patch without its response) used to give "No
// findings", exit 0: the detections had nothing to look at. Each such
// request is now counted, and the detections that could not judge it are
// named with the first request's line, an error unless AllowUnreadable.
// Requests logged with their bodies, and writes the detections are not
// about (a pod's status, a denied create), say nothing.
func TestBlindSpots(t *testing.T) {
	ev := func(id, verb, group, resource, sub, ns, name string, code int, req, resp any) string {
		e := map[string]any{"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": id, "stage": "ResponseComplete",
			"verb": verb, "requestURI": "/x", "user": map[string]any{"username": "mallory", "groups": []string{"system:authenticated"}},
			"objectRef":                map[string]any{"resource": resource, "apiGroup": group, "namespace": ns, "name": name, "subresource": sub},
			"responseStatus":           map[string]any{"code": code},
			"requestReceivedTimestamp": t0().Format(time.RFC3339Nano), "stageTimestamp": t0().Format(time.RFC3339Nano)}
		if req != nil {
			e["level"], e["requestObject"] = "Request", req
		}
		if resp != nil {
			e["level"], e["responseObject"] = "RequestResponse", resp
		}
		return mustJSON(t, e, false) + "\n"
	}
	pod := map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "web"}, "spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "nginx"}}}}
	cm := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": map[string]any{"a": "b"}}
	crb := map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": map[string]any{"name": "ok"},
		"roleRef": map[string]any{"kind": "ClusterRole", "name": "view", "apiGroup": "rbac.authorization.k8s.io"}, "subjects": []any{map[string]any{"kind": "User", "name": "bob"}}}
	jsonPatch := []any{map[string]any{"op": "add", "path": "/subjects/-", "value": map[string]any{"kind": "Group", "name": "system:authenticated"}}}
	tests := []struct {
		name string
		in   string
		want []string // parts of the one blind-spot problem, none when empty
		line int
	}{
		{name: "pod created at Metadata level", in: ev("a1", "create", "", "pods", "", "shop", "web", 201, nil, nil),
			want: []string{"audit/hostnetwork-pod", "cannot tell for 1 request(s)", "pod and workload writes logged without a request body", "create by mallory of pods shop/web"}, line: 1},
		{name: "deployment and job updated at Metadata level", in: ev("ok", "create", "", "pods", "", "shop", "web", 201, pod, nil) +
			ev("a1", "update", "apps", "deployments", "", "shop", "web", 200, nil, nil) + ev("a2", "create", "batch", "jobs", "", "shop", "j", 201, nil, nil),
			want: []string{"audit/privileged-pod", "cannot tell for 2 request(s)", "update by mallory of deployments.apps shop/web"}, line: 2},
		{name: "ClusterRoleBinding created at Metadata level", in: ev("a1", "create", "rbac.authorization.k8s.io", "clusterrolebindings", "", "", "pwn", 201, nil, nil),
			want: []string{"audit/cluster-admin-granted", "more cannot tell for 1 request(s)", "Role, ClusterRole and binding writes logged without a request body"}, line: 1},
		{name: "RBAC JSON patch without its response", in: ev("a1", "patch", "rbac.authorization.k8s.io", "clusterrolebindings", "", "", "ok", 200, jsonPatch, nil),
			want: []string{"a JSON patch logged without its response"}, line: 1},
		{name: "ConfigMap and Service written at Metadata level", in: ev("a1", "patch", "", "configmaps", "", "kube-system", "cfg", 200, nil, nil) + ev("a2", "create", "", "services", "", "shop", "s", 201, nil, nil),
			want: []string{"audit/configmap-credentials", "ConfigMap writes logged without a request body"}, line: 1},
		{name: "bodies logged", in: ev("a1", "create", "", "pods", "", "shop", "web", 201, pod, nil) + ev("a2", "create", "", "configmaps", "", "shop", "c", 201, cm, nil) +
			ev("a3", "create", "rbac.authorization.k8s.io", "clusterrolebindings", "", "", "ok", 201, crb, nil) +
			ev("a4", "patch", "rbac.authorization.k8s.io", "clusterrolebindings", "", "", "ok", 200, jsonPatch, crb)},
		{name: "writes the detections are not about", in: ev("a1", "update", "", "pods", "status", "shop", "web", 200, nil, nil) +
			ev("a2", "create", "", "pods", "", "shop", "web", 403, nil, nil) + ev("a3", "get", "", "configmaps", "", "shop", "c", 200, nil, nil) +
			ev("a4", "delete", "rbac.authorization.k8s.io", "roles", "", "shop", "r", 200, nil, nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, allow := range []bool{false, true} {
				_, a := analyze(t, []byte(tc.in), Reader{AllowUnreadable: allow})
				var blind []finding.Problem
				for _, p := range a.Report.Problems {
					if strings.Contains(p.Message, "cannot tell") {
						blind = append(blind, p)
					}
				}
				if len(tc.want) == 0 {
					if len(blind) > 0 || a.Report.Summary.Errors > 0 {
						t.Errorf("allow=%v: problems %v, want none", allow, a.Report.Problems)
					}
					continue
				}
				if len(blind) == 0 {
					t.Fatalf("allow=%v: no blind-spot problem among %v (findings %d)", allow, a.Report.Problems, len(a.Report.Findings))
				}
				p := blind[0]
				for _, w := range tc.want {
					if !strings.Contains(p.Message, w) {
						t.Errorf("allow=%v: %q lacks %q", allow, p.Message, w)
					}
				}
				wantLevel := finding.LevelError
				if allow {
					wantLevel = finding.LevelWarning
				}
				if p.Level != wantLevel || p.File != "-" || p.Line != tc.line {
					t.Errorf("allow=%v: problem at %s:%d level %s, want -:%d %s", allow, p.File, p.Line, p.Level, tc.line, wantLevel)
				}
				if !allow && a.Report.Summary.Errors == 0 {
					t.Errorf("no error counted: exit code would be 0")
				}
			}
		})
	}
}
