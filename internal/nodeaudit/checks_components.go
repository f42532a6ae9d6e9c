package nodeaudit

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
)

func etcdChecks() []Check {
	const e = Etcd
	return []Check{
		{ID: "node/etcd-client-tls", Title: "etcd serves clients without TLS", Severity: finding.SeverityHigh, CIS: []string{"2.1"}, Component: e,
			Description: "etcd holds every Secret; clients must reach it over TLS only.",
			Remediation: "Set --cert-file and --key-file, and only https:// --listen-client-urls.", NSA: []string{"network.etcd", "network.encryption"}, MITRE: []string{"T1557", "T1552"},
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
			Remediation: "Set --client-cert-auth=true and --trusted-ca-file.", NSA: []string{"network.etcd"}, MITRE: []string{"T1552"}, Evaluate: flagBool(e, "client-cert-auth", true, false)},
		{ID: "node/etcd-auto-tls", Title: "etcd uses self-signed client TLS", Severity: finding.SeverityMedium, CIS: []string{"2.3"}, Component: e,
			Description: "--auto-tls generates self-signed certificates that clients cannot verify.",
			Remediation: "Remove --auto-tls or set it to false; use certificates from the cluster CA.", NSA: []string{"network.etcd"}, MITRE: []string{"T1557"}, Evaluate: flagBool(e, "auto-tls", false, false)},
		{ID: "node/etcd-peer-tls", Title: "etcd peers talk without TLS", Severity: finding.SeverityHigh, CIS: []string{"2.4"}, Component: e,
			Description: "Peer traffic replicates all data between etcd members and must be encrypted.",
			Remediation: "Set --peer-cert-file and --peer-key-file.", NSA: []string{"network.etcd", "network.encryption"}, MITRE: []string{"T1557"}, Evaluate: flagsSet(e, "peer-cert-file", "peer-key-file")},
		{ID: "node/etcd-peer-client-cert-auth", Title: "etcd does not authenticate peers", Severity: finding.SeverityHigh, CIS: []string{"2.5"}, Component: e,
			Description: "Without peer certificate authentication any host can join or impersonate a member.",
			Remediation: "Set --peer-client-cert-auth=true.", NSA: []string{"network.etcd"}, MITRE: []string{"T1557"}, Evaluate: flagBool(e, "peer-client-cert-auth", true, false)},
		{ID: "node/etcd-peer-auto-tls", Title: "etcd uses self-signed peer TLS", Severity: finding.SeverityMedium, CIS: []string{"2.6"}, Component: e,
			Description: "--peer-auto-tls generates self-signed peer certificates that members cannot verify.",
			Remediation: "Remove --peer-auto-tls or set it to false.", NSA: []string{"network.etcd"}, MITRE: []string{"T1557"}, Evaluate: flagBool(e, "peer-auto-tls", false, false)},
		{ID: "node/etcd-unique-ca", Title: "etcd trusts the cluster's client CA", Severity: finding.SeverityMedium, CIS: []string{"2.7"}, Component: e,
			Description: "If etcd trusts the same CA as the API server's clients, every client certificate of the cluster (kubelets, users) can talk to etcd directly.",
			Remediation: "Give etcd its own CA (--trusted-ca-file) distinct from the API server's --client-ca-file.", NSA: []string{"network.etcd"}, MITRE: []string{"T1552"},
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
			Remediation: "Set --profiling=false.", NSA: []string{"network.control-plane"}, MITRE: []string{"T1046"}, Evaluate: flagBool(cm, "profiling", false, true)},
		{ID: "node/controller-manager-service-account-credentials", Title: "Controllers share the controller manager's identity", Severity: finding.SeverityMedium, CIS: []string{"1.3.3"}, Component: cm,
			Description: "With separate service-account credentials each controller runs with only its own RBAC role instead of the manager's broad one.",
			Remediation: "Set --use-service-account-credentials=true.", NSA: []string{"authz.rbac"}, MITRE: []string{"T1078"}, Evaluate: flagBool(cm, "use-service-account-credentials", true, false)},
		{ID: "node/controller-manager-service-account-keys", Title: "Controller manager lacks service-account key or root CA", Severity: finding.SeverityMedium, CIS: []string{"1.3.4", "1.3.5"}, Component: cm,
			Description: "The controller manager signs service-account tokens with a private key and gives pods the root CA to verify the API server.",
			Remediation: "Set --service-account-private-key-file and --root-ca-file.", NSA: []string{"pod-security.sa-tokens"}, MITRE: []string{"T1528", "T1557"},
			Evaluate: flagsSet(cm, "service-account-private-key-file", "root-ca-file")},
		{ID: "node/controller-manager-rotate-kubelet-server-cert", Title: "Kubelet serving certificate rotation switched off", Severity: finding.SeverityMedium, CIS: []string{"1.3.6"}, Component: cm,
			Description: "RotateKubeletServerCertificate lets kubelets renew their serving certificates before they expire.",
			Remediation: "Do not set RotateKubeletServerCertificate=false in --feature-gates.", NSA: []string{"network.encryption"}, Evaluate: featureGateNotFalse(cm, "RotateKubeletServerCertificate")},
		{ID: "node/controller-manager-bind-address", Title: "Controller manager listens beyond localhost", Severity: finding.SeverityMedium, CIS: []string{"1.3.7"}, Component: cm,
			Description: "The controller manager's port serves health and metrics; there is no reason to expose it on other interfaces.",
			Remediation: "Set --bind-address=127.0.0.1.", NSA: []string{"network.control-plane"}, MITRE: []string{"T1046"}, Evaluate: bindLoopback(cm, "bind-address")},
		{ID: "node/scheduler-profiling", Title: "Scheduler profiling enabled", Severity: finding.SeverityLow, CIS: []string{"1.4.1"}, Component: sch,
			Description: "The profiling endpoints reveal internals and can be used to load the component. With --config the scheduler ignores --profiling and reads enableProfiling (default true) from the file.",
			Remediation: "Set --profiling=false, or enableProfiling: false in the KubeSchedulerConfiguration given with --config.", NSA: []string{"network.control-plane"}, MITRE: []string{"T1046"},
			Evaluate: settingBool(sch, "profiling", []string{"enableProfiling"}, false, true)},
		{ID: "node/scheduler-bind-address", Title: "Scheduler listens beyond localhost", Severity: finding.SeverityMedium, CIS: []string{"1.4.2"}, Component: sch,
			Description: "The scheduler's port serves health and metrics; there is no reason to expose it on other interfaces.",
			Remediation: "Set --bind-address=127.0.0.1.", NSA: []string{"network.control-plane"}, MITRE: []string{"T1046"}, Evaluate: bindLoopback(sch, "bind-address")},
	}
}

