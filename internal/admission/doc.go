// Package admission is Palisade's Kubernetes admission controller: it
// decodes admission.k8s.io/v1 AdmissionReviews for Pods and every workload
// kind, evaluates the AdmissionPolicy (Pod Security level, hardening and
// custom rules from internal/rules, registry allow-lists, digest pinning by
// mutation, offline cosign signature checks, a vulnerability gate) per
// namespace in enforce, warn or audit mode, and answers within the API
// server's timeout. Every denial, warning and break-glass use is an Event.
// See docs/admission.md.
package admission
