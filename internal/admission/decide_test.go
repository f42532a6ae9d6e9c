package admission

import (
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

const decidePolicy = policyHeader + `spec:
  mode: enforce
  podSecurity: {level: baseline}
  rules: [pss-restricted, hardening/latest-tag]
  overrides:
  - rules: [hardening/latest-tag]
    mode: warn
  - namespaces: ["lab-*"]
    mode: audit
  - namespaces: [strict]
    podSecurityLevel: restricted
  images:
    allowedRegistries: [registry.example.com]
  exemptions:
    namespaces: [kube-system, palisade-system]
    usernames: ["system:serviceaccount:ops:*"]
    groups: [breakers]
    breakGlass: true
    breakGlassGroups: ["oncall-*"]
    annotationGroups: ["platform-*"]
  customRules:
  - id: team-label
    severity: LOW
    match: {kinds: [Deployment]}
    validations:
    - expression: "has(object.metadata.labels) && 'team' in object.metadata.labels"
      message: every Deployment names its team
  exceptions:
  - rules: [pss/host-ports]
    namespaces: [edge]
    reason: the gateway binds a host port
`

func TestDecisions(t *testing.T) {
	ts := newTestServer(t, decidePolicy, Options{})
	good := "registry.example.com/app:1.0@sha256:" + strings.Repeat("a", 64)
	team := func(d runtime.Object) runtime.Object {
		d.(metav1.Object).SetLabels(map[string]string{"team": "a"})
		return d
	}
	hostPort := container("web", good)
	hostPort.Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80}}

	tests := []struct {
		name      string
		obj       runtime.Object
		gvk       metav1.GroupVersionKind
		ns        string
		o         reviewOpts
		allowed   bool
		message   []string // all in the denial message
		warnings  []string // each in some warning
		audit     string   // in the audit annotations
		eventType string
	}{
		{name: "good deployment", obj: team(deployment("ok", nil, container("a", good))), gvk: deploymentGVK, ns: "prod", allowed: true},
		{name: "privileged deployment", obj: team(deployment("priv", nil, privileged(container("a", good)))), gvk: deploymentGVK, ns: "prod",
			message: []string{"[pss/privileged]", `container "a"`, "Deployment prod/priv"}, eventType: EventDenied},
		{name: "registry not allowed", obj: team(deployment("reg", nil, container("a", "docker.io/library/nginx:1.27"))), gvk: deploymentGVK, ns: "prod",
			message: []string{"[hardening/registry-not-allowed]", "docker.io"}, eventType: EventDenied},
		{name: "latest tag warns", obj: team(deployment("latest", nil, container("a", "registry.example.com/app"))), gvk: deploymentGVK, ns: "prod", allowed: true,
			warnings: []string{"[hardening/latest-tag]"}, eventType: EventWarned},
		{name: "custom CEL rule denies", obj: deployment("noteam", nil, container("a", good)), gvk: deploymentGVK, ns: "prod",
			message: []string{"[custom/team-label] every Deployment names its team"}, eventType: EventDenied},
		{name: "audit namespace", obj: team(deployment("lab", nil, privileged(container("a", good)))), gvk: deploymentGVK, ns: "lab-1", allowed: true,
			audit: "pss/privileged", eventType: EventAudited},
		{name: "restricted namespace level", obj: pod("p", container("a", good)), gvk: podGVK, ns: "strict",
			message: []string{"[pss/run-as-non-root]"}, eventType: EventDenied},
		{name: "baseline namespace passes the same pod", obj: pod("p", container("a", good)), gvk: podGVK, ns: "prod", allowed: true},
		{name: "policy exception", obj: pod("gw", hostPort), gvk: podGVK, ns: "edge", allowed: true},
		{name: "no exception elsewhere", obj: pod("gw", hostPort), gvk: podGVK, ns: "prod", message: []string{"[pss/host-ports]"}, eventType: EventDenied},
		{name: "annotation exemption by a trusted group", obj: func() runtime.Object {
			p := pod("x", privileged(container("a", good)))
			p.Annotations = map[string]string{"palisade.io/exempt": "pss/privileged: device plugin"}
			return p
		}(), gvk: podGVK, ns: "prod", o: reviewOpts{groups: []string{"platform-team"}}, allowed: true},
		// The annotation is the requester's own: anyone else's is
		// ignored, or every rule could be exempted by whoever is judged.
		{name: "annotation exemption by another requester is ignored", obj: func() runtime.Object {
			p := pod("x", privileged(container("a", good)))
			p.Annotations = map[string]string{"palisade.io/exempt": "pss/privileged: device plugin"}
			return p
		}(), gvk: podGVK, ns: "prod", o: reviewOpts{groups: []string{"developers"}}, message: []string{"[pss/privileged]"},
			warnings: []string{"palisade.io/exempt annotation ignored", "annotationGroups"}, eventType: EventDenied},
		{name: "wildcard annotation exemption by a requester without groups is ignored", obj: func() runtime.Object {
			p := pod("x", privileged(container("a", "evil.example/x:1")))
			p.Annotations = map[string]string{"palisade.io/exempt": "*: trust me"}
			return p
		}(), gvk: podGVK, ns: "prod", message: []string{"[pss/privileged]", "[hardening/registry-not-allowed]"},
			warnings: []string{"palisade.io/exempt annotation ignored"}, eventType: EventDenied},
		{name: "pod template annotation exemption by another requester is ignored", obj: func() runtime.Object {
			d := team(deployment("tpl", nil, privileged(container("a", good)))).(*appsv1.Deployment)
			d.Spec.Template.Annotations = map[string]string{"palisade.io/exempt": "pss/*: legacy"}
			return d
		}(), gvk: deploymentGVK, ns: "prod", o: reviewOpts{groups: []string{"developers"}}, message: []string{"[pss/privileged]"},
			warnings: []string{"palisade.io/exempt annotation ignored"}, eventType: EventDenied},
		{name: "exempt namespace", obj: pod("p", privileged(container("a", "evil.example/x"))), gvk: podGVK, ns: "kube-system", allowed: true},
		{name: "exempt user", obj: pod("p", privileged(container("a", good))), gvk: podGVK, ns: "prod", o: reviewOpts{user: "system:serviceaccount:ops:deployer"}, allowed: true},
		{name: "exempt group", obj: pod("p", privileged(container("a", good))), gvk: podGVK, ns: "prod", o: reviewOpts{groups: []string{"breakers"}}, allowed: true},
		{name: "break-glass admits and reports", obj: team(deployment("bg", map[string]string{BreakGlassAnnotation: "INC-42 outage"}, privileged(container("a", good)))),
			gvk: deploymentGVK, ns: "prod", o: reviewOpts{groups: []string{"oncall-sre"}}, allowed: true, warnings: []string{"break-glass annotation used (INC-42 outage)", "[pss/privileged]"},
			audit: "INC-42", eventType: EventBreakGlass},
		{name: "break-glass without violations still reported", obj: team(deployment("bg2", map[string]string{BreakGlassAnnotation: "drill"}, container("a", good))),
			gvk: deploymentGVK, ns: "prod", o: reviewOpts{groups: []string{"oncall-sre"}}, allowed: true, warnings: []string{"break-glass"}, eventType: EventBreakGlass},
		{name: "empty break-glass reason does not count", obj: team(deployment("bg3", map[string]string{BreakGlassAnnotation: " "}, privileged(container("a", good)))),
			gvk: deploymentGVK, ns: "prod", o: reviewOpts{groups: []string{"oncall-sre"}}, message: []string{"[pss/privileged]"}, eventType: EventDenied},
		{name: "break-glass outside its groups is denied and reported", obj: team(deployment("bg4", map[string]string{BreakGlassAnnotation: "INC-43"}, privileged(container("a", good)))),
			gvk: deploymentGVK, ns: "prod", o: reviewOpts{groups: []string{"developers"}}, message: []string{"[pss/privileged]"},
			warnings: []string{"break-glass annotation ignored (INC-43)", "breakGlassGroups"}, eventType: EventDenied},
		{name: "break-glass attempt on a clean object is still an event", obj: team(deployment("bg5", map[string]string{BreakGlassAnnotation: "try"}, container("a", good))),
			gvk: deploymentGVK, ns: "prod", allowed: true, warnings: []string{"break-glass annotation ignored (try)"}, eventType: EventBreakGlassRefused},
		{name: "delete skipped", obj: pod("p", privileged(container("a", good))), gvk: podGVK, ns: "prod", o: reviewOpts{op: admissionv1.Delete}, allowed: true},
		{name: "status subresource skipped", obj: pod("p", privileged(container("a", good))), gvk: podGVK, ns: "prod", o: reviewOpts{sub: "status"}, allowed: true},
		{name: "unknown kind allowed", obj: &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: metav1.ObjectMeta{Name: "c"}},
			gvk: metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, ns: "prod", allowed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(ts.events.all())
			resp, code, body := ts.post(t, EndpointValidate, reviewFor(t, tt.obj, tt.gvk, tt.ns, tt.o))
			if code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			if resp.Allowed != tt.allowed {
				t.Fatalf("allowed = %v, want %v: %s", resp.Allowed, tt.allowed, body)
			}
			if !tt.allowed {
				if resp.Result == nil || resp.Result.Code != 403 {
					t.Fatalf("denial without 403 status: %s", body)
				}
				for _, m := range tt.message {
					if !strings.Contains(resp.Result.Message, m) {
						t.Errorf("message %q lacks %q", resp.Result.Message, m)
					}
				}
			}
			for _, w := range tt.warnings {
				found := false
				for _, got := range resp.Warnings {
					found = found || strings.Contains(got, w)
				}
				if !found {
					t.Errorf("warnings %q lack %q", resp.Warnings, w)
				}
			}
			if tt.warnings == nil && len(resp.Warnings) > 0 {
				t.Errorf("unexpected warnings %q", resp.Warnings)
			}
			if tt.audit != "" {
				all := ""
				for _, v := range resp.AuditAnnotations {
					all += v
				}
				if !strings.Contains(all, tt.audit) {
					t.Errorf("audit annotations %v lack %q", resp.AuditAnnotations, tt.audit)
				}
			}
			evs := ts.events.all()[before:]
			switch {
			case tt.eventType == "" && len(evs) > 0:
				t.Errorf("unexpected event %+v", evs[0])
			case tt.eventType != "" && (len(evs) != 1 || evs[0].Type != tt.eventType):
				t.Errorf("events %+v, want one %s", evs, tt.eventType)
			case tt.eventType != "":
				e := evs[0]
				if e.Schema != EventSchemaVersion || e.UID == "" || e.Namespace != tt.ns || e.Allowed != tt.allowed || e.Policy != "t" || len(e.PolicyHash) != 64 {
					t.Errorf("event fields: %+v", e)
				}
				if bg := tt.obj.(metav1.Object).GetAnnotations()[BreakGlassAnnotation]; strings.TrimSpace(bg) != "" && e.BreakGlassReason != bg {
					t.Errorf("event break-glass reason %q, want %q", e.BreakGlassReason, bg)
				}
			}
		})
	}
	if !strings.Contains(ts.log.String(), `"msg":"admission event"`) || !strings.Contains(ts.log.String(), `"type":"break-glass"`) {
		t.Errorf("events not logged as JSON lines:\n%s", ts.log.String())
	}
}