// settingBool requires a boolean setting of the component (flag or
// --config key, with the component's precedence; see componentSetting) to
// be want; def applies when neither sets it.
func settingBool(comp ComponentName, flag string, keys []string, want, def bool) func(n *Node) []Result {
	return func(n *Node) []Result {
		c := n.Component(comp)
		v, src, field, ok := componentSetting(c, flag, keys...)
		if !ok {
			if r, unread := configUnread(c, flag, keys, strconv.FormatBool(want)); unread {
				return []Result{r}
			}
			if def == want {
				return nil
			}
			return []Result{{Status: Fail, Object: componentRef(comp), File: c.Source, Field: "--" + flag,
				Message: fmt.Sprintf("--%s (config %s) is not set; it defaults to %t, want %t", flag, strings.Join(keys, "."), def, want)}}
		}
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return []Result{{Status: Fail, Object: componentRef(comp), File: src.Source, Line: src.Line, Field: field, Message: fmt.Sprintf("%s=%q is not a boolean: the component refuses to start", field, v)}}
		}
		if b != want {
			return []Result{{Status: Fail, Object: componentRef(comp), File: src.Source, Line: src.Line, Field: field, Message: fmt.Sprintf("%s is %s, want %t", field, v, want)}}
		}
		return nil
	}
}

