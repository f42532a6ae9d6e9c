package nodeaudit

import (
	"fmt"
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

// admission returns the enabled and disabled admission plugin lists.
func admission(c *Component) (enabled, disabled []string) {
	v, _ := c.Flags.Get("enable-admission-plugins")
	d, _ := c.Flags.Get("disable-admission-plugins")
	return listValue(v), listValue(d)
}

func apiServerChecks() []Check {
	const api = APIServer
	return []Check{
		{ID: "node/apiserver-anonymous-auth", Title: "API server allows anonymous requests", Severity: finding.SeverityMedium, CIS: []string{"1.2.1"}, Component: api,
			Description: "With anonymous authentication on, unauthenticated requests reach the API server as system:anonymous; any RBAC binding to that user or to system:unauthenticated opens the cluster.",
			Remediation: "Set --anonymous-auth=false (on K3s: kube-apiserver-arg: [anonymous-auth=false]).",
			Evaluate:    flagBool(api, "anonymous-auth", false, true)},
		{ID: "node/apiserver-token-auth-file", Title: "API server accepts static tokens", Severity: finding.SeverityMedium, CIS: []string{"1.2.2"}, Component: api,
			Description: "Static token files hold long-lived bearer tokens in clear text that cannot be revoked without a restart.",
			Remediation: "Remove --token-auth-file; use client certificates, OIDC or service-account tokens.",
			Evaluate:    flagUnset(api, "token-auth-file", "static bearer tokens in a plain file")},
		{ID: "node/apiserver-kubelet-tls", Title: "API server does not authenticate to or verify kubelets", Severity: finding.SeverityMedium, CIS: []string{"1.2.4", "1.2.5"}, Component: api,
			Description: "Without a client certificate the API server cannot authenticate to kubelets; without --kubelet-certificate-authority it does not verify them, so exec, logs and port-forward can be intercepted.",
			Remediation: "Set --kubelet-client-certificate, --kubelet-client-key and --kubelet-certificate-authority.",
			Evaluate:    flagsSet(api, "kubelet-client-certificate", "kubelet-client-key", "kubelet-certificate-authority")},
		{ID: "node/apiserver-authorization-always-allow", Title: "API server authorizes every request", Severity: finding.SeverityCritical, CIS: []string{"1.2.6"}, Component: api,
			Description: "AlwaysAllow (the default of --authorization-mode) grants every authenticated request everything.",
			Remediation: "Set --authorization-mode=Node,RBAC.",
			Evaluate: func(n *Node) []Result {
				c := n.Component(api)
				v, ok := c.Flags.Get("authorization-mode")
				if !ok {
					if f, ok := c.Flags.Get("authorization-config"); ok {
						return notApplicable("authorization is configured by the file %s, which this check does not read", f)
					}
					return []Result{failFlag(c, "authorization-mode", "--authorization-mode is not set and defaults to AlwaysAllow")}
				}
				if contains(listValue(v), "AlwaysAllow") {
					return []Result{failFlag(c, "authorization-mode", "--authorization-mode=%s includes AlwaysAllow", v)}
				}
				return nil
			}},
		{ID: "node/apiserver-authorization-node-rbac", Title: "API server authorization lacks Node or RBAC", Severity: finding.SeverityHigh, CIS: []string{"1.2.7", "1.2.8"}, Component: api,
			Description: "The Node authorizer limits each kubelet to its own node's objects; RBAC is the standard way to grant least privilege.",
			Remediation: "Set --authorization-mode=Node,RBAC.",
			Evaluate: func(n *Node) []Result {
				c := n.Component(api)
				v, ok := c.Flags.Get("authorization-mode")
				if !ok {
					if f, ok := c.Flags.Get("authorization-config"); ok {
						return notApplicable("authorization is configured by the file %s, which this check does not read", f)
					}
				}
				modes := listValue(v)
				var missing []string
				for _, m := range []string{"Node", "RBAC"} {
					if !contains(modes, m) {
						missing = append(missing, m)
					}
				}
				if len(missing) > 0 {
					return []Result{failFlag(c, "authorization-mode", "--authorization-mode=%s lacks %s", v, strings.Join(missing, " and "))}
				}
				return nil
			}},
		{ID: "node/apiserver-admission-always-admit", Title: "AlwaysAdmit admission plugin enabled", Severity: finding.SeverityHigh, CIS: []string{"1.2.10"}, Component: api,
			Description: "AlwaysAdmit admits every request regardless of the other admission plugins.",
			Remediation: "Remove AlwaysAdmit from --enable-admission-plugins.",
			Evaluate: func(n *Node) []Result {
				c := n.Component(api)
				if en, _ := admission(c); contains(en, "AlwaysAdmit") {
					return []Result{failFlag(c, "enable-admission-plugins", "--enable-admission-plugins includes AlwaysAdmit")}
				}
				return nil
			}},
		{ID: "node/apiserver-admission-node-restriction", Title: "NodeRestriction admission plugin not enabled", Severity: finding.SeverityMedium, CIS: []string{"1.2.14"}, Component: api,
			Description: "NodeRestriction stops a kubelet from modifying other nodes and pods not bound to it, which limits what a compromised node can do.",
			Remediation: "Add NodeRestriction to --enable-admission-plugins.",
			Evaluate: func(n *Node) []Result {
				c := n.Component(api)
				en, dis := admission(c)
				if !contains(en, "NodeRestriction") || contains(dis, "NodeRestriction") {
					return []Result{failFlag(c, "enable-admission-plugins", "NodeRestriction is not in --enable-admission-plugins (it is off by default)")}
				}
				return nil
			}},
		{ID: "node/apiserver-admission-pod-security", Title: "PodSecurity admission plugin disabled", Severity: finding.SeverityMedium, CIS: []string{"5.2.1"}, Component: api,
			Description: "PodSecurity enforces the Pod Security Standards through namespace labels; with it disabled, no built-in control stops privileged pods.",
			Remediation: "Remove PodSecurity from --disable-admission-plugins (it is on by default).",
			Evaluate: func(n *Node) []Result {
				c := n.Component(api)
				if _, dis := admission(c); contains(dis, "PodSecurity") {
					return []Result{failFlag(c, "disable-admission-plugins", "--disable-admission-plugins includes PodSecurity")}
				}
				return nil
			}},
		{ID: "node/apiserver-admission-defaults-disabled", Title: "ServiceAccount or NamespaceLifecycle admission disabled", Severity: finding.SeverityMedium, CIS: []string{"1.2.12", "1.2.13"}, Component: api,
			Description: "ServiceAccount admission assigns and checks service accounts; NamespaceLifecycle stops objects being created in terminating or missing namespaces.",
			Remediation: "Remove ServiceAccount and NamespaceLifecycle from --disable-admission-plugins.",
			Evaluate: func(n *Node) []Result {
				c := n.Component(api)
				_, dis := admission(c)
				var out []Result
				for _, p := range []string{"ServiceAccount", "NamespaceLifecycle"} {
					if contains(dis, p) {
						out = append(out, failFlag(c, "disable-admission-plugins", "--disable-admission-plugins includes %s", p))
					}
				}
				return out
			}},
		{ID: "node/apiserver-profiling", Title: "API server profiling enabled", Severity: finding.SeverityLow, CIS: []string{"1.2.15"}, Component: api,
			Description: "The profiling endpoints reveal internals and can be used to load the server.",
			Remediation: "Set --profiling=false.", Evaluate: flagBool(api, "profiling", false, true)},
		{ID: "node/apiserver-audit-log-path", Title: "API server audit logging off", Severity: finding.SeverityMedium, CIS: []string{"1.2.16"}, Component: api,
			Description: "Without an audit log (or webhook) there is no record of who did what in the cluster.",
			Remediation: "Set --audit-log-path (and --audit-policy-file).",
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
			Remediation: "Set --audit-log-maxage=30, --audit-log-maxbackup=10 and --audit-log-maxsize=100 (or more).",
			Evaluate: func(n *Node) []Result {
				c := n.Component(api)
				if v, ok := c.Flags.Get("audit-log-path"); !ok || v == "" || v == "-" {
					return notApplicable("no audit log file is written (see node/apiserver-audit-log-path)")
				}
				return all(minInt(api, "audit-log-maxage", 30), minInt(api, "audit-log-maxbackup", 10), minInt(api, "audit-log-maxsize", 100))(n)
			}},
		{ID: "node/apiserver-audit-policy", Title: "API server has no audit policy", Severity: finding.SeverityMedium, CIS: []string{"3.2.1"}, Component: api,
			Description: "Without --audit-policy-file the API server records no audit events at all, even with an audit log path.",
			Remediation: "Write an audit policy (palisade auditlog policy prints one: Metadata for Secrets, never bodies) and pass it with --audit-policy-file.",
			Evaluate:    flagsSet(api, "audit-policy-file")},
		{ID: "node/apiserver-encryption-provider-config", Title: "Encryption at rest not configured", Severity: finding.SeverityHigh, CIS: []string{"1.2.27"}, K3s: []string{"1.2.27 (secrets-encryption)"}, Component: api,
			Description: "Without --encryption-provider-config, Secrets are stored in etcd as plaintext.",
			Remediation: "Configure an EncryptionConfiguration and pass it with --encryption-provider-config (K3s: secrets-encryption: true); then verify with palisade cluster encryption.",
			Evaluate:    flagsSet(api, "encryption-provider-config")},
		{ID: "node/apiserver-encryption-providers", Title: "Encryption providers weak or misordered", Severity: finding.SeverityHigh, CIS: []string{"1.2.28"}, Component: api,
			Description: "The EncryptionConfiguration must write with a strong provider (kms v2, secretbox; aescbc is accepted by CIS but no longer recommended) and list identity only last.",
			Remediation: "Put kms (v2) or secretbox first for secrets, identity last; rotate keys.",
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
					out = append(out, Result{Status: Fail, Message: fmt.Sprintf("%s: %s", f.RuleID, f.Message),
						Object: fileRef(p), File: p, Field: f.Field})
				}
				return out
			}},
		{ID: "node/apiserver-tls", Title: "API server TLS or client CA not configured", Severity: finding.SeverityHigh, CIS: []string{"1.2.24", "1.2.25"}, Component: api,
			Description: "The API server needs its own serving certificate and a client CA to authenticate clients by certificate.",
			Remediation: "Set --tls-cert-file, --tls-private-key-file and --client-ca-file.",
			Evaluate:    flagsSet(api, "tls-cert-file", "tls-private-key-file", "client-ca-file")},
		{ID: "node/apiserver-tls-ciphers", Title: "API server allows weak TLS", Severity: finding.SeverityMedium, CIS: []string{"1.2.29"}, Component: api,
			Description: "TLS 1.0/1.1 and cipher suites without forward secrecy or AEAD weaken every connection to the API server.",
			Remediation: "Leave --tls-cipher-suites unset (Go's defaults) or restrict it to ECDHE AEAD suites; do not set --tls-min-version below VersionTLS12.",
			Evaluate: func(n *Node) []Result {
				c := n.Component(api)
				var out []Result
				if v, ok := c.Flags.Get("tls-cipher-suites"); ok {
					var weak []string
					for _, s := range listValue(v) {
						if !strongCiphers[s] {
							weak = append(weak, s)
						}
					}
					if len(weak) > 0 {
						out = append(out, failFlag(c, "tls-cipher-suites", "--tls-cipher-suites allows %s", strings.Join(weak, ", ")))
					}
				}
				if v, ok := c.Flags.Get("tls-min-version"); ok && (v == "VersionTLS10" || v == "VersionTLS11") {
					out = append(out, failFlag(c, "tls-min-version", "--tls-min-version=%s", v))
				}
				return out
			}},
		{ID: "node/apiserver-etcd-tls", Title: "API server talks to etcd without mutual TLS", Severity: finding.SeverityHigh, CIS: []string{"1.2.23", "1.2.26"}, Component: api,
			Description: "The API server must authenticate to etcd with a client certificate and verify etcd's certificate; otherwise anyone on the network path reads or rewrites cluster state.",
			Remediation: "Set --etcd-certfile, --etcd-keyfile and --etcd-cafile, and https:// --etcd-servers.",
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
			Remediation: "Keep --service-account-lookup=true; set --service-account-key-file, --service-account-signing-key-file and --service-account-issuer.",
			Evaluate: all(flagBool(api, "service-account-lookup", true, true),
				flagsSet(api, "service-account-key-file", "service-account-signing-key-file", "service-account-issuer"))},
	}
}
