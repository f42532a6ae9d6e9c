package reliability

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// invalidPortName: a port name is an IANA service name (RFC 6335 5.1: at
// most 15 characters of lower-case letters, digits and single inner
// hyphens, at least one letter), and one container names each port once.
// It is checked where names are declared or referenced by name: a
// container's ports[].name, and a Service's ports[].targetPort when it is
// a name (kube-linter invalid-target-ports, kube-score
// container-ports-check). A Service targetPort or probe that refers to an
// invalid or duplicate name never resolves; the API server rejects such
// objects, so the manifest fails to apply. Each bad name is one finding.
func invalidPortName() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/invalid-port-name", Title: "Port name invalid or declared twice", Severity: finding.SeverityMedium,
		Description:     "Port names are IANA service names: at most 15 characters, lower-case letters, digits and single inner hyphens, with at least one letter. A container port or Service targetPort with another name, or a name a container declares twice, is rejected by the API server (the rollout fails at apply time), and a Service or probe cannot resolve it.",
		Remediation:     "Rename the port to a valid IANA service name (such as http, metrics, grpc-api), once per container, and use the same name in the Service's targetPort.",
		RemediationYAML: "ports:\n- name: http-api   # <= 15 chars, [a-z0-9-], a letter, no '--'\n  containerPort: 8080",
		References:      []finding.Reference{ref("Kubernetes API: ContainerPort name (IANA_SVC_NAME)", "https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#ports"), ref("RFC 6335 5.1: service name syntax", "https://www.rfc-editor.org/rfc/rfc6335.html#section-5.1")}, Tags: tags,
		Object: func(_ *rule.Context, o *workload.Object) []rule.Violation {
			if o.Workload != nil {
				return containerPortViolations(o.Workload)
			}
			return serviceTargetPortViolations(o)
		},
	}
}

// containerPortViolations reports each container port name that is
// invalid, or that its container already declared.
func containerPortViolations(w *workload.Workload) []rule.Violation {
	var out []rule.Violation
	for _, c := range w.Containers() {
		seen := map[string]bool{}
		for i, p := range c.Ports {
			if p.Name == "" {
				continue
			}
			field := w.Field(fmt.Sprintf("%s.ports[%d].name", c.Path, i))
			if errs := validation.IsValidPortName(p.Name); len(errs) > 0 {
				out = append(out, rule.Violation{Container: c.Name, Field: field,
					Message: fmt.Sprintf("container %q port name %q is not a valid port name: %s", c.Name, p.Name, strings.Join(errs, "; "))})
			} else if seen[p.Name] {
				out = append(out, rule.Violation{Container: c.Name, Field: field,
					Message: fmt.Sprintf("container %q declares port name %q twice", c.Name, p.Name)})
			}
			seen[p.Name] = true
		}
	}
	return out
}

// serviceTargetPortViolations reports each Service targetPort given as a
// name that is not a valid port name.
func serviceTargetPortViolations(o *workload.Object) []rule.Violation {
	svc, ok := o.Typed.(*corev1.Service)
	if !ok {
		return nil
	}
	var out []rule.Violation
	for i, p := range svc.Spec.Ports {
		if p.TargetPort.Type != intstr.String {
			continue
		}
		if errs := validation.IsValidPortName(p.TargetPort.StrVal); len(errs) > 0 {
			out = append(out, rule.Violation{Field: fmt.Sprintf("spec.ports[%d].targetPort", i),
				Message: fmt.Sprintf("Service %s targetPort %q is not a valid port name: %s", o.Ref.Name, p.TargetPort.StrVal, strings.Join(errs, "; "))})
		}
	}
	return out
}