// kubeletIs requires a kubelet setting (flag or configuration file key) to
// equal want. Defaults differ: a kubelet with a configuration file gets
// the KubeletConfiguration defaults (cfgDef), one without gets the flag
// defaults (flagDef).
func kubeletIs(flag string, keys []string, want, flagDef, cfgDef string) func(n *Node) []Result {
	return func(n *Node) []Result {
		k := n.Component(Kubelet)
		v, src, field, ok := componentSetting(k, flag, keys...)
		if !ok {
			if r, unread := configUnread(k, flag, keys, want); unread {
				return []Result{r}
			}
			def := flagDef
			if k.Config != nil {
				def = cfgDef
			}
			if strings.EqualFold(def, want) {
				return nil
			}
			return []Result{{Status: Fail, Object: componentRef(Kubelet), File: k.Source, Field: "--" + flag,
				Message: "--" + flag + " (config " + strings.Join(keys, ".") + ") is not set and defaults to " + def + ", want " + want}}
		}
		if !sameValue(v, want) {
			return []Result{{Status: Fail, Object: componentRef(Kubelet), File: src.Source, Line: src.Line, Field: field, Message: field + " is " + v + ", want " + want}}
		}
		return nil
	}
}

// sameValue compares a setting with the wanted value, as booleans when
// both read as booleans (a flag "1" is true), else case-insensitively.
func sameValue(v, want string) bool {
	bv, err1 := strconv.ParseBool(strings.TrimSpace(v))
	bw, err2 := strconv.ParseBool(want)
	if err1 == nil && err2 == nil {
		return bv == bw
	}
	return strings.EqualFold(strings.TrimSpace(v), want)
}

