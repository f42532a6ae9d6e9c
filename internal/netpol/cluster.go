package netpol

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/workload"
)

// PolicyGroupVersions are the versions of policy.networking.k8s.io that
// serve, or have served, kinds that change connectivity: a live reader
// asks discovery for each.
var PolicyGroupVersions = []string{adminGroup + "/v1alpha1", adminGroup + "/v1alpha2", adminGroup + "/v1beta1", adminGroup + "/v1"}

// ModelledResource is a resource of policy.networking.k8s.io the model
// reads, in the one version it reads.
type ModelledResource struct {
	schema.GroupVersionResource
	Kind string
}

// ModelledResources are the policy resources the model reads, by name.
var ModelledResources = map[string]ModelledResource{
	"adminnetworkpolicies":         {schema.GroupVersionResource{Group: adminGroup, Version: "v1alpha1", Resource: "adminnetworkpolicies"}, KindAdminNetworkPolicy},
	"baselineadminnetworkpolicies": {schema.GroupVersionResource{Group: adminGroup, Version: "v1alpha1", Resource: "baselineadminnetworkpolicies"}, KindBaselineAdminNetworkPolicy},
	"clusternetworkpolicies":       {schema.GroupVersionResource{Group: adminGroup, Version: "v1alpha2", Resource: "clusternetworkpolicies"}, KindClusterNetworkPolicy},
}

// ServedPolicies asks discovery (resources lists the resources of a
// group version) which policy resources the API server serves: those
// the model reads, and why the model cannot be trusted ("" when it can):
// a policy kind served in a version the model does not read, or
// discovery failing.
func ServedPolicies(ctx context.Context, resources func(ctx context.Context, gv string) (*metav1.APIResourceList, error)) (served []ModelledResource, off string) {
	for _, gv := range PolicyGroupVersions {
		res, err := resources(ctx, gv)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, "cannot tell whether the API server serves " + gv + " (cluster network policies): " + err.Error()
		}
		if res == nil {
			continue
		}
		for _, r := range res.APIResources {
			if strings.Contains(r.Name, "/") {
				continue // a subresource (status)
			}
			m, policy := ModelledResources[r.Name]
			switch {
			case policy && m.GroupVersion().String() == gv:
				served = append(served, m)
			case policy || strings.HasSuffix(r.Name, "networkpolicies"):
				return nil, "the API server serves " + gv + " " + r.Name + ", which the model does not read"
			}
		}
	}
	return served, ""
}

// maxClusterPolicies bounds the policy objects read from a cluster.
const maxClusterPolicies = 100000

// ReadClusterPolicies adds to inv what `netpol analyze --cluster` needs
// beyond cluster.Read: the admin policies of every served kind the model
// reads (through dyn) and the Nodes, whose addresses nodes peers select.
// A policy kind served in a version the model does not read, or one that
// cannot be listed, is an error problem (the analysis would be wrong
// either way); Nodes that cannot be listed are a note (nodes peers then
// leave connections unknown).
func ReadClusterPolicies(ctx context.Context, kube kubernetes.Interface, dyn dynamic.Interface, inv *workload.Inventory) []finding.Problem {
	var probs []finding.Problem
	fail := func(format string, args ...any) {
		probs = append(probs, finding.Problem{Level: finding.LevelError, Message: fmt.Sprintf(format, args...)})
	}
	served, off := ServedPolicies(ctx, kube.Discovery().ServerResourcesForGroupVersionWithContext)
	if off != "" {
		fail("%s: the connectivity shown may be wrong either way", off)
	}
	read := 0
	for _, r := range served {
		cont := ""
		for {
			list, err := dyn.Resource(r.GroupVersionResource).List(ctx, metav1.ListOptions{Limit: 500, Continue: cont})
			if err != nil {
				fail("cannot list %s: %v; the connectivity shown may be wrong either way", r.GroupVersionResource.String(), err)
				break
			}
			for i := range list.Items {
				u := &list.Items[i]
				if read++; read > maxClusterPolicies {
					fail("more than %d cluster network policies: the rest were not read", maxClusterPolicies)
					return probs
				}
				u.SetManagedFields(nil)
				data, err := json.Marshal(u.Object)
				if err != nil {
					fail("%s %s: %v", r.Kind, u.GetName(), err)
					continue
				}
				src := &manifest.Object{File: "cluster " + r.Resource + "/" + u.GetName(), APIVersion: r.GroupVersion().String(), Kind: r.Kind, Name: u.GetName(), JSON: data}
				inv.Add(nil, finding.ObjectRef{APIVersion: src.APIVersion, Kind: r.Kind, Name: u.GetName()}, src)
			}
			if cont = list.GetContinue(); cont == "" {
				break
			}
		}
	}
	// Nodes are added only when every page was read: a partial list
	// would let a nodes peer miss a node.
	var nodes []any
	cont := ""
	for {
		list, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{Limit: 500, Continue: cont})
		if err != nil {
			probs = append(probs, finding.Problem{Level: finding.LevelNote, Message: fmt.Sprintf("cannot list nodes: %v; nodes peers of admin policies cannot be judged", err)})
			return probs
		}
		for i := range list.Items {
			nodes = append(nodes, &list.Items[i])
		}
		if cont = list.Continue; cont == "" {
			break
		}
	}
	for _, n := range nodes {
		inv.Add(n, finding.ObjectRef{APIVersion: "v1", Kind: "Node", Name: n.(*corev1.Node).Name}, nil)
	}
	return probs
}
