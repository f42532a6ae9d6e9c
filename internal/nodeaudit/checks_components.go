package nodeaudit

import (
	"strings"

	"github.com/palisade-sec/palisade/internal/finding"
)

func etcdChecks() []Check {
	const e = Etcd
	return []Check{
		{ID: "node/etcd-client-tls", Title: "etcd serves clients without TLS", Severity: finding.SeverityHigh, CIS: []string{"2.1"}, Component: e,
			Description: "etcd holds every Secret; clients must reach it over TLS only.",
			Remediation: "Set --cert-file and --key-file, and only https:// --listen-client-urls.",
			Evaluate: func(n *Node) []Result {
				c := n.Component(e)
				out := flagsSet(e, "cert-file", "key-file")(n)
				urls, _ := c.Flags.Get("listen-client-urls")
				for _, u := range listValue(urls) {
					if strings.HasPrefix(u, "http://") {
						out = append(out, failFlag(c, "listen-client-urls", "etcd listens for clients on plain HTTP: %s", u))
					}
				}
				return out
			}},
		{ID: "node/etcd-client-cert-auth", Title: "etcd does not require client certificates", Severity: finding.SeverityHigh, CIS: []string{"2.2"}, Component: e,
			Description: "Without client certificate authentication anyone who reaches etcd's port reads and writes all cluster state.",
			Remediation: "Set --client-cert-auth=true and --trusted-ca-file.", Evaluate: flagBool(e, "client-cert-auth", true, false)},
		{ID: "node/etcd-auto-tls", Title: "etcd uses self-signed client TLS", Severity: finding.SeverityMedium, CIS: []string{"2.3"}, Component: e,
			Description: "--auto-tls generates self-signed certificates that clients cannot verify.",
			Remediation: "Remove --auto-tls or set it to false; use certificates from the cluster CA.", Evaluate: flagBool(e, "auto-tls", false, false)},
		{ID: "node/etcd-peer-tls", Title: "etcd peers talk without TLS", Severity: finding.SeverityHigh, CIS: []string{"2.4"}, Component: e,
			Description: "Peer traffic replicates all data between etcd members and must be encrypted.",
			Remediation: "Set --peer-cert-file and --peer-key-file.", Evaluate: flagsSet(e, "peer-cert-file", "peer-key-file")},
		{ID: "node/etcd-peer-client-cert-auth", Title: "etcd does not authenticate peers", Severity: finding.SeverityHigh, CIS: []string{"2.5"}, Component: e,
			Description: "Without peer certificate authentication any host can join or impersonate a member.",
			Remediation: "Set --peer-client-cert-auth=true.", Evaluate: flagBool(e, "peer-client-cert-auth", true, false)},
		{ID: "node/etcd-peer-auto-tls", Title: "etcd uses self-signed peer TLS", Severity: finding.SeverityMedium, CIS: []string{"2.6"}, Component: e,
			Description: "--peer-auto-tls generates self-signed peer certificates that members cannot verify.",
			Remediation: "Remove --peer-auto-tls or set it to false.", Evaluate: flagBool(e, "peer-auto-tls", false, false)},
		{ID: "node/etcd-unique-ca", Title: "etcd trusts the cluster's client CA", Severity: finding.SeverityMedium, CIS: []string{"2.7"}, Component: e,
			Description: "If etcd trusts the same CA as the API server's clients, every client certificate of the cluster (kubelets, users) can talk to etcd directly.",
			Remediation: "Give etcd its own CA (--trusted-ca-file) distinct from the API server's --client-ca-file.",
			Evaluate: func(n *Node) []Result {
				c := n.Component(e)
				etcdCA, ok1 := c.Flags.Get("trusted-ca-file")
				apiCA, ok2 := n.Component(APIServer).Flags.Get("client-ca-file")
				if !ok1 || !ok2 {
					return notApplicable("needs both etcd's --trusted-ca-file and the API server's --client-ca-file on this node")
				}
				if etcdCA == apiCA {
					return []Result{failFlag(c, "trusted-ca-file", "etcd --trusted-ca-file is the API server's --client-ca-file (%s)", etcdCA)}
				}
				return nil
			}},
	}
}

