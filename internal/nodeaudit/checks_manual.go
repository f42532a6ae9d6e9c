package nodeaudit

import (
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/finding"
)

// Manual CIS items: the right value depends on how the cluster is used, so
// the benchmark leaves the decision to a person. Each is listed in the
// report as MANUAL with what the audit observed, never as a failure and
// never silently left out.

// observeAdmission says whether an admission plugin is on and why.
func observeAdmission(plugin, hint string) func(n *Node) []Result {
	return func(n *Node) []Result {
		c := n.Component(APIServer)
		on, flag := admissionEnabled(c, plugin)
		state := "off"
		if on {
			state = "on"
		}
		return manualResult(c, flag, "admission plugin %s is %s; %s", plugin, state, hint)
	}
}

// observeFlag reports a flag's value, or its default when absent.
func observeFlag(comp ComponentName, flag, def, hint string) func(n *Node) []Result {
	return func(n *Node) []Result {
		c := n.Component(comp)
		if v, ok := c.Flags.Get(flag); ok {
			return manualResult(c, flag, "--%s=%s; %s", flag, v, hint)
		}
		return manualResult(c, flag, "--%s is not set (default %s); %s", flag, def, hint)
	}
}

// observeKubelet reports a kubelet setting, flag or config key.
func observeKubelet(flag string, keys []string, def, hint string) func(n *Node) []Result {
	return func(n *Node) []Result {
		c := n.Component(Kubelet)
		v, src, field, ok := componentSetting(c, flag, keys...)
		if !ok {
			if c.ConfigErr != "" {
				return manualResult(c, "", "--%s (config %s) is not on the command line, and %s: its value is unknown; %s", flag, strings.Join(keys, "."), c.ConfigErr, hint)
			}
			return manualResult(c, "", "--%s (config %s) is not set (default %s); %s", flag, strings.Join(keys, "."), def, hint)
		}
		r := manualResult(c, "", "%s is %s; %s", field, v, hint)
		r[0].File, r[0].Line, r[0].Field = src.Source, src.Line, field
		return r
	}
}

// eventRateLimit observes CIS 1.2.9: whether EventRateLimit is on and the
// limits --admission-control-config-file gives it. EventRateLimit on
// without a valid configuration is also an error of the audit (Load): the
// API server refuses to start (its configuration needs at least one limit).
func eventRateLimit(n *Node) []Result {
	c := n.Component(APIServer)
	on, flag := admissionEnabled(c, "EventRateLimit")
	if !on {
		return manualResult(c, flag, "admission plugin EventRateLimit is off; set its limits in --admission-control-config-file and enable it")
	}
	if why := eventRateLimitUnusable(n); why != "" {
		return manualResult(c, "admission-control-config-file", "admission plugin EventRateLimit is on, but %s", why)
	}
	a := n.APIServerFiles.Admission
	limits := make([]string, 0, len(a.EventRateLimits))
	for _, l := range a.EventRateLimits {
		limits = append(limits, fmt.Sprintf("%s qps=%g burst=%g", l.Type, l.QPS, l.Burst))
	}
	return manualResult(c, "admission-control-config-file", "admission plugin EventRateLimit is on with limits %s (%s); check they suit the cluster", strings.Join(limits, ", "), a.Path)
}

// eventRateLimitUnusable says why EventRateLimit's configuration would stop
// the API server ("" when it is usable).
func eventRateLimitUnusable(n *Node) string {
	a, errs := n.APIServerFiles.Admission, n.APIServerFiles.Errs
	switch {
	case errs["admission-control-config-file"] != "":
		return "its configuration cannot be read: " + errs["admission-control-config-file"]
	case a == nil:
		return "--admission-control-config-file is not set: the plugin has no limits and the API server does not start"
	case a.EventRateLimits == nil:
		return a.Path + " does not configure it: the plugin has no limits and the API server does not start"
	}
	return a.EventRateLimitErr
}

