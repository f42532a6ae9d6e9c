package auditlog

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/secret"
)

var (
	refAuditing = finding.Reference{Title: "Kubernetes: Auditing", URL: "https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/"}
	refRBACGood = finding.Reference{Title: "Kubernetes: RBAC good practices", URL: "https://kubernetes.io/docs/concepts/security/rbac-good-practices/"}
	refNSA      = finding.Reference{Title: "NSA/CISA Kubernetes Hardening Guide: Audit logging and threat detection"}
)

func isWrite(verb string) bool {
	switch verb {
	case "create", "update", "patch", "delete", "deletecollection":
		return true
	}
	return false
}

func isRead(verb string) bool { return verb == "get" || verb == "list" || verb == "watch" }

// nonSystem is true for humans and workloads outside the control plane.
func nonSystem(e *Event) bool { return !e.Effective().IsSystem() }

// Builtin returns the built-in detections, each a pure function of one event.
func Builtin() []*Detection { return withFrameworks(append(eventDetections(), rbacDetections()...)) }

func eventDetections() []*Detection {
	return []*Detection{
		{
			ID: "audit/secret-read", Title: "Secret read by a non-system identity", Severity: finding.SeverityMedium,
			Description: "Secrets hold credentials; reads by people or workloads outside the control plane are how stolen tokens are used and should be rare and expected.",
			Remediation: "Confirm the reader needs the Secret; narrow RBAC to named Secrets (resourceNames) or move the credential to a workload identity.",
			References:  []finding.Reference{refRBACGood, {Title: "CIS Kubernetes Benchmark 5.1.2"}},
			Match: func(e *Event) string {
				// Cluster-wide list and watch are audit/secret-list-all-namespaces.
				if e.Is("", "secrets", "") && isRead(e.Verb) && e.Allowed() && nonSystem(e) && !(e.Verb != "get" && e.ObjectRef.Namespace == "") {
					return fmt.Sprintf("%s did %s on secret %s", e.Who(), e.Verb, e.Target())
				}
				return ""
			},
		},
		{
			ID: "audit/secret-list-all-namespaces", Title: "Secrets listed across all namespaces", Severity: finding.SeverityHigh,
			Description: "Listing Secrets cluster-wide returns every credential in the cluster at once; outside the control plane it is a typical first step after compromise.",
			Remediation: "Remove cluster-wide list on secrets from the identity's ClusterRoles.",
			References:  []finding.Reference{refRBACGood},
			Match: func(e *Event) string {
				if e.Is("", "secrets", "") && (e.Verb == "list" || e.Verb == "watch") && e.ObjectRef.Namespace == "" && e.Allowed() && nonSystem(e) {
					return fmt.Sprintf("%s did %s on secrets in all namespaces", e.Who(), e.Verb)
				}
				return ""
			},
		},
		subresourceDetection("audit/pod-exec", "exec", "Command executed in a pod", finding.SeverityHigh,
			"kubectl exec runs arbitrary commands inside a container, bypassing the image's immutability and often its logging."),
		subresourceDetection("audit/pod-attach", "attach", "Attached to a running container", finding.SeverityHigh,
			"Attaching to a container's process gives interactive access to it."),
		subresourceDetection("audit/pod-portforward", "portforward", "Port forwarded into a pod", finding.SeverityMedium,
			"Port forwarding tunnels traffic into a pod past NetworkPolicies and Services."),
		{
			ID: "audit/ephemeral-container", Title: "Ephemeral container added", Severity: finding.SeverityHigh,
			Description: "Ephemeral (debug) containers run any image inside an existing pod's namespaces, a way to get a shell and tools into a hardened workload.",
			Remediation: "Restrict pods/ephemeralcontainers to break-glass roles and review each use.",
			References:  []finding.Reference{refRBACGood},
			Match: func(e *Event) string {
				if e.Is("", "pods", "ephemeralcontainers") && (e.Verb == "update" || e.Verb == "patch") {
					return fmt.Sprintf("%s added an ephemeral container to pod %s (status %d)", e.Who(), e.Target(), e.Code())
				}
				return ""
			},
		},
		{
			ID: "audit/anonymous-allowed", Title: "Anonymous request allowed", Severity: finding.SeverityHigh,
			Description: "A request without credentials succeeded on a resource; anonymous access beyond health endpoints means anyone who reaches the API server can read or change the cluster.",
			Remediation: "Set --anonymous-auth=false (or restrict it to health endpoints with an AuthenticationConfiguration) and remove RBAC bindings to system:anonymous and system:unauthenticated.",
			References:  []finding.Reference{{Title: "CIS Kubernetes Benchmark 1.2.1"}},
			Match: func(e *Event) string {
				if e.User.Username != "system:anonymous" || !e.Allowed() || e.Code() == 0 {
					return ""
				}
				for _, p := range []string{"/healthz", "/livez", "/readyz", "/version"} {
					if strings.HasPrefix(e.RequestURI, p) {
						return ""
					}
				}
				return fmt.Sprintf("anonymous %s %s was allowed (status %d)", e.Verb, e.RequestURI, e.Code())
			},
		},
		podSpecDetection("audit/privileged-pod", "Privileged container created", finding.SeverityCritical,
			"A privileged container can take over its node.", func(s *corev1.PodSpec) string {
				for _, c := range allContainers(s) {
					if c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
						return fmt.Sprintf("container %q is privileged", c.Name)
					}
				}
				return ""
			}),
		podSpecDetection("audit/hostpath-pod", "Pod with a hostPath volume created", finding.SeverityHigh,
			"hostPath volumes expose the node's file system to the pod.", func(s *corev1.PodSpec) string {
				for _, v := range s.Volumes {
					if v.HostPath != nil {
						return fmt.Sprintf("volume %q mounts %s from the node", v.Name, v.HostPath.Path)
					}
				}
				return ""
			}),
		podSpecDetection("audit/hostnetwork-pod", "Pod on the host network created", finding.SeverityHigh,
			"A pod on the host network sees node traffic and bypasses NetworkPolicies.", func(s *corev1.PodSpec) string {
				if s.HostNetwork {
					return "hostNetwork: true"
				}
				return ""
			}),
		podSpecDetection("audit/hostpid-pod", "Pod sharing the host PID or IPC namespace created", finding.SeverityHigh,
			"Sharing the host's PID or IPC namespace exposes every process on the node.", func(s *corev1.PodSpec) string {
				switch {
				case s.HostPID:
					return "hostPID: true"
				case s.HostIPC:
					return "hostIPC: true"
				}
				return ""
			}),
		{
			ID: "audit/admission-webhook-changed", Title: "Admission webhook or policy changed", Severity: finding.SeverityHigh,
			Description: "Changing or deleting admission webhooks and policies can switch off Palisade and every other guard rail in one request.",
			Remediation: "Confirm the change was planned; restrict write access to admissionregistration.k8s.io to cluster operators.",
			References:  []finding.Reference{refNSA},
			Match: func(e *Event) string {
				if e.ObjectRef == nil || e.ObjectRef.APIGroup != "admissionregistration.k8s.io" || !isWrite(e.Verb) || !e.Allowed() {
					return ""
				}
				return fmt.Sprintf("%s did %s on %s %s", e.Who(), e.Verb, e.ObjectRef.Resource, e.Target())
			},
		},
		{
			ID: "audit/token-for-other-sa", Title: "Token requested for another service account", Severity: finding.SeverityHigh,
			Description: "Requesting a token for a service account other than one's own is a way to borrow its permissions.",
			Remediation: "Restrict create on serviceaccounts/token to the components that mint tokens.",
			References:  []finding.Reference{refRBACGood},
			Match: func(e *Event) string {
				if !e.Is("", "serviceaccounts", "token") || e.Verb != "create" || !e.Allowed() || !nonSystem(e) {
					return ""
				}
				target := "system:serviceaccount:" + e.ObjectRef.Namespace + ":" + e.ObjectRef.Name
				if e.Effective().Username == target {
					return ""
				}
				return fmt.Sprintf("%s requested a token for service account %s", e.Who(), e.Target())
			},
		},
		{
			ID: "audit/node-proxy", Title: "Node proxy used", Severity: finding.SeverityHigh,
			Description: "nodes/proxy reaches the kubelet API, which can run commands in any pod on the node without exec audit events.",
			Remediation: "Remove nodes/proxy from every role outside the control plane and monitoring.",
			References:  []finding.Reference{refRBACGood},
			Match: func(e *Event) string {
				if e.Is("", "nodes", "proxy") && nonSystem(e) {
					return fmt.Sprintf("%s used nodes/proxy on %s (%s, status %d)", e.Who(), e.Target(), e.Verb, e.Code())
				}
				return ""
			},
		},
		{
			ID: "audit/csr-approved", Title: "Certificate signing request approved", Severity: finding.SeverityMedium,
			Description: "Approving a CSR issues a client certificate; a certificate for system:masters or a node is a cluster-admin credential that cannot be revoked.",
			Remediation: "Review who approved which CSR; restrict approval rights.",
			References:  []finding.Reference{refRBACGood},
			Match: func(e *Event) string {
				if e.Is("certificates.k8s.io", "certificatesigningrequests", "approval") && (e.Verb == "update" || e.Verb == "patch") && e.Allowed() && nonSystem(e) {
					return fmt.Sprintf("%s approved certificate signing request %s", e.Who(), e.Target())
				}
				return ""
			},
		},
		{
			ID: "audit/nodeport-service", Title: "NodePort or LoadBalancer service created", Severity: finding.SeverityMedium,
			Description: "NodePort and LoadBalancer services open ports on every node or to the outside.",
			Remediation: "Expose applications through an Ingress or Gateway; restrict who may create such services.",
			References:  []finding.Reference{refNSA},
			Blind: func(e *Event) string {
				return bodyBlind(e, "services", "Service")
			},
			Match: func(e *Event) string {
				if !e.Is("", "services", "") || !(e.Verb == "create" || e.Verb == "update" || e.Verb == "patch") || !e.Allowed() {
					return ""
				}
				var s struct {
					Spec struct {
						Type string `json:"type"`
					} `json:"spec"`
				}
				if json.Unmarshal(e.RequestObject, &s) == nil && (s.Spec.Type == "NodePort" || s.Spec.Type == "LoadBalancer") {
					return fmt.Sprintf("%s made service %s of type %s", e.Who(), e.Target(), s.Spec.Type)
				}
				return ""
			},
		},
		{
			ID: "audit/configmap-credentials", Title: "Credentials written into a ConfigMap", Severity: finding.SeverityHigh,
			Description: "ConfigMaps are not protected like Secrets (no encryption at rest, broad read access); credentials in them leak.",
			Remediation: "Move the value into a Secret and rotate it.",
			References:  []finding.Reference{{Title: "CIS Kubernetes Benchmark 5.4.1"}},
			Blind: func(e *Event) string {
				return bodyBlind(e, "configmaps", "ConfigMap")
			},
			Match: func(e *Event) string {
				if !e.Is("", "configmaps", "") || !(e.Verb == "create" || e.Verb == "update" || e.Verb == "patch") || !e.Allowed() {
					return ""
				}
				var cm struct {
					Data map[string]string `json:"data"`
				}
				if json.Unmarshal(e.RequestObject, &cm) != nil {
					return ""
				}
				keys := make([]string, 0, len(cm.Data))
				for k := range cm.Data {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					if m, ok := secret.ScanKeyValue(k, cm.Data[k]); ok {
						return fmt.Sprintf("%s wrote a %s into configmap %s key %s (%s)", e.Who(), m.Description, e.Target(), k, m.Masked)
					}
					if ms := secret.ScanText([]byte(cm.Data[k])); len(ms) > 0 {
						return fmt.Sprintf("%s wrote a %s into configmap %s key %s (%s)", e.Who(), ms[0].Description, e.Target(), k, ms[0].Masked)
					}
				}
				return ""
			},
		},
		{
			ID: "audit/impersonation", Title: "Impersonation used", Severity: finding.SeverityMedium,
			Description: "Impersonation acts with another identity's permissions; outside of administrators' tooling it hides who really did something.",
			Remediation: "Restrict the impersonate verb; review each use.",
			References:  []finding.Reference{refRBACGood},
			Match: func(e *Event) string {
				if e.ImpersonatedUser != nil && e.Allowed() && !e.User.IsSystem() {
					return fmt.Sprintf("%s impersonated %s for %s %s", e.User.Username, e.ImpersonatedUser.Username, e.Verb, describeTarget(e))
				}
				return ""
			},
		},
		{
			ID: "audit/kube-system-workload-by-user", Title: "Workload created in kube-system by a non-system identity", Severity: finding.SeverityHigh,
			Description: "kube-system is exempt from most policies; workloads placed there by people or CI evade admission controls.",
			Remediation: "Deploy applications in their own namespaces; restrict write access to kube-system.",
			References:  []finding.Reference{refNSA},
			Match: func(e *Event) string {
				if e.ObjectRef == nil || e.ObjectRef.Namespace != "kube-system" || e.Verb != "create" || !e.Allowed() || !nonSystem(e) || e.ObjectRef.Subresource != "" {
					return ""
				}
				switch e.ObjectRef.Resource {
				case "pods", "deployments", "daemonsets", "statefulsets", "replicasets", "jobs", "cronjobs":
					return fmt.Sprintf("%s created %s %s", e.Who(), e.ObjectRef.Resource, e.Target())
				}
				return ""
			},
		},
		{
			ID: "audit/audit-policy-evasion", Title: "Events or audit-related objects deleted", Severity: finding.SeverityMedium,
			Description: "Deleting Events in bulk removes the traces other tools rely on.",
			Remediation: "Restrict deletecollection on events to the control plane.",
			References:  []finding.Reference{refAuditing},
			Match: func(e *Event) string {
				if (e.Is("", "events", "") || e.Is("events.k8s.io", "events", "")) && e.Verb == "deletecollection" && e.Allowed() && nonSystem(e) {
					return fmt.Sprintf("%s deleted events in %s", e.Who(), e.Target())
				}
				return ""
			},
		},
	}
}

