package nodeaudit

import (
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"
)

// APIServerFiles is what the configuration files named by the API server's
// flags say about the settings the checks look at. A file that is named but
// missing or not understood leaves its field unset and says why in Errs,
// keyed by the flag: the API server would not start with it, so the check
// concerned fails rather than passing on an unread file.
type APIServerFiles struct {
	// AuthorizationModes are the authorizer types of --authorization-config
	// (AuthorizationConfiguration), in order; Source is the file.
	AuthorizationModes  []string
	AuthorizationSource string
	// Anonymous is the anonymous section of --authentication-config
	// (AuthenticationConfiguration) when present: enabled, and the paths
	// it is limited to.
	Anonymous      *bool
	AnonymousPaths []string
	// AuditRules counts the rules of --audit-policy-file that record
	// something (level other than None); AuditPolicyRead says it was read.
	AuditRules      int
	AuditPolicyRead bool
	Errs            map[string]string
}

// maxConfigItems bounds the list items read from an API server
// configuration file.
const maxConfigItems = 10000

// apiServerFileFlags are the flags whose files loadAPIServerFiles reads.
var apiServerFileFlags = []string{"authorization-config", "authentication-config", "audit-policy-file"}

func loadAPIServerFiles(h *Host, n *Node) {
	api := n.Components[APIServer]
	f := &n.APIServerFiles
	f.Errs = map[string]string{}
	for _, flag := range apiServerFileFlags {
		p, ok := api.Flags.Get(flag)
		if !ok || p == "" {
			continue
		}
		data, err := h.ReadFile(p, maxConfigFile)
		switch {
		case err != nil && !h.Exists(p):
			f.Errs[flag] = fmt.Sprintf("--%s names %s, which does not exist on this host: the API server does not start", flag, p)
		case err != nil:
			f.Errs[flag] = fmt.Sprintf("--%s: cannot read %s: %v", flag, p, err)
		default:
			f.Parse(flag, p, data)
		}
	}
}

// Parse reads the file a flag names (authorization-config,
// authentication-config or audit-policy-file) into f; what is not
// understood goes to f.Errs[flag].
func (f *APIServerFiles) Parse(flag, p string, data []byte) {
	if f.Errs == nil {
		f.Errs = map[string]string{}
	}
	fail := func(format string, args ...any) {
		f.Errs[flag] = fmt.Sprintf("--%s: %s: ", flag, p) + fmt.Sprintf(format, args...)
	}
	switch flag {
	case "authorization-config":
		var authz struct {
			Kind        string `json:"kind"`
			Authorizers []struct {
				Type string `json:"type"`
			} `json:"authorizers"`
		}
		switch err := yaml.Unmarshal(data, &authz); {
		case err != nil:
			fail("not valid YAML: %v", err)
		case authz.Kind != "AuthorizationConfiguration":
			fail("kind %q, want AuthorizationConfiguration", authz.Kind)
		case len(authz.Authorizers) > maxConfigItems:
			fail("more than %d authorizers", maxConfigItems)
		default:
			for _, a := range authz.Authorizers {
				f.AuthorizationModes = append(f.AuthorizationModes, a.Type)
			}
			f.AuthorizationSource = p
		}
	case "authentication-config":
		var authn struct {
			Kind      string `json:"kind"`
			Anonymous *struct {
				Enabled    bool `json:"enabled"`
				Conditions []struct {
					Path string `json:"path"`
				} `json:"conditions"`
			} `json:"anonymous"`
		}
		switch err := yaml.Unmarshal(data, &authn); {
		case err != nil:
			fail("not valid YAML: %v", err)
		case authn.Kind != "AuthenticationConfiguration":
			fail("kind %q, want AuthenticationConfiguration", authn.Kind)
		case authn.Anonymous != nil:
			on := authn.Anonymous.Enabled
			f.Anonymous = &on
			for i, c := range authn.Anonymous.Conditions {
				if i >= maxConfigItems {
					break
				}
				f.AnonymousPaths = append(f.AnonymousPaths, c.Path)
			}
		}
	case "audit-policy-file":
		var policy struct {
			Kind  string `json:"kind"`
			Rules []struct {
				Level string `json:"level"`
			} `json:"rules"`
		}
		switch err := yaml.Unmarshal(data, &policy); {
		case err != nil:
			fail("not valid YAML: %v", err)
		case policy.Kind != "Policy":
			fail("kind %q, want an audit Policy", policy.Kind)
		default:
			f.AuditPolicyRead = true
			for _, r := range policy.Rules {
				if !strings.EqualFold(r.Level, "None") {
					f.AuditRules++
				}
			}
		}
	}
}