func kubeletChecks() []Check {
	const k = Kubelet
	return []Check{
		{ID: "node/kubelet-anonymous-auth", Title: "Kubelet allows anonymous requests", Severity: finding.SeverityHigh, CIS: []string{"4.2.1"}, Component: k,
			Description:    "An anonymous kubelet API lets anyone who reaches port 10250 list pods and, with weak authorization, run commands in them.",
			Remediation:    "Set authentication.anonymous.enabled: false in the kubelet config (or --anonymous-auth=false).",
			RemediationFor: map[Distribution]string{K3s: "K3s sets --anonymous-auth=false; remove any kubelet-arg that sets it to true.", MicroK8s: "Add --anonymous-auth=false to /var/snap/microk8s/current/args/kubelet."},
			NSA:            []string{"authz.authentication", "network.worker-segmentation"}, MITRE: []string{"T1609", "T1078.001"},
			Evaluate: kubeletIs("anonymous-auth", []string{"authentication", "anonymous", "enabled"}, "false", "true", "false")},
		{ID: "node/kubelet-authorization-mode", Title: "Kubelet does not authorize through the API server", Severity: finding.SeverityHigh, CIS: []string{"4.2.2"}, Component: k,
			Description: "With AlwaysAllow every authenticated caller may exec into any pod of the node; Webhook asks the API server (SubjectAccessReview).",
			Remediation: "Set authorization.mode: Webhook in the kubelet config (or --authorization-mode=Webhook).",
			NSA:         []string{"authz.rbac", "network.worker-segmentation"}, MITRE: []string{"T1609"},
			Evaluate: kubeletIs("authorization-mode", []string{"authorization", "mode"}, "Webhook", "AlwaysAllow", "Webhook")},
		{ID: "node/kubelet-client-ca", Title: "Kubelet has no client CA", Severity: finding.SeverityMedium, CIS: []string{"4.2.3"}, Component: k,
			Description: "Without a client CA the kubelet cannot authenticate the API server's client certificate.",
			Remediation: "Set authentication.x509.clientCAFile (or --client-ca-file).", NSA: []string{"authz.authentication"}, MITRE: []string{"T1557"},
			Evaluate: func(n *Node) []Result {
				c := n.Component(k)
				if v, _, ok := kubeletSetting(c, "client-ca-file", "authentication", "x509", "clientCAFile"); ok && v != "" {
					return nil
				}
				if r, unread := configUnread(c, "client-ca-file", []string{"authentication", "x509", "clientCAFile"}, "a client CA file"); unread {
					return []Result{r}
				}
				return []Result{{Status: Fail, Object: componentRef(k), File: c.Source, Field: "--client-ca-file", Message: "no client CA file (--client-ca-file or authentication.x509.clientCAFile)"}}
			}},
		{ID: "node/kubelet-read-only-port", Title: "Kubelet read-only port open", Severity: finding.SeverityMedium, CIS: []string{"4.2.4"}, Component: k,
			Description: "The read-only port (10255) serves pod and node details without any authentication.",
			Remediation: "Set readOnlyPort: 0 in the kubelet config (or --read-only-port=0).", NSA: []string{"network.worker-segmentation"}, MITRE: []string{"T1613"},
			Evaluate: kubeletIs("read-only-port", []string{"readOnlyPort"}, "0", "10255", "0")},
		{ID: "node/kubelet-streaming-connection-idle-timeout", Title: "Kubelet streaming connections never time out", Severity: finding.SeverityLow, CIS: []string{"4.2.5"}, Component: k,
			Description: "With a streaming connection idle timeout of 0, exec, attach and port-forward sessions stay open forever, which keeps forgotten sessions usable and lets idle connections exhaust the kubelet.",
			Remediation: "Set streamingConnectionIdleTimeout (or --streaming-connection-idle-timeout) to a non-zero duration such as 5m; the default is 4h.",
			NSA:         []string{"network.worker-segmentation"}, MITRE: []string{"T1499"},
			Evaluate: func(n *Node) []Result {
				c := n.Component(k)
				v, src, field, ok := componentSetting(c, "streaming-connection-idle-timeout", "streamingConnectionIdleTimeout")
				if !ok {
					return nil
				}
				if d, err := time.ParseDuration(strings.TrimSpace(v)); err == nil && d == 0 {
					return []Result{{Status: Fail, Object: componentRef(k), File: src.Source, Line: src.Line, Field: field, Message: field + " is " + v + ": streaming connections never time out"}}
				} else if err != nil {
					return []Result{{Status: Fail, Object: componentRef(k), File: src.Source, Line: src.Line, Field: field, Message: fmt.Sprintf("%s=%q is not a duration: the kubelet refuses to start", field, v)}}
				}
				return nil
			}},
		{ID: "node/kubelet-make-iptables-util-chains", Title: "Kubelet does not manage its iptables chains", Severity: finding.SeverityLow, CIS: []string{"4.2.6"}, Component: k,
			Description: "With makeIPTablesUtilChains false the kubelet leaves the iptables chains it relies on to whoever edits them, so its network rules can drift from pod configuration.",
			Remediation: "Remove makeIPTablesUtilChains: false (or --make-iptables-util-chains=false); it defaults to true.",
			NSA:         []string{"network.worker-segmentation"},
			Evaluate:    kubeletIs("make-iptables-util-chains", []string{"makeIPTablesUtilChains"}, "true", "true", "true")},
		// Manual in CIS 1.12, automated here: the flag is either set or
		// not. K3s and RKE2 set the flag themselves, and their
		// self-assessments mark the item not applicable ("to comply with
		// cloud providers that require this flag"); so does this check.
		{ID: "node/kubelet-hostname-override", Title: "Kubelet hostname overridden", Severity: finding.SeverityLow, CIS: []string{"4.2.7"}, Component: k,
			Description: "--hostname-override makes the kubelet register under a name that need not match its host or its serving certificate, which can break TLS between the API server and the kubelet and lets node names drift from the machines they stand for.",
			Remediation: "Remove --hostname-override unless the cloud provider requires it.",
			NSA:         []string{"network.worker-segmentation"}, MITRE: []string{"T1557"},
			Evaluate: func(n *Node) []Result {
				if n.Distribution == K3s || n.Distribution == RKE2 {
					return notApplicable("%s sets --hostname-override itself; its CIS self-assessment marks 4.2.7 not applicable", n.Distribution)
				}
				c := n.Component(k)
				if v, ok := c.Flags.Get("hostname-override"); ok {
					return []Result{failFlag(c, "hostname-override", "--hostname-override=%s: the kubelet registers under a name other than its host's", v)}
				}
				return nil
			}},
		{ID: "node/kubelet-serving-certificate", Title: "Kubelet serves a self-signed certificate", Severity: finding.SeverityMedium, CIS: []string{"4.2.9", "4.2.11"}, Component: k,
			Description:    "Without tlsCertFile/tlsPrivateKeyFile or serverTLSBootstrap (rotate-server-certificates), the kubelet generates a self-signed serving certificate that the API server cannot verify, so connections to it can be intercepted; RotateKubeletServerCertificate=false stops the bootstrap from renewing it.",
			Remediation:    "Set serverTLSBootstrap: true (and approve the kubelets' serving CSRs) or tlsCertFile and tlsPrivateKeyFile; do not switch RotateKubeletServerCertificate off.",
			RemediationFor: map[Distribution]string{K3s: "K3s gives the kubelet a serving certificate (agent/serving-kubelet.crt); remove kubelet-args that override --tls-cert-file.", RKE2: "RKE2 gives the kubelet a serving certificate (agent/serving-kubelet.crt); remove kubelet-args that override --tls-cert-file."},
			NSA:            []string{"network.encryption"}, MITRE: []string{"T1557"},
			Evaluate: func(n *Node) []Result {
				c := n.Component(k)
				cert, _, certOK := kubeletSetting(c, "tls-cert-file", "tlsCertFile")
				key, _, keyOK := kubeletSetting(c, "tls-private-key-file", "tlsPrivateKeyFile")
				boot, src, field, bootOK := componentSetting(c, "rotate-server-certificates", "serverTLSBootstrap")
				gates, _ := c.Flags.Get("feature-gates")
				if g, ok := FeatureGates(gates)["RotateKubeletServerCertificate"]; ok && strings.EqualFold(g, "false") {
					return []Result{failFlag(c, "feature-gates", "--feature-gates switches RotateKubeletServerCertificate off")}
				}
				if fg, ok := c.Config["featureGates"].(map[string]any); ok && scalar(fg["RotateKubeletServerCertificate"]) == "false" {
					return []Result{{Status: Fail, Object: componentRef(k), File: c.ConfigPath, Field: "featureGates.RotateKubeletServerCertificate", Message: "featureGates switches RotateKubeletServerCertificate off"}}
				}
				if certOK && keyOK && cert != "" && key != "" {
					return nil
				}
				if bootOK && sameValue(boot, "true") {
					return nil
				}
				r := Result{Status: Fail, Object: componentRef(k), File: c.Source, Field: "tlsCertFile", Message: "neither tlsCertFile/tlsPrivateKeyFile nor serverTLSBootstrap is set: the kubelet serves a self-signed certificate"}
				if bootOK {
					r.File, r.Line, r.Field = src.Source, src.Line, field
					r.Message = field + " is " + boot + " and no tlsCertFile/tlsPrivateKeyFile is set: the kubelet serves a self-signed certificate"
				}
				return []Result{r}
			}},
		{ID: "node/kubelet-rotate-certificates", Title: "Kubelet client certificate rotation off", Severity: finding.SeverityMedium, CIS: []string{"4.2.10"}, Component: k,
			Description: "Without rotation the kubelet's client certificate expires or must be long-lived.",
			Remediation: "Set rotateCertificates: true (or remove --rotate-certificates=false).", NSA: []string{"authz.authentication"},
			Evaluate: func(n *Node) []Result {
				c := n.Component(k)
				if v, src, field, ok := componentSetting(c, "rotate-certificates", "rotateCertificates"); ok && sameValue(v, "false") {
					return []Result{{Status: Fail, Object: componentRef(k), File: src.Source, Line: src.Line, Field: field, Message: "certificate rotation is switched off (" + field + " is " + v + ")"}}
				}
				return nil
			}},
		{ID: "node/kubelet-tls-ciphers", Title: "Kubelet allows weak TLS", Severity: finding.SeverityLow, CIS: []string{"4.2.12"}, Component: k,
			Description: "Without tlsCipherSuites the kubelet accepts Go's default suites, which include ECDHE CBC-SHA suites without AEAD; TLS below 1.2 is weaker still.",
			Remediation: "Set tlsCipherSuites (or --tls-cipher-suites) to ECDHE AEAD suites only.",
			RemediationFor: map[Distribution]string{K3s: "kubelet-arg: [\"tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,...\"] in /etc/rancher/k3s/config.yaml.",
				RKE2: "kubelet-arg: [\"tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,...\"] in /etc/rancher/rke2/config.yaml."},
			NSA: []string{"network.encryption"}, MITRE: []string{"T1557"},
			Evaluate: tlsCiphers(k)},
		{ID: "node/kubelet-seccomp-default", Title: "Kubelet does not apply RuntimeDefault seccomp", Severity: finding.SeverityLow, CIS: []string{"4.2.14"}, Component: k,
			Description: "With seccompDefault the kubelet runs every container that names no seccomp profile under the runtime's default profile instead of unconfined.",
			Remediation: "Set seccompDefault: true in the kubelet config (or --seccomp-default).", NSA: []string{"pod-security.enforcement"}, MITRE: []string{"T1611"},
			Evaluate: kubeletIs("seccomp-default", []string{"seccompDefault"}, "true", "false", "false")},
		{ID: "node/kubelet-protect-kernel-defaults", Title: "Kubelet does not protect kernel defaults", Severity: finding.SeverityLow, K3s: []string{"K3s hardening guide"}, Component: k,
			Description: "With protect-kernel-defaults the kubelet refuses to start when kernel tunables differ from what it expects instead of silently changing them. CIS dropped this item in v1.7; the K3s and RKE2 hardening guides keep it.",
			Remediation: "Set protectKernelDefaults: true after setting the kernel parameters.", NSA: []string{"network.worker-segmentation"},
			RemediationFor: map[Distribution]string{K3s: "Set protect-kernel-defaults: true in /etc/rancher/k3s/config.yaml after setting the kernel parameters.", RKE2: "Set protect-kernel-defaults: true in /etc/rancher/rke2/config.yaml (the CIS profile sets it)."},
			Evaluate:       kubeletIs("protect-kernel-defaults", []string{"protectKernelDefaults"}, "true", "false", "false")},
	}
}