var burstDetection = &Detection{
	ID: "audit/forbidden-burst", Title: "Burst of forbidden requests", Severity: finding.SeverityMedium,
	Description: "Many forbidden responses for one identity in a short time is what permission discovery with a stolen credential looks like.",
	Remediation: "Find where the identity's credential is used from (source IPs, user agent) and rotate it if unexpected.",
	References:  []finding.Reference{refAuditing, refNSA},
	Frameworks:  finding.Frameworks{NSA: []string{"logging.threat-detection"}, MITRE: []string{"T1613", "T1078"}},
	Match:       func(*Event) string { return "" }, // stateful: see Engine.Observe
}

// Detections returns the metadata of every built-in detection, the
// stateful forbidden-burst one included, for the catalogue.
func Detections() []*Detection {
	burst := *burstDetection
	return append(Builtin(), &burst)
}

func subresourceDetection(id, sub, title string, sev finding.Severity, why string) *Detection {
	return &Detection{
		ID: id, Title: title, Severity: sev, Description: why,
		Remediation: "Restrict pods/" + sub + " to break-glass roles; review each use.",
		References:  []finding.Reference{refRBACGood, refNSA},
		Match: func(e *Event) string {
			if e.Is("", "pods", sub) && (e.Verb == "create" || e.Verb == "get") {
				return fmt.Sprintf("%s used pods/%s on %s (status %d)", e.Who(), sub, e.Target(), e.Code())
			}
			return ""
		},
	}
}

