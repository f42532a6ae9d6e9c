package auditlog

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// ev builds an audit event line as the API server writes it.
func ev(user, verb, group, resource, sub, ns, name string, code int, body string) *Event {
	e := map[string]any{
		"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Request", "auditID": fmt.Sprintf("%s-%s-%s", user, verb, name),
		"stage": "ResponseComplete", "verb": verb, "requestURI": "/api/v1/x",
		"user":                     map[string]any{"username": user, "groups": []string{"system:authenticated"}},
		"objectRef":                map[string]any{"resource": resource, "apiGroup": group, "subresource": sub, "namespace": ns, "name": name, "apiVersion": "v1"},
		"responseStatus":           map[string]any{"code": code},
		"requestReceivedTimestamp": "2026-11-25T10:00:00.000000Z",
		"stageTimestamp":           "2026-11-25T10:00:00.100000Z",
	}
	if body != "" {
		e["requestObject"] = json.RawMessage(body)
	}
	b, _ := json.Marshal(e)
	out, reason := parseEvent(b)
	if out == nil {
		panic(reason)
	}
	return out
}

const (
	alice = "alice@example.com"
	sa    = "system:serviceaccount:shop:api"
	kcm   = "system:kube-controller-manager"
)

func TestBuiltinDetections(t *testing.T) {
	privPod := `{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"name":"a","image":"x","securityContext":{"privileged":true}}]}}`
	plainPod := `{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"name":"a","image":"x"}]}}`
	hostPathDeploy := `{"apiVersion":"apps/v1","kind":"Deployment","spec":{"template":{"spec":{"containers":[{"name":"a","image":"x"}],"volumes":[{"name":"h","hostPath":{"path":"/etc"}}]}}}}`
	hostNetCron := `{"apiVersion":"batch/v1","kind":"CronJob","spec":{"jobTemplate":{"spec":{"template":{"spec":{"hostNetwork":true,"containers":[{"name":"a","image":"x"}]}}}}}}`
	hostPIDJob := `{"apiVersion":"batch/v1","kind":"Job","spec":{"template":{"spec":{"hostPID":true,"containers":[{"name":"a","image":"x"}]}}}}`
	crbAdmin := `{"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},"subjects":[{"kind":"User","name":"mallory"}]}`
	crbView := `{"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},"subjects":[{"kind":"User","name":"bob"}]}`
	escalate := `{"rules":[{"apiGroups":["rbac.authorization.k8s.io"],"resources":["clusterroles"],"verbs":["escalate"]}]}`
	readOnly := `{"rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get","list"]}]}`
	nodePort := `{"spec":{"type":"NodePort","ports":[{"port":80}]}}`
	clusterIP := `{"spec":{"type":"ClusterIP","ports":[{"port":80}]}}`
	cmCreds := `{"data":{"DB_PASSWORD":"Pr0d-s3cret-pa55","mode":"fast"}}`
	cmPlain := `{"data":{"mode":"fast","PASSWORD_FILE":"/run/secrets/db"}}`

	impersonated := ev(alice, "get", "", "pods", "", "shop", "p", 200, "")
	impersonated.ImpersonatedUser = &User{Username: "bob"}

	tests := []struct {
		id            string
		fires, benign []*Event
	}{
		{"audit/secret-read",
			[]*Event{ev(alice, "get", "", "secrets", "", "shop", "db", 200, ""), ev(sa, "list", "", "secrets", "", "shop", "", 200, "")},
			[]*Event{ev(kcm, "get", "", "secrets", "", "shop", "db", 200, ""), ev(alice, "get", "", "secrets", "", "shop", "db", 403, ""), ev(alice, "get", "", "configmaps", "", "shop", "c", 200, ""),
				ev("system:serviceaccount:kube-system:generic-garbage-collector", "list", "", "secrets", "", "shop", "", 200, "")}},
		{"audit/secret-list-all-namespaces",
			[]*Event{ev(alice, "list", "", "secrets", "", "", "", 200, "")},
			[]*Event{ev(alice, "list", "", "secrets", "", "shop", "", 200, ""), ev(kcm, "list", "", "secrets", "", "", "", 200, "")}},
		{"audit/pod-exec",
			[]*Event{ev(alice, "create", "", "pods", "exec", "shop", "p", 101, ""), ev(alice, "create", "", "pods", "exec", "shop", "p", 400, "")},
			[]*Event{ev(alice, "create", "", "pods", "", "shop", "p", 201, ""), ev(alice, "get", "", "pods", "log", "shop", "p", 200, "")}},
		{"audit/pod-attach", []*Event{ev(alice, "create", "", "pods", "attach", "shop", "p", 101, "")}, []*Event{ev(alice, "create", "", "pods", "exec", "shop", "p", 101, "")}},
		{"audit/pod-portforward", []*Event{ev(alice, "create", "", "pods", "portforward", "shop", "p", 101, "")}, []*Event{ev(alice, "get", "", "pods", "", "shop", "p", 200, "")}},
		{"audit/ephemeral-container", []*Event{ev(alice, "patch", "", "pods", "ephemeralcontainers", "shop", "p", 200, "")}, []*Event{ev(alice, "patch", "", "pods", "", "shop", "p", 200, "")}},
		{"audit/anonymous-allowed",
			[]*Event{ev("system:anonymous", "get", "", "pods", "", "shop", "", 200, "")},
			[]*Event{ev("system:anonymous", "get", "", "pods", "", "shop", "", 403, ""), func() *Event {
				e := ev("system:anonymous", "get", "", "", "", "", "", 200, "")
				e.ObjectRef, e.RequestURI = nil, "/healthz"
				return e
			}()}},
		{"audit/privileged-pod", []*Event{ev(alice, "create", "", "pods", "", "shop", "p", 201, privPod)}, []*Event{ev(alice, "create", "", "pods", "", "shop", "p", 201, plainPod), ev(alice, "create", "", "pods", "", "shop", "p", 403, privPod)}},
		{"audit/hostpath-pod", []*Event{ev(alice, "create", "apps", "deployments", "", "shop", "d", 201, hostPathDeploy)}, []*Event{ev(alice, "create", "", "pods", "", "shop", "p", 201, plainPod)}},
		{"audit/hostnetwork-pod", []*Event{ev(alice, "create", "batch", "cronjobs", "", "shop", "c", 201, hostNetCron)}, []*Event{ev(alice, "create", "", "pods", "", "shop", "p", 201, plainPod)}},
		{"audit/hostpid-pod", []*Event{ev(alice, "create", "batch", "jobs", "", "shop", "j", 201, hostPIDJob)}, []*Event{ev(alice, "create", "", "pods", "", "shop", "p", 201, privPod)}},
		{"audit/cluster-admin-granted", []*Event{ev(alice, "create", "rbac.authorization.k8s.io", "clusterrolebindings", "", "", "b", 201, crbAdmin)}, []*Event{ev(alice, "create", "rbac.authorization.k8s.io", "clusterrolebindings", "", "", "b", 201, crbView)}},
		{"audit/escalation-rights-granted", []*Event{ev(alice, "create", "rbac.authorization.k8s.io", "clusterroles", "", "", "r", 201, escalate)}, []*Event{ev(alice, "create", "rbac.authorization.k8s.io", "clusterroles", "", "", "r", 201, readOnly), ev(kcm, "update", "rbac.authorization.k8s.io", "clusterroles", "", "", "r", 200, escalate)}},
		{"audit/admission-webhook-changed", []*Event{ev(alice, "delete", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", "", "palisade", 200, "")}, []*Event{ev(alice, "get", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", "", "palisade", 200, "")}},
		{"audit/token-for-other-sa", []*Event{ev(alice, "create", "", "serviceaccounts", "token", "shop", "api", 201, "")}, []*Event{ev(sa, "create", "", "serviceaccounts", "token", "shop", "api", 201, "")}},
		{"audit/node-proxy", []*Event{ev(alice, "get", "", "nodes", "proxy", "", "node-1", 200, "")}, []*Event{ev("system:node:node-1", "get", "", "nodes", "proxy", "", "node-1", 200, ""), ev(alice, "get", "", "nodes", "", "", "node-1", 200, "")}},
		{"audit/csr-approved", []*Event{ev(alice, "update", "certificates.k8s.io", "certificatesigningrequests", "approval", "", "csr-1", 200, "")}, []*Event{ev(kcm, "update", "certificates.k8s.io", "certificatesigningrequests", "approval", "", "csr-1", 200, "")}},
		{"audit/nodeport-service", []*Event{ev(alice, "create", "", "services", "", "shop", "s", 201, nodePort)}, []*Event{ev(alice, "create", "", "services", "", "shop", "s", 201, clusterIP)}},
		{"audit/configmap-credentials", []*Event{ev(alice, "create", "", "configmaps", "", "shop", "c", 201, cmCreds)}, []*Event{ev(alice, "create", "", "configmaps", "", "shop", "c", 201, cmPlain)}},
		{"audit/impersonation", []*Event{impersonated}, []*Event{ev(alice, "get", "", "pods", "", "shop", "p", 200, "")}},
		{"audit/kube-system-workload-by-user", []*Event{ev(alice, "create", "apps", "daemonsets", "", "kube-system", "x", 201, "")}, []*Event{ev(kcm, "create", "apps", "daemonsets", "", "kube-system", "x", 201, ""), ev(alice, "create", "apps", "daemonsets", "", "shop", "x", 201, "")}},
		{"audit/audit-policy-evasion", []*Event{ev(alice, "deletecollection", "", "events", "", "shop", "", 200, "")}, []*Event{ev(alice, "list", "", "events", "", "shop", "", 200, "")}},
	}
	tested := map[string]bool{}
	byID := map[string]*Detection{}
	for _, d := range Builtin() {
		byID[d.ID] = d
	}
	for _, tt := range tests {
		tested[tt.id] = true
		d, ok := byID[tt.id]
		if !ok {
			t.Fatalf("no detection %s", tt.id)
		}
		for i, e := range tt.fires {
			if msg := d.Match(e); msg == "" {
				t.Errorf("%s did not fire on case %d (%s %s by %s)", tt.id, i, e.Verb, e.Resource(), e.User.Username)
			} else if strings.Contains(msg, "Pr0d-s3cret-pa55") {
				t.Errorf("%s message shows a secret: %s", tt.id, msg)
			}
		}
		for i, e := range tt.benign {
			if msg := d.Match(e); msg != "" {
				t.Errorf("%s fired on benign case %d: %s", tt.id, i, msg)
			}
		}
	}
	for id := range byID {
		if !tested[id] && !coveredByRBACTest(id) {
			t.Errorf("detection %s has no test case", id)
		}
	}
	if n := len(byID) + 1; n < 20 { // + forbidden-burst
		t.Errorf("only %d built-in detections", n)
	}
}