// authorizationModes returns the API server's authorizers in order and
// where they were set: --authorization-config's file, else
// --authorization-mode, else the default AlwaysAllow. err is set when the
// modes cannot be known (the file named was not read, or both flags are
// given, which the API server refuses).
func authorizationModes(n *Node) (modes []string, source string, dflt bool, err error) {
	c := n.Component(APIServer)
	cfg, hasCfg := c.Flags.Lookup("authorization-config")
	mode, hasMode := c.Flags.Lookup("authorization-mode")
	switch {
	case hasCfg && hasMode:
		return nil, cfg.Source, false, fmt.Errorf("both --authorization-config and --authorization-mode are set: the API server refuses to start")
	case hasCfg:
		if e, ok := n.APIServerFiles.Errs["authorization-config"]; ok {
			return nil, cfg.Source, false, fmt.Errorf("%s", e)
		}
		return n.APIServerFiles.AuthorizationModes, n.APIServerFiles.AuthorizationSource, false, nil
	case hasMode:
		return listValue(mode.Value), mode.Source, false, nil
	}
	return []string{"AlwaysAllow"}, c.Source, true, nil
}

// defaultAdmission are the admission plugins the API server enables
// without being asked (Kubernetes 1.37); every other plugin is off unless
// named in --enable-admission-plugins.
var defaultAdmission = map[string]bool{
	"NamespaceLifecycle": true, "LimitRanger": true, "ServiceAccount": true, "TaintNodesByCondition": true,
	"PodSecurity": true, "Priority": true, "DefaultTolerationSeconds": true, "DefaultStorageClass": true,
	"StorageObjectInUseProtection": true, "PersistentVolumeClaimResize": true, "RuntimeClass": true,
	"CertificateApproval": true, "CertificateSigning": true, "ClusterTrustBundleAttest": true,
	"CertificateSubjectRestriction": true, "DefaultIngressClass": true, "MutatingAdmissionWebhook": true,
	"ValidatingAdmissionPolicy": true, "ValidatingAdmissionWebhook": true, "ResourceQuota": true,
	"PodGroupProtection": true, "PodTopologyLabels": true, "NodeDeclaredFeatureValidator": true, "PodResizeValidator": true,
	"MutatingAdmissionPolicy": true,
}

// admissionEnabled says whether an admission plugin is on, as the API
// server decides: with the deprecated --admission-control, exactly the
// plugins it lists; otherwise the default-on set, plus
// --enable-admission-plugins, minus --disable-admission-plugins. The flag
// that decided is returned for the finding.
func admissionEnabled(c *Component, plugin string) (on bool, flag string) {
	if v, ok := c.Flags.Get("admission-control"); ok {
		return contains(listValue(v), plugin), "admission-control"
	}
	en, _ := c.Flags.Get("enable-admission-plugins")
	dis, _ := c.Flags.Get("disable-admission-plugins")
	switch {
	case contains(listValue(en), plugin):
		return true, "enable-admission-plugins"
	case contains(listValue(dis), plugin):
		return false, "disable-admission-plugins"
	}
	return defaultAdmission[plugin], "enable-admission-plugins"
}
