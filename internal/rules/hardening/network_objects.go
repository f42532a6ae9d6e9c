package hardening

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// serviceExternalIPs: a Service should not set spec.externalIPs. Whoever
// can create a Service with externalIPs can capture traffic the cluster's
// nodes send to those addresses (CVE-2020-8554, which Kubernetes did not
// fix in the API; the DenyServiceExternalIPs admission plugin blocks it).
func serviceExternalIPs() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/service-external-ips",
		Title:           "Service with external IPs",
		Severity:        finding.SeverityMedium,
		Description:     "kube-proxy sends traffic for a Service's externalIPs to its pods, from every node: a Service that names someone else's address (an external API, a cloud metadata endpoint, another tenant's load balancer) intercepts the cluster's traffic to it (CVE-2020-8554, a design issue Kubernetes leaves to admission control).",
		Remediation:     "Remove spec.externalIPs; publish through a LoadBalancer or Ingress. Enable the DenyServiceExternalIPs admission plugin, or restrict externalIPs with a policy.",
		RemediationYAML: "spec:\n  type: LoadBalancer   # instead of externalIPs",
		References: []finding.Reference{
			{Title: "Kubernetes: CVE-2020-8554 (man in the middle using LoadBalancer or ExternalIPs)", URL: "https://github.com/kubernetes/kubernetes/issues/97076"},
			{Title: "Kubernetes: DenyServiceExternalIPs admission plugin", URL: "https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#denyserviceexternalips"},
		},
		Tags: tags,
		Object: func(_ *rule.Context, o *workload.Object) []rule.Violation {
			svc, ok := o.Typed.(*corev1.Service)
			if !ok || len(svc.Spec.ExternalIPs) == 0 {
				return nil
			}
			return []rule.Violation{{Field: "spec.externalIPs",
				Message: fmt.Sprintf("service receives traffic for external IPs %s", strings.Join(svc.Spec.ExternalIPs, ", "))}}
		},
	}
}

// ingressNoTLS: an Ingress should terminate TLS for the hosts it serves
// (Polaris tlsSettingsMissing, Kubescape C-0263). An Ingress with no
// spec.tls serves plain HTTP; one whose tls entries leave out some of its
// rules' hosts serves those hosts in plain HTTP.
func ingressNoTLS() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/ingress-no-tls",
		Title:           "Ingress without TLS",
		Severity:        finding.SeverityMedium,
		Description:     "Without a tls section the Ingress serves plain HTTP: credentials, session cookies and data cross networks readable and alterable by anyone on the path.",
		Remediation:     "Add a tls entry covering every host, with a certificate Secret (cert-manager can issue and renew it).",
		RemediationYAML: "spec:\n  tls:\n  - hosts: [\"app.example.com\"]\n    secretName: app-tls",
		References: []finding.Reference{
			{Title: "Kubernetes: Ingress TLS", URL: "https://kubernetes.io/docs/concepts/services-networking/ingress/#tls"},
			nsaGuide("Network separation and hardening"),
		},
		Tags: tags,
		Object: func(_ *rule.Context, o *workload.Object) []rule.Violation {
			ing, ok := o.Typed.(*networkingv1.Ingress)
			if !ok {
				return nil
			}
			if len(ing.Spec.TLS) == 0 {
				return []rule.Violation{{Field: "spec", Message: fmt.Sprintf("ingress %s has no tls section: it serves plain HTTP", o.Ref.Name)}}
			}
			covered := map[string]bool{}
			wildcard := false
			for _, t := range ing.Spec.TLS {
				if len(t.Hosts) == 0 {
					wildcard = true // a tls entry without hosts covers the controller's default host
				}
				for _, h := range t.Hosts {
					covered[h] = true
				}
			}
			var out []rule.Violation
			for i, r := range ing.Spec.Rules {
				if r.Host == "" || covered[r.Host] || wildcard || coveredByWildcard(covered, r.Host) {
					continue
				}
				out = append(out, rule.Violation{Field: fmt.Sprintf("spec.rules[%d].host", i),
					Message: fmt.Sprintf("host %s is not listed in any tls entry: it is served in plain HTTP", r.Host)})
			}
			return out
		},
	}
}

// coveredByWildcard reports whether a TLS host "*.example.com" covers host
// "a.example.com" (one label, as certificates match).
func coveredByWildcard(covered map[string]bool, host string) bool {
	_, rest, ok := strings.Cut(host, ".")
	return ok && covered["*."+rest]
}
