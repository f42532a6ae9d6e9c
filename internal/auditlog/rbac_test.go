package auditlog

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	rbacrules "github.com/palisade-sec/palisade/internal/rules/rbac"
	"github.com/palisade-sec/palisade/internal/testenv"
)

// Audit events as the API server writes them for RBAC writes. The bodies
// are what kubectl sends: `kubectl create clusterrolebinding`, `kubectl
// apply` (create, then a strategic-merge patch carrying the last-applied
// annotation), `kubectl patch --type json`, and client-go writes.
const (
	crbCreateClusterAdmin = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"4d6f2a5e-8c0e-4c51-9d0a-6b0a0f5a1c01","stage":"ResponseComplete","requestURI":"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings?fieldManager=kubectl-create\u0026fieldValidation=Strict","verb":"create","user":{"username":"jane@example.com","groups":["ops","system:authenticated"]},"sourceIPs":["10.0.0.7"],"userAgent":"kubectl/v1.37.2 (linux/amd64) kubernetes/1d3f2a0","objectRef":{"resource":"clusterrolebindings","name":"ops-admin","apiGroup":"rbac.authorization.k8s.io","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201},"requestObject":{"kind":"ClusterRoleBinding","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"ops-admin","creationTimestamp":null},"subjects":[{"kind":"Group","apiGroup":"rbac.authorization.k8s.io","name":"ops"},{"kind":"Group","apiGroup":"rbac.authorization.k8s.io","name":"system:masters"}],"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"}},"responseObject":{"kind":"ClusterRoleBinding","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"ops-admin","uid":"0b7f","resourceVersion":"912","creationTimestamp":"2026-12-06T05:01:02Z"},"subjects":[{"kind":"Group","apiGroup":"rbac.authorization.k8s.io","name":"ops"},{"kind":"Group","apiGroup":"rbac.authorization.k8s.io","name":"system:masters"}],"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"}},"requestReceivedTimestamp":"2026-12-06T05:01:02.101000Z","stageTimestamp":"2026-12-06T05:01:02.109000Z","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding \"cluster-admin\" of ClusterRole \"cluster-admin\" to Group \"system:masters\""}}`

	roleApplyCreate = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"9a1b","stage":"ResponseComplete","requestURI":"/apis/rbac.authorization.k8s.io/v1/namespaces/shop/roles?fieldManager=kubectl-client-side-apply\u0026fieldValidation=Strict","verb":"create","user":{"username":"system:serviceaccount:ci:deployer","groups":["system:serviceaccounts","system:serviceaccounts:ci","system:authenticated"]},"userAgent":"kubectl/v1.37.2","objectRef":{"resource":"roles","namespace":"shop","name":"secrets-admin","apiGroup":"rbac.authorization.k8s.io","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201},"requestObject":{"kind":"Role","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"secrets-admin","namespace":"shop","creationTimestamp":null,"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\",\"metadata\":{\"annotations\":{},\"name\":\"secrets-admin\",\"namespace\":\"shop\"},\"rules\":[{\"apiGroups\":[\"\"],\"resources\":[\"secrets\"],\"verbs\":[\"*\"]}]}\n"}},"rules":[{"verbs":["*"],"apiGroups":[""],"resources":["secrets"]}]},"requestReceivedTimestamp":"2026-12-06T05:02:00.000000Z","stageTimestamp":"2026-12-06T05:02:00.010000Z"}`

	// The second apply: a strategic-merge patch logged at Request level
	// (no response body), whose last-applied annotation holds the whole
	// new role: pods/exec with get only.
	roleApplyPatch = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"9a1c","stage":"ResponseComplete","requestURI":"/apis/rbac.authorization.k8s.io/v1/namespaces/shop/roles/debugger?fieldManager=kubectl-client-side-apply\u0026fieldValidation=Strict","verb":"patch","user":{"username":"jane@example.com","groups":["system:authenticated"]},"userAgent":"kubectl/v1.37.2","objectRef":{"resource":"roles","namespace":"shop","name":"debugger","apiGroup":"rbac.authorization.k8s.io","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestObject":{"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\",\"metadata\":{\"annotations\":{},\"name\":\"debugger\",\"namespace\":\"shop\"},\"rules\":[{\"apiGroups\":[\"\"],\"resources\":[\"pods\",\"pods/log\"],\"verbs\":[\"get\",\"list\"]},{\"apiGroups\":[\"\"],\"resources\":[\"pods/exec\"],\"verbs\":[\"get\"]}]}\n"}},"rules":[{"apiGroups":[""],"resources":["pods","pods/log"],"verbs":["get","list"]},{"apiGroups":[""],"resources":["pods/exec"],"verbs":["get"]}]},"requestReceivedTimestamp":"2026-12-06T05:03:00.000000Z","stageTimestamp":"2026-12-06T05:03:00.010000Z"}`

	// kubectl patch --type json at RequestResponse level: the patch is a
	// list of operations; the response is the role after it.
	clusterRoleJSONPatch = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"77e0","stage":"ResponseComplete","requestURI":"/apis/rbac.authorization.k8s.io/v1/clusterroles/monitoring","verb":"patch","user":{"username":"mallory","groups":["system:authenticated"]},"objectRef":{"resource":"clusterroles","name":"monitoring","apiGroup":"rbac.authorization.k8s.io","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestObject":[{"op":"add","path":"/rules/-","value":{"apiGroups":[""],"resources":["nodes/proxy"],"verbs":["get"]}}],"responseObject":{"kind":"ClusterRole","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"monitoring"},"rules":[{"apiGroups":[""],"resources":["nodes","nodes/metrics"],"verbs":["get","list","watch"]},{"apiGroups":[""],"resources":["nodes/proxy"],"verbs":["get"]}]},"requestReceivedTimestamp":"2026-12-06T05:04:00.000000Z","stageTimestamp":"2026-12-06T05:04:00.010000Z"}`

	// The same JSON patch logged at Request level: nothing to judge.
	clusterRoleJSONPatchNoResponse = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"77e1","stage":"ResponseComplete","requestURI":"/apis/rbac.authorization.k8s.io/v1/clusterroles/monitoring","verb":"patch","user":{"username":"mallory","groups":["system:authenticated"]},"objectRef":{"resource":"clusterroles","name":"monitoring","apiGroup":"rbac.authorization.k8s.io","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestObject":[{"op":"add","path":"/rules/-","value":{"apiGroups":[""],"resources":["nodes/proxy"],"verbs":["get"]}}],"requestReceivedTimestamp":"2026-12-06T05:04:00.000000Z","stageTimestamp":"2026-12-06T05:04:00.010000Z"}`

	// A Helm-installed ingress controller's ClusterRole (client-go
	// create, v1beta1 audit event as older clusters write them).
	ingressClusterRoleV1beta1 = `{"kind":"Event","apiVersion":"audit.k8s.io/v1beta1","metadata":{"creationTimestamp":"2026-12-06T05:05:00Z"},"level":"Request","timestamp":"2026-12-06T05:05:00Z","auditID":"c0de","stage":"ResponseComplete","requestURI":"/apis/rbac.authorization.k8s.io/v1/clusterroles","verb":"create","user":{"username":"helm-operator","groups":["system:authenticated"]},"userAgent":"Helm/3.19.0","objectRef":{"resource":"clusterroles","name":"ingress-nginx","apiGroup":"rbac.authorization.k8s.io","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201},"requestObject":{"kind":"ClusterRole","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"ingress-nginx"},"rules":[{"apiGroups":[""],"resources":["configmaps","endpoints","nodes","pods","secrets","namespaces"],"verbs":["list","watch"]},{"apiGroups":[""],"resources":["nodes"],"verbs":["get"]},{"apiGroups":[""],"resources":["events"],"verbs":["create","patch"]},{"apiGroups":["networking.k8s.io"],"resources":["ingresses/status"],"verbs":["update"]}]},"requestReceivedTimestamp":"2026-12-06T05:05:00.000000Z","stageTimestamp":"2026-12-06T05:05:00.010000Z"}`

	anonymousBinding = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"a11","stage":"ResponseComplete","requestURI":"/apis/rbac.authorization.k8s.io/v1/namespaces/shop/rolebindings","verb":"create","user":{"username":"jane@example.com","groups":["system:authenticated"]},"objectRef":{"resource":"rolebindings","namespace":"shop","name":"anon-pods","apiGroup":"rbac.authorization.k8s.io","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201},"requestObject":{"kind":"RoleBinding","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"anon-pods","namespace":"shop"},"subjects":[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"system:anonymous"},{"kind":"ServiceAccount","name":"default"}],"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"pod-reader"}},"requestReceivedTimestamp":"2026-12-06T05:06:00.000000Z","stageTimestamp":"2026-12-06T05:06:00.010000Z"}`

	// A CI deployer role applied by Argo CD (server-side apply sends the
	// whole object as the patch).
	deployerServerSideApply = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"55aa","stage":"ResponseComplete","requestURI":"/apis/rbac.authorization.k8s.io/v1/clusterroles/ci-deployer?fieldManager=argocd-controller\u0026force=true","verb":"patch","user":{"username":"system:serviceaccount:argocd:argocd-application-controller","groups":["system:serviceaccounts","system:serviceaccounts:argocd","system:authenticated"]},"objectRef":{"resource":"clusterroles","name":"ci-deployer","apiGroup":"rbac.authorization.k8s.io","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestObject":{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"ci-deployer"},"rules":[{"apiGroups":["apps"],"resources":["deployments"],"verbs":["get","list","create","update","patch"]},{"apiGroups":[""],"resources":["configmaps","services"],"verbs":["get","create","update","patch"]},{"apiGroups":["rbac.authorization.k8s.io"],"resources":["rolebindings"],"verbs":["create"]},{"apiGroups":["rbac.authorization.k8s.io"],"resources":["clusterroles"],"verbs":["bind"],"resourceNames":["view"]}]},"requestReceivedTimestamp":"2026-12-06T05:07:00.000000Z","stageTimestamp":"2026-12-06T05:07:00.010000Z"}`

	// An operator's ClusterRole bound to every authenticated identity.
	operatorClusterRole = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"0p1","stage":"ResponseComplete","requestURI":"/apis/rbac.authorization.k8s.io/v1/clusterroles","verb":"create","user":{"username":"jane@example.com","groups":["system:authenticated"]},"objectRef":{"resource":"clusterroles","name":"cert-operator","apiGroup":"rbac.authorization.k8s.io","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201},"requestObject":{"kind":"ClusterRole","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"cert-operator"},"rules":[{"apiGroups":["certificates.k8s.io"],"resources":["certificatesigningrequests","certificatesigningrequests/approval"],"verbs":["get","list","update"]},{"apiGroups":["admissionregistration.k8s.io"],"resources":["validatingwebhookconfigurations"],"verbs":["get","update"]},{"apiGroups":[""],"resources":["serviceaccounts/token"],"verbs":["create"]}]},"requestReceivedTimestamp":"2026-12-06T05:08:00.000000Z","stageTimestamp":"2026-12-06T05:08:00.010000Z"}`

	everyoneBinding = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"0p2","stage":"ResponseComplete","requestURI":"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings","verb":"create","user":{"username":"jane@example.com","groups":["system:authenticated"]},"objectRef":{"resource":"clusterrolebindings","name":"cert-operator","apiGroup":"rbac.authorization.k8s.io","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201},"requestObject":{"kind":"ClusterRoleBinding","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"cert-operator"},"subjects":[{"kind":"Group","apiGroup":"rbac.authorization.k8s.io","name":"system:authenticated"},{"kind":"Group","apiGroup":"rbac.authorization.k8s.io","name":"system:masters"}],"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cert-operator"}},"requestReceivedTimestamp":"2026-12-06T05:09:00.000000Z","stageTimestamp":"2026-12-06T05:09:00.010000Z"}`
)

// rbacCase is an audit event line, optionally edited, and the detections
// it raises with a text each message must contain.
type rbacCase struct {
	name  string
	event string
	edit  func(m map[string]any)
	want  map[string]string
}

var rbacCases = []rbacCase{
	{name: "kubectl create clusterrolebinding --clusterrole=cluster-admin", event: crbCreateClusterAdmin, want: map[string]string{
		"audit/cluster-admin-granted": "jane@example.com did create on clusterrolebindings ops-admin, which grants cluster-admin to Group ops (subjects[0])",
	}},
	{name: "kubectl apply of a new Role", event: roleApplyCreate, want: map[string]string{
		"audit/rbac-secrets-read":  "get secrets (rules[0].verbs)",
		"audit/rbac-secrets-write": "create secrets",
		"audit/rbac-wildcard":      `"*" in verbs`,
	}},
	{name: "kubectl apply patch judged from last-applied", event: roleApplyPatch, want: map[string]string{
		"audit/rbac-exec": "get pods/exec (rules[1].verbs)",
	}},
	{name: "kubectl apply patch that changes only labels", event: roleApplyPatch, edit: func(m map[string]any) {
		body := m["requestObject"].(map[string]any)
		delete(body, "rules")
		body["metadata"].(map[string]any)["labels"] = map[string]any{"team": "shop"}
	}, want: map[string]string{
		"audit/rbac-exec": "get pods/exec (rules[1].verbs)",
	}},
	{name: "json patch judged from the response", event: clusterRoleJSONPatch, want: map[string]string{
		"audit/rbac-nodes-proxy": "mallory did patch on clusterroles monitoring",
	}},
	{name: "json patch without response", event: clusterRoleJSONPatchNoResponse},
	{name: "v1beta1 event of a chart's ClusterRole", event: ingressClusterRoleV1beta1, want: map[string]string{
		"audit/rbac-secrets-read": "list secrets",
	}},
	{name: "binding to anonymous and the default service account", event: anonymousBinding, want: map[string]string{
		"audit/rbac-anonymous-binding":                  "Role pod-reader to User system:anonymous",
		"audit/rbac-default-serviceaccount-permissions": `namespace "shop"`,
	}},
	{name: "server-side apply of a CI deployer", event: deployerServerSideApply, want: map[string]string{
		"audit/rbac-create-workloads":       "create deployments.apps",
		"audit/rbac-kube-system-configmaps": "kube-system included",
		"audit/rbac-roles-write":            "create rolebindings",
		"audit/escalation-rights-granted":   "bind clusterroles",
		"audit/rbac-networking-write":       "create services (rules[1].verbs)",
	}},
	{name: "an operator's ClusterRole", event: operatorClusterRole, want: map[string]string{
		"audit/rbac-csr-approval":         "update certificatesigningrequests/approval",
		"audit/rbac-admission-webhooks":   "update validatingwebhookconfigurations",
		"audit/rbac-serviceaccount-token": "create serviceaccounts/token (rules[2].verbs)",
	}},
	{name: "a storage operator's ClusterRole", event: operatorClusterRole, edit: func(m map[string]any) {
		m["requestObject"].(map[string]any)["rules"] = []any{map[string]any{
			"apiGroups": []any{""}, "resources": []any{"persistentvolumes", "persistentvolumeclaims"}, "verbs": []any{"get", "create"}}}
	}, want: map[string]string{
		"audit/rbac-persistent-volumes-create": "create persistentvolumes (rules[0].verbs)",
	}},
	{name: "bound to everyone", event: everyoneBinding, want: map[string]string{
		"audit/rbac-authenticated-binding":  "ClusterRole cert-operator to Group system:authenticated (subjects[0])",
		"audit/rbac-system-masters-binding": "(subjects[1])",
	}},
	{name: "kubectl create rolebinding --clusterrole=edit", event: anonymousBinding, edit: func(m map[string]any) {
		m["requestObject"] = map[string]any{"roleRef": map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
			"subjects": []any{map[string]any{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "bob"}}}
	}, want: map[string]string{
		"audit/rbac-secrets-read":          "User bob get secrets through ClusterRole edit (roleRef)",
		"audit/rbac-secrets-write":         "create secrets",
		"audit/rbac-exec":                  "pods/exec",
		"audit/escalation-rights-granted":  "impersonate serviceaccounts",
		"audit/rbac-serviceaccount-token":  "create serviceaccounts/token",
		"audit/rbac-create-workloads":      "create pods",
		"audit/rbac-networking-write":      "User bob create services through ClusterRole edit",
		"audit/rbac-delete-logs-or-events": "User bob delete events through ClusterRole edit",
	}},
	{name: "kubectl create clusterrolebinding --clusterrole=view", event: crbCreateClusterAdmin, edit: func(m map[string]any) {
		for _, k := range []string{"requestObject", "responseObject"} {
			m[k].(map[string]any)["roleRef"].(map[string]any)["name"] = "view"
			m[k].(map[string]any)["subjects"] = []any{map[string]any{"kind": "Group", "name": "ops"}}
		}
	}},
	{name: "kubectl patch of a binding's subjects only", event: anonymousBinding, edit: func(m map[string]any) {
		m["verb"] = "patch"
		m["requestObject"] = map[string]any{"subjects": []any{map[string]any{"kind": "Group", "name": "system:unauthenticated"}}}
	}, want: map[string]string{
		"audit/rbac-anonymous-binding": "its role to Group system:unauthenticated (subjects[0])",
	}},
	{name: "forbidden", event: roleApplyCreate, edit: func(m map[string]any) { m["responseStatus"] = map[string]any{"code": 403} }},
	{name: "written by the control plane", event: roleApplyCreate, edit: func(m map[string]any) {
		m["user"] = map[string]any{"username": "system:serviceaccount:kube-system:clusterrole-aggregation-controller"}
	}},
	{name: "metadata level", event: roleApplyCreate, edit: func(m map[string]any) {
		delete(m, "requestObject")
		m["level"] = "Metadata"
	}},
	{name: "read, not written", event: roleApplyCreate, edit: func(m map[string]any) { m["verb"] = "get" }},
	{name: "built-in discovery binding", event: anonymousBinding, edit: func(m map[string]any) {
		m["requestObject"] = map[string]any{"roleRef": map[string]any{"kind": "ClusterRole", "name": "system:public-info-viewer"},
			"subjects": []any{map[string]any{"kind": "Group", "name": "system:unauthenticated"}}}
	}},
	{name: "stage before the response", event: roleApplyCreate, edit: func(m map[string]any) { m["stage"] = "RequestReceived" }},
	{name: "status subresource", event: roleApplyCreate, edit: func(m map[string]any) {
		m["objectRef"].(map[string]any)["subresource"] = "status"
	}},
}

// TestRBACDetections: RBAC writes in the audit stream are judged by the
// rbac rules' own functions, through the engine as 'auditlog analyze'
// runs them.
func TestRBACDetections(t *testing.T) {
	for _, tt := range rbacCases {
		t.Run(tt.name, func(t *testing.T) {
			// An engine per case: cases edit one event, keeping its auditID,
			// and one engine judges a request once.
			engine, err := NewEngine(EngineOptions{})
			if err != nil {
				t.Fatal(err)
			}
			line := tt.event
			if tt.edit != nil {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatal(err)
				}
				tt.edit(m)
				b, err := json.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				line = string(b)
			}
			var e Event
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, f := range engine.Observe(Record{Event: &e, File: "audit.log", Line: 1}) {
				got[f.RuleID] = f.Message
			}
			for id, text := range tt.want {
				msg, ok := got[id]
				if !ok {
					t.Errorf("%s did not fire; got %v", id, got)
				} else if !strings.Contains(msg, text) {
					t.Errorf("%s: message %q lacks %q", id, msg, text)
				}
			}
			for id, msg := range got {
				if _, ok := tt.want[id]; !ok {
					t.Errorf("unexpected %s: %s", id, msg)
				}
			}
		})
	}
}

// TestRBACDetectionsMirrorRules: every rbac rule has its audit detection,
// with the rule's severity, and every one is exercised above.
func TestRBACDetectionsMirrorRules(t *testing.T) {
	byID := map[string]*Detection{}
	for _, d := range Builtin() {
		byID[d.ID] = d
	}
	var missing []string
	for _, r := range rbacrules.Rules() {
		d, ok := byID[RBACDetectionID(r.ID)]
		switch {
		case !ok:
			missing = append(missing, r.ID)
		case d.Severity != r.Severity:
			t.Errorf("%s: severity %s, rule %s has %s", d.ID, d.Severity, r.ID, r.Severity)
		case !coveredByRBACTest(d.ID):
			t.Errorf("%s has no case in TestRBACDetections", d.ID)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("rbac rules without an audit detection: %v", missing)
	}
}

// coveredByRBACTest reports the detections a case of TestRBACDetections
// raises; TestBuiltinDetections leaves them to it.
func coveredByRBACTest(id string) bool {
	for _, c := range rbacCases {
		if _, ok := c.want[id]; ok {
			return true
		}
	}
	return false
}

// FuzzRBACDetections: any event line, however malformed its RBAC bodies
// (wrong types, JSON patches, hostile last-applied annotations), is
// judged without panicking. Seeds: testdata/fuzz/FuzzRBACDetections and
// the cases above.
func FuzzRBACDetections(f *testing.F) {
	for _, c := range rbacCases {
		f.Add([]byte(c.event))
	}
	detections := rbacDetections()
	f.Fuzz(func(t *testing.T, line []byte) {
		var e Event
		if json.Unmarshal(line, &e) != nil {
			return
		}
		for _, d := range detections {
			d.Match(&e)
		}
	})
}

// rbacRequestResponsePolicy logs RBAC writes with their response bodies,
// so patches are judged from the object they left.
const rbacRequestResponsePolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: RequestResponse
  verbs: [create, update, patch]
  resources:
  - group: rbac.authorization.k8s.io
- level: Metadata
`

