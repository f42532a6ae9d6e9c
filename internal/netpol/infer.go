package netpol

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/palisade-sec/palisade/internal/workload"
)

// serviceRef matches a Service host in a value: "name", "name.ns",
// "name.ns.svc[.cluster.local]", optionally with ":port", inside URLs too.
var serviceRef = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?:^|[/@=\s,;"'])([a-z0-9]([-a-z0-9]*[a-z0-9])?)(?:\.([a-z0-9]([-a-z0-9]*[a-z0-9])?))?(?:\.svc(?:\.cluster\.local)?)?(?::([0-9]{1,5}))?(?:$|[/\s,;"'?])`)
})

// InferRequirements finds connections the manifests imply: a workload whose
// environment (literal values, or ConfigMaps it reads through env or
// envFrom) names a Service may reach the Service's pods on its target
// ports. Only Services of the input are considered; the result is sorted.
func InferRequirements(inv *workload.Inventory) []Allow {
	configMaps := map[string]map[string]string{}
	for _, o := range inv.Objects {
		if o.Ref.Kind != "ConfigMap" {
			continue
		}
		content, err := o.Content()
		if err != nil {
			continue
		}
		data, _ := content["data"].(map[string]any)
		m := map[string]string{}
		for k, v := range data {
			if s, ok := v.(string); ok {
				m[k] = s
			}
		}
		configMaps[o.Ref.Namespace+"/"+o.Ref.Name] = m
	}
	seen := map[string]bool{}
	var out []Allow
	for _, w := range inv.Workloads {
		ns := w.Namespace()
		var values []string
		for _, c := range workload.Containers(w.Spec) {
			for _, e := range c.Env {
				values = append(values, e.Value)
				if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
					values = append(values, configMaps[ns+"/"+e.ValueFrom.ConfigMapKeyRef.Name][e.ValueFrom.ConfigMapKeyRef.Key])
				}
			}
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil {
					for _, v := range configMaps[ns+"/"+ef.ConfigMapRef.Name] {
						values = append(values, v)
					}
				}
			}
		}
		for _, v := range values {
			for _, m := range serviceRef().FindAllStringSubmatch(v, -1) {
				name, svcNS, port := m[1], m[3], m[5]
				if svcNS == "" {
					svcNS = ns
				}
				for _, a := range allowsToService(inv, w, name, svcNS, port) {
					key := a.From + a.To + fmt.Sprint(a.Ports)
					if !seen[key] {
						seen[key] = true
						out = append(out, a)
					}
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].From != out[j].From {
			return out[i].From < out[j].From
		}
		return out[i].To < out[j].To
	})
	return out
}

func allowsToService(inv *workload.Inventory, from *workload.Workload, name, ns, port string) []Allow {
	var out []Allow
	for _, svc := range inv.Services {
		if svc.Name != name || svc.Namespace != ns || len(svc.Spec.Selector) == 0 {
			continue
		}
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		for _, w := range inv.Workloads {
			if w.Namespace() != ns || PeerName(w) == PeerName(from) || w.PodMeta == nil || !sel.Matches(labels.Set(w.PodMeta.Labels)) {
				continue
			}
			var ports []string
			for _, sp := range svc.Spec.Ports {
				if port != "" && strconv.Itoa(int(sp.Port)) != port {
					continue
				}
				if tp, ok := targetPort(w, sp); ok {
					proto := sp.Protocol
					if proto == "" {
						proto = corev1.ProtocolTCP
					}
					ports = append(ports, fmt.Sprintf("%s/%d", proto, tp))
				}
			}
			if len(ports) > 0 {
				out = append(out, Allow{From: PeerName(from), To: PeerName(w), Ports: ports})
			}
		}
	}
	return out
}

// targetPort resolves a Service port to the container port of a workload.
func targetPort(w *workload.Workload, sp corev1.ServicePort) (int32, bool) {
	switch {
	case sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal != "":
		for _, c := range w.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == sp.TargetPort.StrVal {
					return cp.ContainerPort, true
				}
			}
		}
		return 0, false
	case sp.TargetPort.IntVal != 0:
		return sp.TargetPort.IntVal, true
	}
	return sp.Port, sp.Port > 0
}

// Clean returns a policy as a generic object without empty server-set
// fields (creationTimestamp), ready to print as YAML or JSON.
func Clean(p *networkingv1.NetworkPolicy) map[string]any {
	data, _ := json.Marshal(p)
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	return m
}

// PoliciesJSON renders policies as a v1 List.
func PoliciesJSON(ps []*networkingv1.NetworkPolicy) ([]byte, error) {
	items := make([]map[string]any, len(ps))
	for i, p := range ps {
		items[i] = Clean(p)
	}
	data, err := json.MarshalIndent(map[string]any{"apiVersion": "v1", "kind": "List", "items": items}, "", "  ")
	return append(data, '\n'), err
}