func TestForbiddenBurst(t *testing.T) {
	e, err := NewEngine(EngineOptions{BurstThreshold: 5, BurstWindow: time.Minute, Select: []string{"audit/forbidden-burst"}})
	if err != nil {
		t.Fatal(err)
	}
	fired := 0
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for i := range 12 {
		x := ev("mallory", "list", "", "secrets", "", "shop", "", 403, "")
		x.StageTimestamp = base.Add(time.Duration(i) * time.Second)
		x.AuditID = fmt.Sprint("burst-", i) // twelve requests, not one
		fired += len(e.Observe(Record{Event: x}))
	}
	if fired != 1 {
		t.Errorf("fired %d times for 12 denials in 12s, want once per window", fired)
	}
	// Spread out: 5 denials over 10 minutes never reach the threshold in a minute.
	e2, _ := NewEngine(EngineOptions{BurstThreshold: 5, BurstWindow: time.Minute, Select: []string{"audit/forbidden-burst"}})
	for i := range 5 {
		x := ev("slow", "list", "", "secrets", "", "shop", "", 403, "")
		x.StageTimestamp = base.Add(time.Duration(i) * 2 * time.Minute)
		x.AuditID = fmt.Sprint("slow-", i)
		if fs := e2.Observe(Record{Event: x}); len(fs) > 0 {
			t.Errorf("fired on spread-out denials: %v", fs)
		}
	}
}