// TestRBACWritesAgainstRealAPIServer: RBAC writes made the ways kubectl
// and controllers make them (create, client-side apply's strategic-merge
// patch, server-side apply, a JSON patch), as a real kube-apiserver logs
// them under the recommended policy and under one that logs responses.
func TestRBACWritesAgainstRealAPIServer(t *testing.T) {
	testenv.Require(t)
	// What both policies show: creates, and patches whose body is the
	// new object (client-side and server-side apply).
	judged := map[string]string{
		"audit/cluster-admin-granted":       "cluster-admin to Group ops",
		"audit/rbac-secrets-read":           "on roles shop/secrets-admin, which grants get secrets",
		"audit/rbac-secrets-write":          "create secrets",
		"audit/rbac-wildcard":               `"*" in verbs`,
		"audit/rbac-exec":                   "on roles shop/debugger, which grants get pods/exec",
		"audit/rbac-create-workloads":       "on clusterroles ci-deployer, which grants create deployments.apps",
		"audit/rbac-kube-system-configmaps": "update configmaps",
		"audit/escalation-rights-granted":   "User bob impersonate serviceaccounts through ClusterRole edit",
		"audit/rbac-serviceaccount-token":   "User bob create serviceaccounts/token through ClusterRole edit",
		"audit/rbac-networking-write":       "User bob create services through ClusterRole edit",
		"audit/rbac-delete-logs-or-events":  "User bob delete events through ClusterRole edit",
	}
	withResponses := map[string]string{
		// The JSON patch adding nodes/proxy is judged from the response
		// only: at Request level there is none.
		"audit/rbac-nodes-proxy": "did patch on clusterroles monitoring, which grants get nodes/proxy",
	}
	for id, text := range judged {
		withResponses[id] = text
	}
	for _, tt := range []struct {
		name, policy string
		want         map[string]string // detection ID -> text in one of its messages
	}{
		{"recommended policy", RecommendedPolicy, judged},
		{"responses logged", rbacRequestResponsePolicy, withResponses},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := testenv.Start(t, testenv.Options{Audit: &testenv.AuditOptions{Policy: tt.policy}})
			ctx := context.Background()
			admin := env.AdminClient(t)
			env.CreateNamespace(ctx, t, "shop", nil)
			must := func(_ any, err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			rbacGroup := rbacv1.GroupName
			// kubectl create clusterrolebinding ops-admin --clusterrole=cluster-admin --group=ops
			must(admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "ops-admin"},
				RoleRef:  rbacv1.RoleRef{APIGroup: rbacGroup, Kind: "ClusterRole", Name: "cluster-admin"},
				Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: rbacGroup, Name: "ops"}}}, metav1.CreateOptions{}))
			// kubectl apply of a new Role: a create carrying the last-applied annotation.
			must(admin.RbacV1().Roles("shop").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "secrets-admin",
				Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"secrets-admin","namespace":"shop"},"rules":[{"apiGroups":[""],"resources":["secrets"],"verbs":["*"]}]}`}},
				Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"*"}}}}, metav1.CreateOptions{}))
			// kubectl apply of a changed Role: a strategic-merge patch.
			must(admin.RbacV1().Roles("shop").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "debugger"},
				Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}}}, metav1.CreateOptions{}))
			applied := `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"debugger","namespace":"shop"},"rules":[{"apiGroups":[""],"resources":["pods","pods/log"],"verbs":["get","list"]},{"apiGroups":[""],"resources":["pods/exec"],"verbs":["get"]}]}`
			patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{"kubectl.kubernetes.io/last-applied-configuration": applied}},
				"rules": []any{map[string]any{"apiGroups": []string{""}, "resources": []string{"pods", "pods/log"}, "verbs": []string{"get", "list"}},
					map[string]any{"apiGroups": []string{""}, "resources": []string{"pods/exec"}, "verbs": []string{"get"}}}})
			must(admin.RbacV1().Roles("shop").Patch(ctx, "debugger", types.StrategicMergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-client-side-apply"}))
			// Server-side apply of a CI deployer's ClusterRole (as Argo CD and kubectl --server-side do).
			ssa := []byte(`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"ci-deployer"},"rules":[{"apiGroups":["apps"],"resources":["deployments"],"verbs":["get","create","update"]},{"apiGroups":[""],"resources":["configmaps"],"verbs":["get","update"]}]}`)
			must(admin.RbacV1().ClusterRoles().Patch(ctx, "ci-deployer", types.ApplyPatchType, ssa, metav1.PatchOptions{FieldManager: "argocd-controller", Force: ptrTo(true)}))
			// kubectl create rolebinding bob-edit --clusterrole=edit --user=bob -n shop
			must(admin.RbacV1().RoleBindings("shop").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "bob-edit"},
				RoleRef:  rbacv1.RoleRef{APIGroup: rbacGroup, Kind: "ClusterRole", Name: "edit"},
				Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacGroup, Name: "bob"}}}, metav1.CreateOptions{}))
			// kubectl patch clusterrole monitoring --type json: nodes/proxy added.
			must(admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "monitoring"},
				Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes", "nodes/metrics"}, Verbs: []string{"get", "list"}}}}, metav1.CreateOptions{}))
			must(admin.RbacV1().ClusterRoles().Patch(ctx, "monitoring", types.JSONPatchType,
				[]byte(`[{"op":"add","path":"/rules/-","value":{"apiGroups":[""],"resources":["nodes/proxy"],"verbs":["get"]}}]`), metav1.PatchOptions{}))

			engine, err := NewEngine(EngineOptions{})
			if err != nil {
				t.Fatal(err)
			}
			a, err := Analyze(ctx, engine, Reader{}, []string{env.AuditLogPath}, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for _, f := range a.Report.Findings {
				if strings.HasPrefix(f.RuleID, "audit/rbac-") || f.RuleID == "audit/cluster-admin-granted" || f.RuleID == "audit/escalation-rights-granted" {
					got[f.RuleID] = append(got[f.RuleID], f.Message)
				}
			}
			for id, text := range tt.want {
				if msgs := strings.Join(got[id], "\n"); !strings.Contains(msgs, text) {
					t.Errorf("%s: no message with %q in %q", id, text, msgs)
				}
			}
			for id, msgs := range got {
				if _, ok := tt.want[id]; !ok {
					t.Errorf("unexpected %s: %v", id, msgs)
				}
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }
