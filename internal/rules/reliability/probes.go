package reliability

import (
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// missingProbe: every regular container of a long-running workload should
// have the probe (liveness or readiness). Init and ephemeral containers
// cannot have these probes, and Jobs and CronJobs run to completion. A
// sidecar declared as a restartable init container (restartPolicy:
// Always) is a long-running container and is judged too.
func missingProbe(liveness bool) *rule.Rule {
	id, title, what := "reliability/readiness-probe", "Readiness probe missing", "readinessProbe"
	why := "Without a readiness probe a container receives traffic as soon as it starts, before it can answer, and keeps receiving it while it is overloaded or its dependencies are down: clients see errors during every rollout and incident."
	fix := "Add a readinessProbe that checks the container can serve (an HTTP endpoint that checks its own dependencies lightly)."
	yaml := "readinessProbe:\n  httpGet:\n    path: /ready\n    port: http\n  periodSeconds: 5"
	if liveness {
		id, title, what = "reliability/liveness-probe", "Liveness probe missing", "livenessProbe"
		why = "Without a liveness probe the kubelet only restarts a container whose process exits: a deadlocked or wedged process stays in service, failing, until someone notices."
		fix = "Add a livenessProbe that fails only when the process cannot recover by itself (not when a dependency is down)."
		yaml = "livenessProbe:\n  httpGet:\n    path: /healthz\n    port: http\n  periodSeconds: 10\n  failureThreshold: 3"
	}
	return &rule.Rule{
		ID: id, Title: title, Severity: finding.SeverityLow, Description: why, Remediation: fix, RemediationYAML: yaml,
		References: []finding.Reference{refProbes}, Tags: tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			if !serving(w) {
				return nil
			}
			var out []rule.Violation
			for _, c := range w.Containers() {
				if c.Ephemeral || (c.Init && !restartable(c.Container)) {
					continue
				}
				p := c.ReadinessProbe
				if liveness {
					p = c.LivenessProbe
				}
				if p == nil {
					out = append(out, rule.Violation{Container: c.Name, Field: w.Field(c.Path),
						Message: fmt.Sprintf("container %q has no %s", c.Name, what)})
				}
			}
			return out
		},
	}
}

func livenessProbe() *rule.Rule  { return missingProbe(true) }
func readinessProbe() *rule.Rule { return missingProbe(false) }

// restartable reports a sidecar: an init container with restartPolicy
// Always runs beside the regular containers for the pod's whole life.
func restartable(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// probePort: a probe that names its port (httpGet.port or tcpSocket.port
// "http") must name a port the container declares; otherwise the kubelet
// cannot resolve it and the probe fails for ever (kube-linter
// liveness-port, readiness-port, startup-port). Numeric ports are not
// checked: a container may listen on a port it does not declare.
func probePort() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/probe-port", Title: "Probe names a port the container does not declare", Severity: finding.SeverityMedium,
		Description:     "A probe whose port is a name the container's ports do not define can never succeed: a liveness probe restarts the container in a loop, a readiness probe keeps it out of service, a startup probe never lets it start.",
		Remediation:     "Name the port in the container's ports, or use the number.",
		RemediationYAML: "ports:\n- name: http\n  containerPort: 8080\nlivenessProbe:\n  httpGet:\n    path: /healthz\n    port: http",
		References:      []finding.Reference{refProbes}, Tags: tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			var out []rule.Violation
			for _, c := range w.Containers() {
				names := map[string]bool{}
				for _, p := range c.Ports {
					if p.Name != "" {
						names[p.Name] = true
					}
				}
				for _, p := range []struct {
					kind  string
					probe *corev1.Probe
				}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}, {"startupProbe", c.StartupProbe}} {
					port, field := namedProbePort(p.probe)
					if port == "" || names[port] {
						continue
					}
					out = append(out, rule.Violation{Container: c.Name, Field: w.Field(fmt.Sprintf("%s.%s.%s", c.Path, p.kind, field)),
						Message: fmt.Sprintf("container %q %s uses port %q, which is not one of its ports", c.Name, p.kind, port)})
				}
			}
			return out
		},
	}
}

// namedProbePort returns the port name a probe uses and its field, or "".
func namedProbePort(p *corev1.Probe) (string, string) {
	if p == nil {
		return "", ""
	}
	named := func(v intstr.IntOrString) string {
		if v.Type == intstr.String {
			return v.StrVal
		}
		return ""
	}
	switch {
	case p.HTTPGet != nil:
		return named(p.HTTPGet.Port), "httpGet.port"
	case p.TCPSocket != nil:
		return named(p.TCPSocket.Port), "tcpSocket.port"
	}
	return "", ""
}

// probesIdentical: a container's liveness and readiness probes should not
// be the same check with the same timing (kube-score pod-probes-identical):
// then a container that is briefly unready, under load, is restarted
// instead of rested, and a slow dependency restarts every replica at once.
func probesIdentical() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/probes-identical", Title: "Liveness and readiness probes are identical", Severity: finding.SeverityLow,
		Description:     "When liveness and readiness are the same check, a container that is only temporarily unable to serve (overloaded, waiting for a dependency) is killed as well as taken out of service: load spikes and dependency outages turn into restart storms.",
		Remediation:     "Make the liveness probe check only that the process is alive (a cheap endpoint, a higher failureThreshold); keep dependency checks in the readiness probe.",
		RemediationYAML: "livenessProbe:\n  httpGet: {path: /healthz, port: http}\n  failureThreshold: 6\nreadinessProbe:\n  httpGet: {path: /ready, port: http}",
		References:      []finding.Reference{refProbes}, Tags: tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			var out []rule.Violation
			for _, c := range w.Containers() {
				if c.LivenessProbe != nil && c.ReadinessProbe != nil && reflect.DeepEqual(c.LivenessProbe, c.ReadinessProbe) {
					out = append(out, rule.Violation{Container: c.Name, Field: w.Field(c.Path + ".livenessProbe"),
						Message: fmt.Sprintf("container %q uses the same check for liveness and readiness", c.Name)})
				}
			}
			return out
		},
	}
}
