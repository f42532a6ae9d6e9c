package nodeaudit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/palisade-sec/palisade/internal/encryption"
	"github.com/palisade-sec/palisade/internal/finding"
)

// strongCiphers are the TLS cipher suites CIS 1.2.29 accepts.
var strongCiphers = map[string]bool{
	"TLS_AES_128_GCM_SHA256": true, "TLS_AES_256_GCM_SHA384": true, "TLS_CHACHA20_POLY1305_SHA256": true,
	"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": true, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": true,
	"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": true, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": true,
	"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": true, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": true,
	"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": true, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": true,
}

// admissionOn requires an admission plugin to be on (want) or off.
func admissionOn(plugin string, want bool, why string) func(n *Node) []Result {
	return func(n *Node) []Result {
		c := n.Component(APIServer)
		on, flag := admissionEnabled(c, plugin)
		if on == want {
			return nil
		}
		state := "off"
		if on {
			state = "on"
		}
		return []Result{failFlag(c, flag, "admission plugin %s is %s: %s", plugin, state, why)}
	}
}

// authorizationHas requires authorizers: missing ones fail; an
// AlwaysAllow authorizer before them short-circuits them.
func authorizationFail(n *Node, format string, args ...any) []Result {
	c := n.Component(APIServer)
	flag := "authorization-mode"
	if _, ok := c.Flags.Get("authorization-config"); ok {
		flag = "authorization-config"
	}
	return []Result{failFlag(c, flag, format, args...)}
}

// tlsCiphers requires --tls-cipher-suites (or the kubelet's
// tlsCipherSuites) to list strong suites only, and no TLS below 1.2.
func tlsCiphers(comp ComponentName) func(n *Node) []Result {
	return func(n *Node) []Result {
		c := n.Component(comp)
		var out []Result
		v, src, field, ok := componentSetting(c, "tls-cipher-suites", "tlsCipherSuites")
		switch {
		case !ok || v == "":
			if r, unread := configUnread(c, "tls-cipher-suites", []string{"tlsCipherSuites"}, "AEAD suites only"); unread && !ok {
				out = append(out, r)
				break
			}
			r := failFlag(c, "tls-cipher-suites", "--tls-cipher-suites is not set: Go's default suites include ECDHE CBC-SHA suites without AEAD")
			out = append(out, r)
		default:
			var weak []string
			for _, s := range listValue(v) {
				if !strongCiphers[s] {
					weak = append(weak, s)
				}
			}
			if len(weak) > 0 {
				out = append(out, Result{Status: Fail, Object: componentRef(comp), File: src.Source, Line: src.Line, Field: field,
					Message: fmt.Sprintf("%s allows %s", field, strings.Join(weak, ", "))})
			}
		}
		if v, src, field, ok := componentSetting(c, "tls-min-version", "tlsMinVersion"); ok && (v == "VersionTLS10" || v == "VersionTLS11") {
			out = append(out, Result{Status: Fail, Object: componentRef(comp), File: src.Source, Line: src.Line, Field: field, Message: fmt.Sprintf("%s=%s", field, v)})
		}
		return out
	}
}