func controlPlaneChecks() []Check {
	const cm, sch = ControllerManager, Scheduler
	return []Check{
		{ID: "node/controller-manager-profiling", Title: "Controller manager profiling enabled", Severity: finding.SeverityLow, CIS: []string{"1.3.2"}, Component: cm,
			Description: "The profiling endpoints reveal internals and can be used to load the component.",
			Remediation: "Set --profiling=false.", Evaluate: flagBool(cm, "profiling", false, true)},
		{ID: "node/controller-manager-service-account-credentials", Title: "Controllers share the controller manager's identity", Severity: finding.SeverityMedium, CIS: []string{"1.3.3"}, Component: cm,
			Description: "With separate service-account credentials each controller runs with only its own RBAC role instead of the manager's broad one.",
			Remediation: "Set --use-service-account-credentials=true.", Evaluate: flagBool(cm, "use-service-account-credentials", true, false)},
		{ID: "node/controller-manager-service-account-keys", Title: "Controller manager lacks service-account key or root CA", Severity: finding.SeverityMedium, CIS: []string{"1.3.4", "1.3.5"}, Component: cm,
			Description: "The controller manager signs service-account tokens with a private key and gives pods the root CA to verify the API server.",
			Remediation: "Set --service-account-private-key-file and --root-ca-file.",
			Evaluate:    flagsSet(cm, "service-account-private-key-file", "root-ca-file")},
		{ID: "node/controller-manager-rotate-kubelet-server-cert", Title: "Kubelet serving certificate rotation switched off", Severity: finding.SeverityMedium, CIS: []string{"1.3.6"}, Component: cm,
			Description: "RotateKubeletServerCertificate lets kubelets renew their serving certificates before they expire.",
			Remediation: "Do not set RotateKubeletServerCertificate=false in --feature-gates.", Evaluate: featureGateNotFalse(cm, "RotateKubeletServerCertificate")},
		{ID: "node/controller-manager-bind-address", Title: "Controller manager listens beyond localhost", Severity: finding.SeverityMedium, CIS: []string{"1.3.7"}, Component: cm,
			Description: "The controller manager's port serves health and metrics; there is no reason to expose it on other interfaces.",
			Remediation: "Set --bind-address=127.0.0.1.", Evaluate: bindLoopback(cm)},
		{ID: "node/scheduler-profiling", Title: "Scheduler profiling enabled", Severity: finding.SeverityLow, CIS: []string{"1.4.1"}, Component: sch,
			Description: "The profiling endpoints reveal internals and can be used to load the component.",
			Remediation: "Set --profiling=false.", Evaluate: flagBool(sch, "profiling", false, true)},
		{ID: "node/scheduler-bind-address", Title: "Scheduler listens beyond localhost", Severity: finding.SeverityMedium, CIS: []string{"1.4.2"}, Component: sch,
			Description: "The scheduler's port serves health and metrics; there is no reason to expose it on other interfaces.",
			Remediation: "Set --bind-address=127.0.0.1.", Evaluate: bindLoopback(sch)},
	}
}

// kubeletIs requires a kubelet setting (flag or configuration file key) to
// equal want. Defaults differ: a kubelet with a configuration file gets
// the KubeletConfiguration defaults (cfgDef), one without gets the flag
// defaults (flagDef).
func kubeletIs(flag string, keys []string, want, flagDef, cfgDef string) func(n *Node) []Result {
	return func(n *Node) []Result {
		k := n.Component(Kubelet)
		v, src, ok := kubeletSetting(k, flag, keys...)
		field := "--" + flag
		if !ok {
			def := flagDef
			if k.Config != nil {
				def = cfgDef
			}
			if strings.EqualFold(def, want) {
				return nil
			}
			return []Result{{Status: Fail, Object: componentRef(Kubelet), File: k.Source, Field: field,
				Message: "--" + flag + " (config " + strings.Join(keys, ".") + ") is not set and defaults to " + def + ", want " + want}}
		}
		if src == k.ConfigPath && k.ConfigPath != "" {
			field = strings.Join(keys, ".")
		}
		if !strings.EqualFold(v, want) {
			return []Result{{Status: Fail, Object: componentRef(Kubelet), File: src, Field: field, Message: field + " is " + v + ", want " + want}}
		}
		return nil
	}
}