func TestBurstTrackerIsBounded(t *testing.T) {
	b := newBurstTracker(3, time.Minute)
	for i := range maxTrackedIdentities + 500 {
		b.add(fmt.Sprintf("user-%d", i), time.Unix(int64(i), 0))
	}
	if len(b.ids) > maxTrackedIdentities {
		t.Errorf("tracking %d identities", len(b.ids))
	}
}

func TestCustomDetection(t *testing.T) {
	ds, err := CompileCustom([]CustomSpec{{
		ID: "namespace-deleted", Severity: "HIGH", Expression: "event.verb == 'delete' && event.objectRef.resource == 'namespaces'",
		MessageExpression: "event.user.username + ' deleted namespace ' + event.objectRef.name + ' with code ' + string(event.responseStatus.code)",
	}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(EngineOptions{Custom: ds, Select: []string{"custom/*"}})
	if err != nil {
		t.Fatal(err)
	}
	fs := e.Observe(Record{Event: ev(alice, "delete", "", "namespaces", "", "", "shop", 200, "")})
	if len(fs) != 1 || fs[0].RuleID != "custom/namespace-deleted" || !strings.HasPrefix(fs[0].Message, alice+" deleted namespace shop with code 200") {
		t.Errorf("findings = %+v", fs)
	}
	if fs := e.Observe(Record{Event: ev(alice, "get", "", "namespaces", "", "", "shop", 200, "")}); len(fs) != 0 {
		t.Errorf("fired on get: %v", fs)
	}
	for _, bad := range []CustomSpec{{ID: "x", Expression: "event.verb =="}, {ID: "x", Expression: "'a'"}, {ID: "", Expression: "true"}, {ID: "x", Expression: "true", Severity: "bad"}} {
		if _, err := CompileCustom([]CustomSpec{bad}); err == nil {
			t.Errorf("CompileCustom(%+v) succeeded", bad)
		}
	}
}