// TestBreakGlassOffByDefault: a policy that does not enable break-glass
// (no exemptions block, or one without breakGlass) judges an annotated
// object as without it, and the attempt is an event (issue #16: the
// annotation admitted anything for every requester by default).
func TestBreakGlassOffByDefault(t *testing.T) {
	good := "registry.example.com/app:1.0@sha256:" + strings.Repeat("a", 64)
	for _, tc := range []struct{ name, policy string }{
		{"no exemptions block", policyHeader + "spec:\n  mode: enforce\n  podSecurity: {level: baseline}\n"},
		{"exemptions without breakGlass", policyHeader + "spec:\n  mode: enforce\n  podSecurity: {level: baseline}\n  exemptions:\n    namespaces: [kube-system]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, tc.policy, Options{})
			obj := deployment("bg", map[string]string{BreakGlassAnnotation: "INC-1"}, privileged(container("a", good)))
			resp, code, body := ts.post(t, EndpointValidate, reviewFor(t, obj, deploymentGVK, "prod", reviewOpts{groups: []string{"system:masters"}}))
			if code != 200 || resp.Allowed {
				t.Fatalf("status %d allowed %v, want a denial: %s", code, resp.Allowed, body)
			}
			evs := ts.events.all()
			if len(evs) != 1 || evs[0].Type != EventDenied || evs[0].BreakGlassReason != "INC-1" {
				t.Fatalf("events %+v, want one denial recording the break-glass attempt", evs)
			}
		})
	}
}

