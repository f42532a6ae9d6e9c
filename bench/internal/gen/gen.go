// Package gen writes synthetic but realistic Kubernetes manifests for
// Palisade's benchmarks.
package gen

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
)

// WriteCorpus writes objects workload objects, perFile to a YAML file,
// plus 50 namespaces (with Pod Security labels) and a NetworkPolicy each.
// The output depends only on seed.
func WriteCorpus(dir string, objects, perFile int, seed int64) error {
	return write(dir, objects, perFile, rand.New(rand.NewSource(seed)))
}

func write(dir string, objects, perFile int, r *rand.Rand) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	const namespaces = 50
	var b strings.Builder
	for n := 0; n < namespaces; n++ {
		level := []string{"restricted", "baseline", "privileged"}[n%3]
		fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns-%d\n  labels:\n    pod-security.kubernetes.io/enforce: %s\n---\n", n, level)
		fmt.Fprintf(&b, "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: app-0\n  namespace: ns-%d\nspec:\n  podSelector:\n    matchLabels: {app: app-0}\n  policyTypes: [Ingress]\n---\n", n)
	}
	if err := os.WriteFile(filepath.Join(dir, "namespaces.yaml"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	file := 0
	for i := 0; i < objects; i += perFile {
		b.Reset()
		for j := i; j < objects && j < i+perFile; j++ {
			writeWorkload(&b, j, r)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("workloads-%04d.yaml", file)), []byte(b.String()), 0o644); err != nil {
			return err
		}
		file++
	}
	return nil
}

var kinds = []struct{ apiVersion, kind string }{
	{"apps/v1", "Deployment"}, {"apps/v1", "Deployment"}, {"apps/v1", "Deployment"},
	{"apps/v1", "StatefulSet"}, {"apps/v1", "DaemonSet"}, {"batch/v1", "Job"},
	{"batch/v1", "CronJob"}, {"v1", "Pod"},
}

func writeWorkload(b *strings.Builder, i int, r *rand.Rand) {
	k := kinds[r.Intn(len(kinds))]
	ns := fmt.Sprintf("ns-%d", r.Intn(50))
	app := fmt.Sprintf("app-%d", i%40)
	fmt.Fprintf(b, "apiVersion: %s\nkind: %s\nmetadata:\n  name: w-%d\n  namespace: %s\n  labels:\n    app: %s\n    team: team-%d\n", k.apiVersion, k.kind, i, ns, app, i%7)
	indent := ""
	switch k.kind {
	case "Pod":
		b.WriteString("spec:\n")
		indent = "  "
	case "CronJob":
		b.WriteString("spec:\n  schedule: \"*/5 * * * *\"\n  jobTemplate:\n    spec:\n      template:\n        metadata:\n          labels:\n            app: " + app + "\n        spec:\n")
		indent = "          "
	default:
		fmt.Fprintf(b, "spec:\n  replicas: %d\n  selector:\n    matchLabels:\n      app: %s\n  template:\n    metadata:\n      labels:\n        app: %s\n    spec:\n", 1+r.Intn(3), app, app)
		indent = "      "
	}
	p := func(format string, args ...any) { b.WriteString(indent + fmt.Sprintf(format, args...) + "\n") }
	if k.kind == "Job" || k.kind == "CronJob" || k.kind == "Pod" {
		p("restartPolicy: OnFailure")
	}
	if r.Intn(3) > 0 {
		p("serviceAccountName: sa-%d", i%11)
		p("automountServiceAccountToken: false")
	}
	if r.Intn(2) == 0 {
		p("securityContext:")
		p("  runAsNonRoot: true")
		p("  runAsUser: %d", 1000+r.Intn(60000))
		p("  seccompProfile:")
		p("    type: RuntimeDefault")
	}
	if r.Intn(20) == 0 {
		p("hostNetwork: true")
	}
	p("containers:")
	containers := 1 + r.Intn(3)
	for c := 0; c < containers; c++ {
		p("- name: c%d", c)
		switch r.Intn(4) {
		case 0:
			p("  image: registry.example.com/team/%s:1.%d.%d@sha256:%064x", app, r.Intn(9), r.Intn(9), r.Int63())
		case 1:
			p("  image: nginx:latest")
		default:
			p("  image: ghcr.io/acme/%s:v%d", app, r.Intn(20))
		}
		p("  ports:")
		p("  - containerPort: %d", 8000+c)
		p("    name: http-%d", c)
		p("  env:")
		p("  - name: LOG_LEVEL")
		p("    value: info")
		if r.Intn(50) == 0 {
			p("  - name: DB_PASSWORD")
			p("    value: hunter2-%d-secret", i)
		}
		p("  - name: DB_HOST")
		p("    valueFrom:")
		p("      configMapKeyRef: {name: db, key: host}")
		if r.Intn(3) > 0 {
			p("  resources:")
			p("    requests: {cpu: 100m, memory: 64Mi}")
			p("    limits: {cpu: 500m, memory: 256Mi}")
		}
		p("  securityContext:")
		if r.Intn(30) == 0 {
			p("    privileged: true")
		}
		p("    allowPrivilegeEscalation: %v", r.Intn(4) > 0)
		p("    readOnlyRootFilesystem: %v", r.Intn(2) == 0)
		p("    capabilities:")
		p("      drop: [ALL]")
		p("  livenessProbe:")
		p("    httpGet: {path: /healthz, port: %d}", 8000+c)
		p("  volumeMounts:")
		p("  - {name: tmp, mountPath: /tmp}")
	}
	p("volumes:")
	p("- name: tmp")
	p("  emptyDir: {}")
	if r.Intn(25) == 0 {
		p("- name: host")
		p("  hostPath: {path: /var/run/docker.sock}")
	}
	b.WriteString("---\n")
}