func apiServerChecks() []Check {
	const api = APIServer
	return []Check{
		{ID: "node/apiserver-anonymous-auth", Title: "API server allows anonymous requests", Severity: finding.SeverityMedium, CIS: []string{"1.2.1"}, Component: api,
			Description: "With anonymous authentication on, unauthenticated requests reach the API server as system:anonymous; any RBAC binding to that user or to system:unauthenticated opens the cluster.",
			Remediation: "Set --anonymous-auth=false, or limit anonymous access to health paths with anonymous.conditions in the --authentication-config file.",
			RemediationFor: map[Distribution]string{K3s: "K3s sets --anonymous-auth=false; remove any kube-apiserver-arg that sets it to true.", RKE2: "RKE2 sets --anonymous-auth=false; remove any kube-apiserver-arg that sets it to true.",
				MicroK8s: "Add --anonymous-auth=false to /var/snap/microk8s/current/args/kube-apiserver and restart MicroK8s."},
			NSA: []string{"authz.authentication"}, MITRE: []string{"T1078.001"},
			Evaluate: func(n *Node) []Result {
				c := n.Component(api)
				files := &n.APIServerFiles
				if files.Anonymous != nil {
					if _, ok := c.Flags.Get("anonymous-auth"); ok {
						return []Result{failFlag(c, "anonymous-auth", "--anonymous-auth is set together with an anonymous section in --authentication-config: the API server refuses to start")}
					}
					if *files.Anonymous && len(files.AnonymousPaths) == 0 {
						return []Result{failFlag(c, "authentication-config", "the --authentication-config file enables anonymous requests on every path")}
					}
					return nil
				}
				if e, ok := files.Errs["authentication-config"]; ok {
					return []Result{failFlag(c, "authentication-config", "%s", e)}
				}
				return flagBool(api, "anonymous-auth", false, true)(n)
			}},
		{ID: "node/apiserver-token-auth-file", Title: "API server accepts static tokens", Severity: finding.SeverityMedium, CIS: []string{"1.2.2"}, Component: api, NSA: []string{"authz.authentication"}, MITRE: []string{"T1078", "T1552.001"},
			Description: "Static token files hold long-lived bearer tokens in clear text that cannot be revoked without a restart.",
			Remediation: "Remove --token-auth-file; use client certificates, OIDC or service-account tokens.",
			Evaluate:    flagUnset(api, "token-auth-file", "static bearer tokens in a plain file")},
		{ID: "node/apiserver-kubelet-tls", Title: "API server does not authenticate to or verify kubelets", Severity: finding.SeverityMedium, CIS: []string{"1.2.4", "1.2.5"}, Component: api,
			Description:    "Without a client certificate the API server cannot authenticate to kubelets; without --kubelet-certificate-authority it does not verify them, so exec, logs and port-forward can be intercepted.",
			Remediation:    "Set --kubelet-client-certificate, --kubelet-client-key and --kubelet-certificate-authority.",
			RemediationFor: map[Distribution]string{Kubeadm: "kubeadm does not set --kubelet-certificate-authority: enable serverTLSBootstrap on the kubelets, approve their serving CSRs, then add --kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt to the API server manifest."},
			NSA:            []string{"network.encryption"}, MITRE: []string{"T1557"},
			Evaluate: flagsSet(api, "kubelet-client-certificate", "kubelet-client-key", "kubelet-certificate-authority")},
		{ID: "node/apiserver-authorization-always-allow", Title: "API server authorizes every request", Severity: finding.SeverityCritical, CIS: []string{"1.2.6"}, Component: api,
			Description: "AlwaysAllow (the default when neither --authorization-mode nor --authorization-config is set) grants every authenticated request everything; listed before other authorizers it decides first.",
			Remediation: "Set --authorization-mode=Node,RBAC (or authorizers Node and RBAC in --authorization-config), without AlwaysAllow.",
			NSA:         []string{"authz.rbac"}, MITRE: []string{"T1078"},
			Evaluate: func(n *Node) []Result {
				modes, _, dflt, err := authorizationModes(n)
				switch {
				case err != nil:
					return authorizationFail(n, "%v", err)
				case dflt:
					return authorizationFail(n, "--authorization-mode is not set and defaults to AlwaysAllow")
				case contains(modes, "AlwaysAllow"):
					return authorizationFail(n, "authorization modes %s include AlwaysAllow", strings.Join(modes, ","))
				}
				return nil
			}},
		{ID: "node/apiserver-authorization-node-rbac", Title: "API server authorization lacks Node or RBAC", Severity: finding.SeverityHigh, CIS: []string{"1.2.7", "1.2.8"}, Component: api,
			Description: "The Node authorizer limits each kubelet to its own node's objects; RBAC is the standard way to grant least privilege. An AlwaysAllow authorizer listed before them makes them useless.",
			Remediation: "Set --authorization-mode=Node,RBAC (or authorizers Node and RBAC in --authorization-config).",
			NSA:         []string{"authz.rbac"}, MITRE: []string{"T1078"},
			Evaluate: func(n *Node) []Result {
				modes, _, _, err := authorizationModes(n)
				if err != nil {
					return authorizationFail(n, "%v", err)
				}
				var out []Result
				for _, m := range []string{"Node", "RBAC"} {
					i := slices.Index(modes, m)
					switch {
					case i < 0:
						out = append(out, authorizationFail(n, "authorization modes %s lack %s", strings.Join(modes, ","), m)...)
					case slices.Contains(modes[:i], "AlwaysAllow"):
						out = append(out, authorizationFail(n, "authorization modes %s put AlwaysAllow before %s, which is never asked", strings.Join(modes, ","), m)...)
					}
				}
				return out
			}},
		{ID: "node/apiserver-admission-always-admit", Title: "AlwaysAdmit admission plugin enabled", Severity: finding.SeverityHigh, CIS: []string{"1.2.10"}, Component: api,
			Description: "AlwaysAdmit admits every request regardless of the other admission plugins.",
			Remediation: "Remove AlwaysAdmit from --enable-admission-plugins.", NSA: []string{"network.control-plane"}, MITRE: []string{"T1610"},
			Evaluate: admissionOn("AlwaysAdmit", false, "it admits every request")},
		{ID: "node/apiserver-admission-node-restriction", Title: "NodeRestriction admission plugin not enabled", Severity: finding.SeverityMedium, CIS: []string{"1.2.14"}, Component: api,
			Description: "NodeRestriction stops a kubelet from modifying other nodes and pods not bound to it, which limits what a compromised node can do.",
			Remediation: "Add NodeRestriction to --enable-admission-plugins (it is off by default).",
			RemediationFor: map[Distribution]string{K3s: "K3s enables NodeRestriction; a kube-apiserver-arg enable-admission-plugins=... replaces K3s's value, so list NodeRestriction in it (or use enable-admission-plugins+=...).",
				RKE2: "RKE2 enables NodeRestriction; a kube-apiserver-arg enable-admission-plugins=... replaces RKE2's value, so list NodeRestriction in it."},
			NSA: []string{"network.control-plane"}, MITRE: []string{"T1611"},
			Evaluate: admissionOn("NodeRestriction", true, "kubelets may modify other nodes and pods not bound to them")},
		{ID: "node/apiserver-admission-pod-security", Title: "PodSecurity admission plugin disabled", Severity: finding.SeverityMedium, CIS: []string{"5.2.1"}, Component: api,
			Description: "PodSecurity enforces the Pod Security Standards through namespace labels; with it disabled, no built-in control stops privileged pods.",
			Remediation: "Remove PodSecurity from --disable-admission-plugins (it is on by default).", NSA: []string{"pod-security.enforcement"}, MITRE: []string{"T1611", "T1610"},
			Evaluate: all(admissionOn("PodSecurity", true, "no built-in control enforces the Pod Security Standards"), podSecurityDefaults)},
		{ID: "node/apiserver-admission-defaults-disabled", Title: "ServiceAccount or NamespaceLifecycle admission disabled", Severity: finding.SeverityMedium, CIS: []string{"1.2.12", "1.2.13"}, Component: api,
			Description: "ServiceAccount admission assigns and checks service accounts; NamespaceLifecycle stops objects being created in terminating or missing namespaces. Both are on by default; --disable-admission-plugins or the deprecated --admission-control (which lists exactly the plugins to run) can switch them off.",
			Remediation: "Remove ServiceAccount and NamespaceLifecycle from --disable-admission-plugins; replace --admission-control with --enable-admission-plugins.",
			NSA:         []string{"network.control-plane"},
			Evaluate: all(admissionOn("ServiceAccount", true, "pods are not given or checked against service accounts"),
				admissionOn("NamespaceLifecycle", true, "objects can be created in terminating or missing namespaces"))},
		{ID: "node/apiserver-profiling", Title: "API server profiling enabled", Severity: finding.SeverityLow, CIS: []string{"1.2.15"}, Component: api,
			Description: "The profiling endpoints reveal internals and can be used to load the server.",
			Remediation: "Set --profiling=false.", NSA: []string{"network.control-plane"}, MITRE: []string{"T1046"},
			RemediationFor: map[Distribution]string{MicroK8s: "Add --profiling=false to /var/snap/microk8s/current/args/kube-apiserver."},
			Evaluate:       flagBool(api, "profiling", false, true)},
		{ID: "node/apiserver-audit-log-path", Title: "API server audit logging off", Severity: finding.SeverityMedium, CIS: []string{"1.2.16"}, Component: api,
			Description: "Without an audit log (or webhook) there is no record of who did what in the cluster.",
			Remediation: "Set --audit-log-path (and --audit-policy-file).",
			RemediationFor: map[Distribution]string{K3s: "kube-apiserver-arg: [audit-log-path=/var/lib/rancher/k3s/server/logs/audit.log, audit-policy-file=...] in /etc/rancher/k3s/config.yaml.",
				RKE2: "RKE2 writes /var/lib/rancher/rke2/server/logs/audit.log by default; do not set audit-log-path= to empty or '-'."},
			NSA: []string{"logging.audit"}, MITRE: []string{"T1070"},
			Evaluate: func(n *Node) []Result {
				c := n.Component(api)
				if v, ok := c.Flags.Get("audit-log-path"); ok && v != "" && v != "-" {
					return nil
				}
				if _, ok := c.Flags.Get("audit-webhook-config-file"); ok {
					return nil
				}
				return []Result{failFlag(c, "audit-log-path", "--audit-log-path is not set (and no audit webhook)")}
			}},
		{ID: "node/apiserver-audit-log-retention", Title: "API server audit log kept too briefly", Severity: finding.SeverityLow, CIS: []string{"1.2.17", "1.2.18", "1.2.19"}, Component: api,
			Description: "Audit logs must be kept long enough to investigate an incident: at least 30 days, 10 files of 100 MB.",
			Remediation: "Set --audit-log-maxage=30, --audit-log-maxbackup=10 and --audit-log-maxsize=100 (or more).", NSA: []string{"logging.audit"},
			Evaluate: func(n *Node) []Result {
				c := n.Component(api)
				if v, ok := c.Flags.Get("audit-log-path"); !ok || v == "" || v == "-" {
					return notApplicable("no audit log file is written (see node/apiserver-audit-log-path)")
				}
				return all(minInt(api, "audit-log-maxage", 30), minInt(api, "audit-log-maxbackup", 10), minInt(api, "audit-log-maxsize", 100))(n)
			}},
		{ID: "node/apiserver-audit-policy", Title: "API server has no audit policy", Severity: finding.SeverityMedium, CIS: []string{"3.2.1"}, Component: api,
			Description: "Without --audit-policy-file the API server records no audit events at all, even with an audit log path; a policy whose rules are all level None records nothing either.",
			Remediation: "Write an audit policy (palisade auditlog policy prints one: Metadata for Secrets, never bodies) and pass it with --audit-policy-file.",
			NSA:         []string{"logging.audit"}, MITRE: []string{"T1070"},
			Evaluate: func(n *Node) []Result {
				c := n.Component(api)
				f := &n.APIServerFiles
				switch p, ok := c.Flags.Get("audit-policy-file"); {
				case !ok || p == "":
					return []Result{failFlag(c, "audit-policy-file", "--audit-policy-file is not set: no audit event is recorded")}
				case f.Errs["audit-policy-file"] != "":
					return []Result{failFlag(c, "audit-policy-file", "%s", f.Errs["audit-policy-file"])}
				case f.AuditPolicyRead && f.AuditRules == 0:
					return []Result{failFlag(c, "audit-policy-file", "the audit policy %s has no rule that records anything (every rule is level None)", p)}
				}
				return nil
			}},
		{ID: "node/apiserver-encryption-provider-config", Title: "Encryption at rest not configured", Severity: finding.SeverityHigh, CIS: []string{"1.2.27"}, K3s: []string{"1.2.27 (secrets-encryption)"}, Component: api,
			Description: "Without --encryption-provider-config, Secrets are stored in etcd as plaintext.",
			Remediation: "Configure an EncryptionConfiguration and pass it with --encryption-provider-config; then verify with palisade cluster encryption.",
			RemediationFor: map[Distribution]string{K3s: "Set secrets-encryption: true in /etc/rancher/k3s/config.yaml (K3s writes server/cred/encryption-config.json).",
				RKE2: "RKE2 encrypts Secrets by default; do not set secrets-encryption: false."},
			NSA: []string{"network.secrets"}, MITRE: []string{"T1552"},
			Evaluate: flagsSet(api, "encryption-provider-config")},
		{ID: "node/apiserver-encryption-providers", Title: "Encryption providers weak or misordered", Severity: finding.SeverityHigh, CIS: []string{"1.2.28"}, Component: api,
			Description: "The EncryptionConfiguration must write Secrets with a provider CIS 1.2.28 accepts (kms, secretbox or aescbc), with valid keys, and list identity only last. aescbc and KMS v1 pass this check as they pass CIS, kube-bench and the K3s and RKE2 self-assessments (whose secrets-encryption writes with aescbc); `palisade cluster encryption` still reports them, and keys not rotated, as encryption/weak-provider and encryption/key-age.",
			Remediation: "Put kms (v2) or secretbox first for secrets, identity last; rotate keys.", NSA: []string{"network.secrets"}, MITRE: []string{"T1552"},
			Evaluate: func(n *Node) []Result {
				c := n.Component(api)
				p, ok := c.Flags.Get("encryption-provider-config")
				switch {
				case !ok:
					return notApplicable("no encryption configuration (see node/apiserver-encryption-provider-config)")
				case n.EncryptionConfig == nil:
					return notApplicable("the encryption configuration %s could not be read: %s", p, n.EncryptionConfigErr)
				}
				var out []Result
				for _, f := range encryption.Review(n.EncryptionConfig, encryption.ReviewOptions{}) {
					if !failsCIS1228(n.EncryptionConfig, f) {
						continue
					}
					out = append(out, Result{Status: Fail, Message: fmt.Sprintf("%s: %s", f.RuleID, f.Message),
						Object: fileRef(p), File: p, Field: f.Field})
				}
				return out
			}},
		{ID: "node/apiserver-tls", Title: "API server TLS or client CA not configured", Severity: finding.SeverityHigh, CIS: []string{"1.2.24", "1.2.25"}, Component: api,
			Description: "The API server needs its own serving certificate and a client CA to authenticate clients by certificate.",
			Remediation: "Set --tls-cert-file, --tls-private-key-file and --client-ca-file.", NSA: []string{"network.encryption", "authz.authentication"}, MITRE: []string{"T1557"},
			Evaluate: flagsSet(api, "tls-cert-file", "tls-private-key-file", "client-ca-file")},
		{ID: "node/apiserver-tls-ciphers", Title: "API server allows weak TLS", Severity: finding.SeverityLow, CIS: []string{"1.2.29"}, Component: api,
			Description: "TLS 1.0/1.1 and cipher suites without forward secrecy or AEAD weaken every connection to the API server. Without --tls-cipher-suites Go's defaults apply, which still accept ECDHE CBC-SHA suites.",
			Remediation: "Set --tls-cipher-suites to ECDHE AEAD suites only (e.g. TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256); do not set --tls-min-version below VersionTLS12.",
			NSA:         []string{"network.encryption"}, MITRE: []string{"T1557"},
			Evaluate: tlsCiphers(api)},
		{ID: "node/apiserver-etcd-tls", Title: "API server talks to etcd without mutual TLS", Severity: finding.SeverityHigh, CIS: []string{"1.2.23", "1.2.26"}, Component: api,
			Description: "The API server must authenticate to etcd with a client certificate and verify etcd's certificate; otherwise anyone on the network path reads or rewrites cluster state.",
			Remediation: "Set --etcd-certfile, --etcd-keyfile and --etcd-cafile, and https:// --etcd-servers.", NSA: []string{"network.etcd", "network.encryption"}, MITRE: []string{"T1557"},
			Evaluate: func(n *Node) []Result {
				c := n.Component(api)
				servers, _ := c.Flags.Get("etcd-servers")
				local := servers != ""
				for _, s := range listValue(servers) {
					if !strings.HasPrefix(s, "unix://") {
						local = false
					}
				}
				if local {
					return notApplicable("the datastore is reached over a local socket (%s), not over the network", servers)
				}
				out := flagsSet(api, "etcd-certfile", "etcd-keyfile", "etcd-cafile")(n)
				for _, s := range listValue(servers) {
					if strings.HasPrefix(s, "http://") {
						out = append(out, failFlag(c, "etcd-servers", "--etcd-servers uses plain HTTP: %s", s))
					}
				}
				return out
			}},
		{ID: "node/apiserver-service-account", Title: "Service-account token settings unsafe", Severity: finding.SeverityMedium, CIS: []string{"1.2.21", "1.2.22"}, Component: api,
			Description: "Service-account tokens must be checked against existing accounts (lookup) and signed with a key whose public half the API server verifies; an issuer must be set.",
			Remediation: "Keep --service-account-lookup=true; set --service-account-key-file, --service-account-signing-key-file and --service-account-issuer.", NSA: []string{"pod-security.sa-tokens"}, MITRE: []string{"T1528"},
			Evaluate: all(flagBool(api, "service-account-lookup", true, true),
				flagsSet(api, "service-account-key-file", "service-account-signing-key-file", "service-account-issuer"))},
		{ID: "node/apiserver-service-account-extend-token-expiration", Title: "API server extends service-account token lifetimes", Severity: finding.SeverityLow, CIS: []string{"1.2.30"}, Component: api,
			Description: "With --service-account-extend-token-expiration (on by default) projected service-account tokens are valid for up to a year whatever expiry a pod asked for, so a stolen token stays useful for that long.",
			Remediation: "Set --service-account-extend-token-expiration=false once workloads refresh their projected tokens.",
			NSA:         []string{"pod-security.sa-tokens"}, MITRE: []string{"T1528"},
			Evaluate: flagBool(api, "service-account-extend-token-expiration", false, true)},
	}
}