func kubeletChecks() []Check {
	const k = Kubelet
	return []Check{
		{ID: "node/kubelet-anonymous-auth", Title: "Kubelet allows anonymous requests", Severity: finding.SeverityHigh, CIS: []string{"4.2.1"}, Component: k,
			Description: "An anonymous kubelet API lets anyone who reaches port 10250 list pods and, with weak authorization, run commands in them.",
			Remediation: "Set authentication.anonymous.enabled: false in the kubelet config (or --anonymous-auth=false).",
			Evaluate:    kubeletIs("anonymous-auth", []string{"authentication", "anonymous", "enabled"}, "false", "true", "false")},
		{ID: "node/kubelet-authorization-mode", Title: "Kubelet does not authorize through the API server", Severity: finding.SeverityHigh, CIS: []string{"4.2.2"}, Component: k,
			Description: "With AlwaysAllow every authenticated caller may exec into any pod of the node; Webhook asks the API server (SubjectAccessReview).",
			Remediation: "Set authorization.mode: Webhook in the kubelet config (or --authorization-mode=Webhook).",
			Evaluate:    kubeletIs("authorization-mode", []string{"authorization", "mode"}, "Webhook", "AlwaysAllow", "Webhook")},
		{ID: "node/kubelet-client-ca", Title: "Kubelet has no client CA", Severity: finding.SeverityMedium, CIS: []string{"4.2.3"}, Component: k,
			Description: "Without a client CA the kubelet cannot authenticate the API server's client certificate.",
			Remediation: "Set authentication.x509.clientCAFile (or --client-ca-file).",
			Evaluate: func(n *Node) []Result {
				c := n.Component(k)
				if v, _, ok := kubeletSetting(c, "client-ca-file", "authentication", "x509", "clientCAFile"); ok && v != "" {
					return nil
				}
				return []Result{{Status: Fail, Object: componentRef(k), File: c.Source, Field: "--client-ca-file", Message: "no client CA file (--client-ca-file or authentication.x509.clientCAFile)"}}
			}},
		{ID: "node/kubelet-read-only-port", Title: "Kubelet read-only port open", Severity: finding.SeverityMedium, CIS: []string{"4.2.4"}, Component: k,
			Description: "The read-only port (10255) serves pod and node details without any authentication.",
			Remediation: "Set readOnlyPort: 0 in the kubelet config (or --read-only-port=0).",
			Evaluate:    kubeletIs("read-only-port", []string{"readOnlyPort"}, "0", "10255", "0")},
		{ID: "node/kubelet-rotate-certificates", Title: "Kubelet client certificate rotation off", Severity: finding.SeverityMedium, CIS: []string{"4.2.10"}, Component: k,
			Description: "Without rotation the kubelet's client certificate expires or must be long-lived.",
			Remediation: "Set rotateCertificates: true (or remove --rotate-certificates=false).",
			Evaluate: func(n *Node) []Result {
				c := n.Component(k)
				if v, src, ok := kubeletSetting(c, "rotate-certificates", "rotateCertificates"); ok && strings.EqualFold(v, "false") {
					return []Result{{Status: Fail, Object: componentRef(k), File: src, Field: "rotateCertificates", Message: "certificate rotation is switched off"}}
				}
				return nil
			}},
		{ID: "node/kubelet-protect-kernel-defaults", Title: "Kubelet does not protect kernel defaults", Severity: finding.SeverityLow, CIS: []string{"4.2.6 (v1.8)"}, K3s: []string{"4.2.6"}, Component: k,
			Description: "With protect-kernel-defaults the kubelet refuses to start when kernel tunables differ from what it expects instead of silently changing them.",
			Remediation: "Set protectKernelDefaults: true (K3s: protect-kernel-defaults: true) after setting the kernel parameters.",
			Evaluate:    kubeletIs("protect-kernel-defaults", []string{"protectKernelDefaults"}, "true", "false", "false")},
	}
}