func kubeProxyChecks() []Check {
	return []Check{
		{ID: "node/kube-proxy-metrics-bind-address", Title: "kube-proxy metrics served beyond localhost", Severity: finding.SeverityLow, CIS: []string{"4.3.1"}, Component: KubeProxy,
			Description: "kube-proxy's metrics endpoint (port 10249) needs no authentication; bound beyond localhost it tells anyone on the network about the node's services and endpoints. With --config the file's metricsBindAddress decides and the flag is ignored.",
			Remediation: "Leave metricsBindAddress (--metrics-bind-address) at its default 127.0.0.1:10249.",
			NSA:         []string{"network.worker-segmentation"}, MITRE: []string{"T1046"},
			Evaluate: func(n *Node) []Result {
				c := n.Component(KubeProxy)
				if p, ok := c.Flags.Get("config"); ok && c.Config == nil {
					return notApplicable("kube-proxy reads --config %s, which is not on the host (the kube-proxy ConfigMap of a DaemonSet): audit it with palisade scan cluster", p)
				}
				v, src, field, ok := componentSetting(c, "metrics-bind-address", "metricsBindAddress")
				if !ok || v == "" {
					return nil
				}
				if !loopbackHostPort(v) {
					return []Result{{Status: Fail, Object: componentRef(KubeProxy), File: src.Source, Line: src.Line, Field: field, Message: field + " is " + v + ": metrics are served beyond the host"}}
				}
				return nil
			}},
	}
}

// loopbackHostPort reports whether an address (host, host:port, or a
// port-less IPv6 address) is a loopback address.
func loopbackHostPort(v string) bool {
	host := v
	if h, _, err := net.SplitHostPort(v); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
