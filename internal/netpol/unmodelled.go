package netpol

import (
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/workload"
)

// unmodelledKinds are kinds, keyed "group/Kind", that change who can talk
// to whom but that the analysis does not model. Leaving them out silently
// would print connectivity the cluster does not have, so each one is an
// error (the command exits 2) naming the object.
var unmodelledKinds = map[string]string{
	"networking.k8s.io/Ingress":                 "exposes workloads through an ingress controller",
	"extensions/Ingress":                        "exposes workloads through an ingress controller",
	"route.openshift.io/Route":                  "exposes workloads through the OpenShift router",
	"gateway.networking.k8s.io/HTTPRoute":       "exposes workloads through a Gateway",
	"gateway.networking.k8s.io/GRPCRoute":       "exposes workloads through a Gateway",
	"gateway.networking.k8s.io/TCPRoute":        "exposes workloads through a Gateway",
	"gateway.networking.k8s.io/TLSRoute":        "exposes workloads through a Gateway",
	"gateway.networking.k8s.io/UDPRoute":        "exposes workloads through a Gateway",
	"cilium.io/CiliumNetworkPolicy":             "Cilium policies add to or override NetworkPolicies",
	"cilium.io/CiliumClusterwideNetworkPolicy":  "Cilium policies add to or override NetworkPolicies",
	"crd.projectcalico.org/NetworkPolicy":       "Calico policies add to or override NetworkPolicies",
	"crd.projectcalico.org/GlobalNetworkPolicy": "Calico policies add to or override NetworkPolicies",
	"projectcalico.org/NetworkPolicy":           "Calico policies add to or override NetworkPolicies",
	"projectcalico.org/GlobalNetworkPolicy":     "Calico policies add to or override NetworkPolicies",
	"security.istio.io/AuthorizationPolicy":     "Istio denies or allows requests in its proxies",
}

// clusterWide are the kinds of unmodelledKinds that have no namespace (the
// inventory places unknown kinds in the default namespace).
var clusterWide = map[string]bool{
	"CiliumClusterwideNetworkPolicy": true, "GlobalNetworkPolicy": true,
}

// unmodelled reports the objects of the input that affect connectivity and
// are not modelled, including NetworkPolicies of an API version that was
// not decoded as networking.k8s.io/v1.
func unmodelled(inv *workload.Inventory) []finding.Problem {
	var out []finding.Problem
	for _, o := range inv.Objects {
		group, _, _ := strings.Cut(o.Ref.APIVersion, "/")
		if !strings.Contains(o.Ref.APIVersion, "/") {
			group = ""
		}
		why, ok := unmodelledKinds[group+"/"+o.Ref.Kind]
		if !ok && o.Ref.Kind == "NetworkPolicy" && o.Typed == nil {
			why, ok = "a NetworkPolicy of an API version other than networking.k8s.io/v1 was not read", true
		}
		if !ok {
			continue
		}
		file, line := "", 0
		if o.Source != nil {
			file, line = o.Source.File, o.Source.Line
		}
		name := o.Ref.Name
		if o.Ref.Namespace != "" && !clusterWide[o.Ref.Kind] {
			name = o.Ref.Namespace + "/" + name
		}
		out = append(out, finding.Problem{File: file, Line: line, Level: finding.LevelError,
			Message: fmt.Sprintf("%s %s (%s) affects connectivity (%s) and is not modelled: the connectivity shown ignores it", o.Ref.Kind, name, o.Ref.APIVersion, why)})
	}
	return out
}