// podCreators are the identities that create the pods of users' workloads:
// the controllers' service accounts (--use-service-account-credentials)
// or the controller manager itself. Exempting one from PodSecurity exempts
// every pod of every Deployment, StatefulSet, DaemonSet or Job, whoever
// wrote it (Kubernetes' Pod Security Admission documentation warns of
// exactly this).
var podCreators = map[string]bool{
	"system:serviceaccount:kube-system:replicaset-controller":  true,
	"system:serviceaccount:kube-system:statefulset-controller": true,
	"system:serviceaccount:kube-system:daemon-set-controller":  true,
	"system:serviceaccount:kube-system:job-controller":         true,
	"system:serviceaccount:kube-system:replication-controller": true,
	"system:kube-controller-manager":                           true,
}

// podSecurityDefaults reads PodSecurity's configuration in the
// AdmissionConfiguration (CIS 5.2.1: an active policy control): exempting
// a controller that creates pods switches the control off for every
// workload. (A default level the API server refuses is an error of the
// audit, reported by Load.)
func podSecurityDefaults(n *Node) []Result {
	a := n.APIServerFiles.Admission
	if a == nil || a.PodSecurity == nil {
		return nil
	}
	c := n.Component(APIServer)
	var out []Result
	for _, u := range a.PodSecurity.ExemptUsernames {
		if podCreators[u] {
			out = append(out, failFlag(c, "admission-control-config-file", "%s: PodSecurity exempts %s, which creates the pods of users' workloads: Pod Security is not enforced for any Deployment, StatefulSet, DaemonSet or Job", a.Path, u))
		}
	}
	return out
}

// failsCIS1228 tells whether an encryption review finding fails CIS
// 1.2.28, whose audit accepts aescbc, kms or secretbox as the writing
// provider: a provider CIS accepts but Palisade's encryption review
// discourages (aescbc, KMS v1), and the age of the writing key, are not
// failures of this item.
func failsCIS1228(c *encryption.Config, f finding.Finding) bool {
	switch f.RuleID {
	case encryption.RuleKeyAge:
		return false
	case encryption.RuleWeakProvider:
		var i int
		if _, err := fmt.Sscanf(f.Field, "resources[%d].providers[0]", &i); err == nil && i >= 0 && i < len(c.Entries) && len(c.Entries[i].Providers) > 0 {
			switch c.Entries[i].Providers[0].Type {
			case encryption.ProviderAESCBC, encryption.ProviderKMS:
				return false
			}
		}
	}
	return true
}