func manualChecks() []Check {
	const api = APIServer
	low, med := finding.SeverityLow, finding.SeverityMedium
	return []Check{
		{ID: "node/apiserver-deny-service-external-ips", Title: "DenyServiceExternalIPs admission plugin", Severity: med, CIS: []string{"1.2.3"}, Component: api, Manual: true,
			Description: "Service externalIPs let whoever creates a Service intercept traffic to any IP (CVE-2020-8554); DenyServiceExternalIPs refuses them. Clusters that use externalIPs cannot enable it.",
			Remediation: "Add DenyServiceExternalIPs to --enable-admission-plugins unless Services need externalIPs.", NSA: []string{"network.control-plane"}, MITRE: []string{"T1557"},
			Evaluate: observeAdmission("DenyServiceExternalIPs", "enable it unless Services need externalIPs")},
		{ID: "node/apiserver-event-rate-limit", Title: "EventRateLimit admission plugin", Severity: low, CIS: []string{"1.2.9"}, Component: api, Manual: true,
			Description: "EventRateLimit bounds the events each namespace, user or source may create, so a noisy or hostile client cannot flood the API server and etcd; its limits need tuning to the cluster.",
			Remediation: "Add EventRateLimit to --enable-admission-plugins and configure its limits in the AdmissionConfiguration that --admission-control-config-file names (a plugin entry with an inline configuration or a path to an eventratelimit.admission.k8s.io Configuration).", MITRE: []string{"T1499"},
			Evaluate: eventRateLimit},
		{ID: "node/apiserver-always-pull-images", Title: "AlwaysPullImages admission plugin", Severity: low, CIS: []string{"1.2.11"}, Component: api, Manual: true,
			Description: "AlwaysPullImages makes every pod pull its images, so a private image cached on a node cannot be used by pods without the pull secret; it adds registry load and a dependency on the registry.",
			Remediation: "Add AlwaysPullImages to --enable-admission-plugins on multi-tenant clusters.", MITRE: []string{"T1525"},
			Evaluate: observeAdmission("AlwaysPullImages", "enable it where tenants must not use each other's cached private images")},
		{ID: "node/apiserver-request-timeout", Title: "API server request timeout", Severity: low, CIS: []string{"1.2.20"}, Component: api, Manual: true,
			Description: "--request-timeout bounds how long a request may run (default 60s); raise it only where large clusters need it.",
			Remediation: "Keep --request-timeout at 60s or set it to what the cluster needs.", MITRE: []string{"T1499"},
			Evaluate: observeFlag(api, "request-timeout", "60s", "check it suits the cluster")},
		{ID: "node/controller-manager-terminated-pod-gc-threshold", Title: "Terminated pod garbage collection threshold", Severity: low, CIS: []string{"1.3.1"}, Component: ControllerManager, Manual: true,
			Description: "Terminated pods are kept until their number reaches --terminated-pod-gc-threshold (default 12500); too many degrade the control plane.",
			Remediation: "Set --terminated-pod-gc-threshold to a value suited to the cluster (e.g. 10 for K3s's hardening guide).", MITRE: []string{"T1499"},
			Evaluate: observeFlag(ControllerManager, "terminated-pod-gc-threshold", "12500", "check it suits the cluster")},
		{ID: "node/authn-client-certificates-for-users", Title: "Client certificates used for users", Severity: med, CIS: []string{"3.1.1"}, Component: api, Manual: true,
			Description: "Client certificates cannot be revoked; users should authenticate with OIDC or another revocable mechanism, keeping certificates for components.",
			Remediation: "Issue users OIDC (--oidc-* or --authentication-config) credentials instead of client certificates.", NSA: []string{"authz.authentication"}, MITRE: []string{"T1078"},
			Evaluate: func(n *Node) []Result {
				c := n.Component(api)
				_, oidc := c.Flags.Get("oidc-issuer-url")
				_, authn := c.Flags.Get("authentication-config")
				return manualResult(c, "client-ca-file", "client certificates are accepted (--client-ca-file); OIDC or structured authentication configured: %t; check no user holds a client certificate", oidc || authn)
			}},
		{ID: "node/authn-service-account-tokens-for-users", Title: "Service-account tokens used for users", Severity: med, CIS: []string{"3.1.2"}, Component: api, Manual: true,
			Description: "Service-account tokens are meant for workloads; handing them to people makes their actions untraceable and their credentials long-lived.",
			Remediation: "Give users their own identities; do not share service-account tokens.", NSA: []string{"authz.authentication"}, MITRE: []string{"T1528"},
			Evaluate: func(n *Node) []Result {
				return manualResult(n.Component(api), "", "service-account token authentication cannot be switched off; check no user authenticates with a service-account token")
			}},
		{ID: "node/authn-bootstrap-tokens-for-users", Title: "Bootstrap tokens used for users", Severity: med, CIS: []string{"3.1.3"}, Component: api, Manual: true,
			Description: "Bootstrap tokens are for joining nodes; used by people they are shared secrets without identity.",
			Remediation: "Use bootstrap tokens only for node joins, with short TTLs.", NSA: []string{"authz.authentication"}, MITRE: []string{"T1078"},
			Evaluate: func(n *Node) []Result {
				c := n.Component(api)
				on, _, _ := c.Flags.Bool("enable-bootstrap-token-auth")
				return manualResult(c, "enable-bootstrap-token-auth", "bootstrap token authentication enabled: %t; check tokens are used only to join nodes", on)
			}},
		{ID: "node/apiserver-audit-policy-coverage", Title: "Audit policy covers key security concerns", Severity: low, CIS: []string{"3.2.2"}, Component: api, Manual: true,
			Description: "An audit policy should record access to Secrets, ConfigMaps and TokenReviews at Metadata level, pod exec/attach and portforward, and changes to RBAC and workloads, without logging Secret bodies.",
			Remediation: "Compare the policy with the one `palisade auditlog policy` prints.", NSA: []string{"logging.audit"}, MITRE: []string{"T1070"},
			Evaluate: func(n *Node) []Result {
				c := n.Component(api)
				p, ok := c.Flags.Get("audit-policy-file")
				if !ok || !n.APIServerFiles.AuditPolicyRead {
					return notApplicable("no audit policy was read (see node/apiserver-audit-policy)")
				}
				return manualResult(c, "audit-policy-file", "%s has %d rules that record events; check it covers Secrets, exec and RBAC changes", p, n.APIServerFiles.AuditRules)
			}},
		{ID: "node/kubelet-event-qps", Title: "Kubelet event rate", Severity: low, CIS: []string{"4.2.8"}, Component: Kubelet, Manual: true,
			Description: "eventRecordQPS limits the events the kubelet creates per second (default 50; 0 means unlimited); too low loses security-relevant events.",
			Remediation: "Set eventRecordQPS to a level that captures the events the cluster needs.", NSA: []string{"logging.worker"},
			Evaluate: observeKubelet("event-qps", []string{"eventRecordQPS"}, "50", "check it captures the events needed")},
		{ID: "node/kubelet-pod-pids-limit", Title: "Kubelet pod PID limit", Severity: low, CIS: []string{"4.2.13"}, Component: Kubelet, Manual: true,
			Description: "podPidsLimit bounds the processes of each pod, so a fork bomb in one pod cannot exhaust the node's PIDs; the default -1 means unlimited.",
			Remediation: "Set podPidsLimit (or --pod-max-pids) to a bound suited to the workloads.", NSA: []string{"network.resource-policies"}, MITRE: []string{"T1499"},
			Evaluate: observeKubelet("pod-max-pids", []string{"podPidsLimit"}, "-1, unlimited", "set a bound suited to the workloads")},
	}
}