// podSpecDetection fires on the creation (or update) of a pod or workload
// whose pod spec matches; it needs the audit policy to log request bodies
// of workloads (level Request), as 'palisade auditlog policy' does.
func podSpecDetection(id, title string, sev finding.Severity, why string, check func(*corev1.PodSpec) string) *Detection {
	return &Detection{
		ID: id, Title: title, Severity: sev, Description: why + " Outside the control plane such pods should be rare and reviewed.",
		Remediation: "Enforce Pod Security (baseline at least) on the namespace; review who created the workload.",
		References:  []finding.Reference{{Title: "Pod Security Standards", URL: "https://kubernetes.io/docs/concepts/security/pod-security-standards/"}},
		Blind:       podSpecBlind,
		Match: func(e *Event) string {
			if e.ObjectRef == nil || e.ObjectRef.Subresource != "" || !(e.Verb == "create" || e.Verb == "update") || !e.Allowed() || len(e.RequestObject) == 0 {
				return ""
			}
			spec := podSpecOf(e.ObjectRef.Resource, e.RequestObject)
			if spec == nil {
				return ""
			}
			if msg := check(spec); msg != "" {
				return fmt.Sprintf("%s did %s on %s %s: %s", e.Who(), e.Verb, e.ObjectRef.Resource, e.Target(), msg)
			}
			return ""
		},
	}
}