// TestExemptAnnotationUntrustedByDefault: a policy that names no
// annotationGroups ignores the palisade.io/exempt annotation of every
// requester, system:masters included: the annotation is written by the
// object's author, so it must not exempt that author's own object from
// the rules unless the policy says who may use it.
func TestExemptAnnotationUntrustedByDefault(t *testing.T) {
	good := "registry.example.com/app:1.0@sha256:" + strings.Repeat("a", 64)
	for _, tc := range []struct{ name, policy string }{
		{"no exemptions block", policyHeader + "spec:\n  mode: enforce\n  podSecurity: {level: baseline}\n"},
		{"exemptions without annotationGroups", policyHeader + "spec:\n  mode: enforce\n  podSecurity: {level: baseline}\n  exemptions:\n    namespaces: [kube-system]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, tc.policy, Options{})
			obj := deployment("ex", map[string]string{"palisade.io/exempt": "pss/privileged: needs devices"}, privileged(container("a", good)))
			// An empty annotation on the object must not hide the pod
			// template's, which rule.ApplyExemptions also reads (audit14).
			hidden := deployment("hidden", map[string]string{"palisade.io/exempt": ""}, privileged(container("a", good)))
			hidden.Spec.Template.Annotations = map[string]string{"palisade.io/exempt": "*: trust me"}
			for _, obj := range []*appsv1.Deployment{obj, hidden} {
				for _, endpoint := range []string{EndpointValidate, EndpointMutate} {
					resp, code, body := ts.post(t, endpoint, reviewFor(t, obj, deploymentGVK, "prod", reviewOpts{groups: []string{"system:masters"}}))
					if code != 200 {
						t.Fatalf("%s: status %d: %s", endpoint, code, body)
					}
					if endpoint == EndpointValidate && resp.Allowed {
						t.Fatalf("%s: allowed, want a denial: %s", endpoint, body)
					}
					if !strings.Contains(strings.Join(resp.Warnings, "\n"), "spec.exemptions.annotationGroups") {
						t.Errorf("%s: warnings %q do not say the annotation was ignored and why", endpoint, resp.Warnings)
					}
				}
			}
		})
	}
}
