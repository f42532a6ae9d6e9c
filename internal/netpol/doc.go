// Package netpol answers "who can talk to whom" under Kubernetes
// NetworkPolicies and writes the policies that allow exactly what an
// application needs.
//
// It models pods (from workloads' templates, or live Pods folded into the
// workload that owns them, with labels and named ports), namespaces,
// networking.k8s.io/v1 NetworkPolicies and the admin tiers around them
// (AdminNetworkPolicy and BaselineAdminNetworkPolicy v1alpha1,
// ClusterNetworkPolicy v1alpha2) with their full semantics, computes every
// allowed connection between workloads and to or
// from external IP ranges (and those an admin rule with domain names, or
// nodes without Node objects, leaves unknown), explains why a pair is allowed, diffs two
// states, reports policy findings, and generates least-privilege policies
// from a requirements file, proving them by re-analysis. See docs/netpol.md.
package netpol
