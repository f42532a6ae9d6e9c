package realworld

import (
	"context"
	"testing"

	"github.com/palisade-sec/palisade/internal/netpol"
)

// TestNetpolModel checks the connectivity model netpol builds from every
// file of the committed corpora against the oracle: each NetworkPolicy is
// a policy of the model, each workload a peer (a Pod with a controller
// owner folded into that owner: workloads, not replicas), and every
// namespace a policy or workload lives in exists in the model, declared
// or not (the API server would have it).
func TestNetpolModel(t *testing.T) {
	m := newMismatches(15)
	for _, c := range allCorpora(t) {
		if c.Name == apiExamplesCorpus {
			// Filler values ("namespaceValue", selectors of
			// "keyValue") say nothing about connectivity.
			continue
		}
		forEachFile(c.Files, func(file string) { checkNetpolFile(t, m, c.Name, file) })
	}
	m.report(t)
}

// netpolDefaultNamespace is where objects without a namespace land, as
// `netpol analyze` defaults it.
const netpolDefaultNamespace = "default"

func checkNetpolFile(t *testing.T, m *mismatches, corpus, file string) {
	oracle, err := decodeFile(file)
	if err != nil {
		m.add(corpus, "unreadable corpus file", "%s: %v", file, err)
		return
	}
	model, _, err := netpol.Load(context.Background(), []string{file}, nil, netpolDefaultNamespace)
	if err != nil {
		m.add(corpus, "netpol.Load failed", "%s: %v", file, err)
		return
	}
	policies, peers := map[string]bool{}, map[string]bool{}
	for _, p := range model.Policies {
		policies[p.Namespace+"/"+p.Name] = true
	}
	for _, p := range model.Peers {
		peers[p.Namespace+"/"+p.Kind+"/"+p.Name] = true
	}
	ns := func(id objectID) string {
		if id.Namespace == "" {
			return netpolDefaultNamespace
		}
		return id.Namespace
	}
	for _, o := range oracle.Objects {
		switch {
		case o.ID.Kind == "NetworkPolicy" && classify(o.ID.APIVersion, o.ID.Kind) != unknownVersion:
			m.count(corpus, "network policies", 1)
			if !policies[ns(o.ID)+"/"+o.ID.Name] {
				m.add(corpus, "NetworkPolicy missing from the netpol model", "%s: %s", file, o.ID)
			}
			if model.Namespaces[ns(o.ID)] == nil {
				m.add(corpus, "namespace missing from the netpol model", "%s: %s of %s", file, ns(o.ID), o.ID)
			}
		case isWorkload(o.ID) && hostNetwork(o):
			// Pods on the node's network are not selected by
			// NetworkPolicies: the node, not a peer of its own.
			m.count(corpus, "host-network workloads", 1)
		case isWorkload(o.ID):
			m.count(corpus, "workloads", 1)
			// A Pod with a controller owner must be folded into it; other
			// owned workloads may be shown as themselves or their owner.
			own := ns(o.ID) + "/" + o.ID.Kind + "/" + o.ID.Name
			ok, on := controllerOwner(o.Content)
			owner := ns(o.ID) + "/" + ok + "/" + on
			switch {
			case ok != "" && o.ID.Kind == "Pod" && !peers[owner]:
				m.add(corpus, "owned Pod not folded into its owner in the netpol model", "%s: %s (want peer %s/%s[%s])", file, o.ID, ns(o.ID), on, ok)
			case ok == "" && !peers[own], ok != "" && o.ID.Kind != "Pod" && !peers[own] && !peers[owner]:
				m.add(corpus, "workload not a peer of the netpol model", "%s: %s", file, o.ID)
			}
			if model.Namespaces[ns(o.ID)] == nil {
				m.add(corpus, "namespace missing from the netpol model", "%s: %s of %s", file, ns(o.ID), o.ID)
			}
		}
	}
}

func hostNetwork(o oracleObject) bool {
	_, spec, err := podTemplate(o)
	return err == nil && spec.HostNetwork
}