// podSpecBlind is the pod-spec detections' Blind: a successful create or
// update of a pod or workload (core group, apps or batch) whose request
// body was not logged or holds no pod spec.
func podSpecBlind(e *Event) string {
	if e.ObjectRef == nil || e.ObjectRef.Subresource != "" || !(e.Verb == "create" || e.Verb == "update") || !e.Allowed() {
		return ""
	}
	switch e.ObjectRef.APIGroup + "/" + e.ObjectRef.Resource {
	case "/pods", "/replicationcontrollers", "apps/deployments", "apps/statefulsets", "apps/daemonsets", "apps/replicasets", "batch/jobs", "batch/cronjobs":
	default:
		return ""
	}
	if len(e.RequestObject) == 0 {
		return "pod and workload writes logged without a request body (audit level Metadata)"
	}
	if podSpecOf(e.ObjectRef.Resource, e.RequestObject) == nil {
		return "pod and workload request bodies that are not a pod or workload"
	}
	return ""
}

// bodyBlind is the Blind of a detection that reads the request body of a
// successful create, update or patch of one core resource.
func bodyBlind(e *Event, resource, kind string) string {
	if !e.Is("", resource, "") || !(e.Verb == "create" || e.Verb == "update" || e.Verb == "patch") || !e.Allowed() {
		return ""
	}
	if len(e.RequestObject) == 0 {
		return kind + " writes logged without a request body (audit level Metadata)"
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(e.RequestObject, &obj) != nil {
		return kind + " writes whose logged body is not an object (a JSON patch)"
	}
	return ""
}

// podSpecOf decodes the pod spec of a pod or workload request body.
func podSpecOf(resource string, body json.RawMessage) *corev1.PodSpec {
	switch resource {
	case "pods":
		var p corev1.Pod
		if json.Unmarshal(body, &p) == nil {
			return &p.Spec
		}
	case "deployments", "statefulsets", "daemonsets", "replicasets", "replicationcontrollers":
		var d struct {
			Spec struct {
				Template corev1.PodTemplateSpec `json:"template"`
			} `json:"spec"`
		}
		if json.Unmarshal(body, &d) == nil {
			return &d.Spec.Template.Spec
		}
	case "jobs":
		var j batchv1.Job
		if json.Unmarshal(body, &j) == nil {
			return &j.Spec.Template.Spec
		}
	case "cronjobs":
		var c batchv1.CronJob
		if json.Unmarshal(body, &c) == nil {
			return &c.Spec.JobTemplate.Spec.Template.Spec
		}
	}
	return nil
}

func allContainers(s *corev1.PodSpec) []corev1.Container {
	out := append(append([]corev1.Container{}, s.InitContainers...), s.Containers...)
	for _, e := range s.EphemeralContainers {
		out = append(out, corev1.Container(e.EphemeralContainerCommon))
	}
	return out
}
