package reliability

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// statefulSetServiceName: a StatefulSet's serviceName must name a headless
// Service (clusterIP: None) of its namespace (kube-score
// statefulset-has-servicename): that Service gives each pod its stable DNS
// name (web-0.web.shop.svc), which is why the workload is a StatefulSet.
// An unset serviceName, a name the input does not hold, or a Service with
// a cluster IP are each reported; like the other relation rules, a scan of
// part of an application reports what the part lacks.
func statefulSetServiceName() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/statefulset-service-name", Title: "StatefulSet without its headless Service", Severity: finding.SeverityLow,
		Description:     "A StatefulSet's pods get their stable network names (web-0.web.shop.svc) from the headless Service its serviceName names. Without that Service, or with a Service that has a cluster IP, the pods have no per-pod DNS names: peers cannot find each other and clients of a given replica fail.",
		Remediation:     "Create a headless Service (clusterIP: None) selecting the StatefulSet's pods, and name it in spec.serviceName (which cannot be changed later).",
		RemediationYAML: "apiVersion: v1\nkind: Service\nmetadata:\n  name: db\nspec:\n  clusterIP: None\n  selector: {app: db}\n  ports:\n  - name: pg\n    port: 5432\n---\n# StatefulSet\nspec:\n  serviceName: db",
		References:      []finding.Reference{ref("Kubernetes: StatefulSets, stable network ID", "https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/#stable-network-id")}, Tags: tags,
		Object: func(c *rule.Context, o *workload.Object) []rule.Violation {
			s, ok := o.Typed.(*appsv1.StatefulSet)
			if !ok {
				return nil
			}
			name := s.Spec.ServiceName
			if name == "" {
				return []rule.Violation{{Field: "spec", Message: fmt.Sprintf("StatefulSet %s sets no serviceName", o.Ref.Name)}}
			}
			svc := findService(c.Inventory, o.Ref.Namespace, name)
			switch {
			case svc == nil:
				return []rule.Violation{{Field: "spec.serviceName", Message: fmt.Sprintf("StatefulSet %s names Service %s, which is not in namespace %q", o.Ref.Name, name, o.Ref.Namespace)}}
			case svc.Spec.ClusterIP != corev1.ClusterIPNone:
				return []rule.Violation{{Field: "spec.serviceName", Message: fmt.Sprintf("StatefulSet %s names Service %s, which is not headless (clusterIP: None)", o.Ref.Name, name)}}
			}
			return nil
		},
	}
}
