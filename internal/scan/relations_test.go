package scan_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestConfigRelationsSeeEveryBatch: rules that relate objects to pods
// (a Service selecting none, an autoscaler targeting nothing) run after
// every batch of workloads, so they see workloads decoded in any batch,
// and only those.
func TestConfigRelationsSeeEveryBatch(t *testing.T) {
	var b strings.Builder
	// 600 workloads: more than one batch; the Service's pods are in the last.
	for i := range 600 {
		fmt.Fprintf(&b, `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app-%d, namespace: shop}
spec:
  selector: {matchLabels: {app: app-%d}}
  template:
    metadata: {labels: {app: app-%d}}
    spec:
      containers: [{name: c, image: "registry.example.com/app:1"}]
`, i, i, i)
	}
	services := `apiVersion: v1
kind: Service
metadata: {name: last, namespace: shop}
spec:
  selector: {app: app-599}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: nobody, namespace: shop}
spec:
  selector: {app: app-600}
  ports: [{port: 80}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: first, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: app-0}
  maxReplicas: 3
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: gone, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: app-600}
  maxReplicas: 3
`
	r, dir := scanFiles(t, map[string]string{"a-services.yaml": services, "b-workloads.yaml": b.String()},
		"reliability/service-no-pods", "reliability/hpa-target-missing")
	got := strings.Join(findingsOf(r, dir), "\n")
	want := strings.Join([]string{
		"reliability/hpa-target-missing HorizontalPodAutoscaler/shop/gone a-services.yaml:26",
		"reliability/service-no-pods Service/shop/nobody a-services.yaml:12",
	}, "\n")
	if got != want {
		t.Errorf("findings:\n%s\nwant:\n%s", got, want)
	}
}
