package nodeaudit

import (
	"fmt"
	"path"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/finding"
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
	// Admission is what --admission-control-config-file
	// (AdmissionConfiguration) configures, when it was read.
	Admission *AdmissionConfig
	Errs      map[string]string
}

// AdmissionConfig is the part of an AdmissionConfiguration the checks
// read: which plugins it configures, EventRateLimit's limits and
// PodSecurity's defaults and exemptions, each from the plugin's inline
// configuration or the file its path names.
type AdmissionConfig struct {
	Path string
	// Plugins are the names of the plugins configured, in order.
	Plugins []string
	// EventRateLimits are EventRateLimit's limits, nil when it is not
	// configured; EventRateLimitErr says why the API server would refuse
	// its configuration ("" when it is valid or absent).
	EventRateLimits   []EventRateLimit
	EventRateLimitErr string
	// PodSecurity is PodSecurity's configuration, nil when it is not
	// configured (its built-in defaults, privileged, then apply).
	PodSecurity *PodSecurityDefaults
}

// EventRateLimit is one limit of EventRateLimit's Configuration.
type EventRateLimit struct {
	Type      string  `json:"type"`
	QPS       float64 `json:"qps"`
	Burst     float64 `json:"burst"`
	CacheSize float64 `json:"cacheSize"`
}

// PodSecurityDefaults is PodSecurity's PodSecurityConfiguration: the
// levels applied to namespaces without labels, and who is exempt.
type PodSecurityDefaults struct {
	Enforce, Audit, Warn string
	ExemptUsernames      []string
	ExemptNamespaces     []string
	ExemptRuntimeClasses []string
}

// maxConfigItems bounds the list items read from an API server
// configuration file.
const maxConfigItems = 10000

// apiServerFileFlags are the flags whose files loadAPIServerFiles reads.
var apiServerFileFlags = []string{"authorization-config", "authentication-config", "audit-policy-file", "admission-control-config-file"}

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
			if flag == "admission-control-config-file" && f.Admission != nil {
				f.readAdmissionPluginFiles(h, data)
			}
		}
		if e, bad := f.Errs[flag]; bad && flag == "admission-control-config-file" {
			// The admission plugins' settings cannot be audited, and the
			// API server does not start: not a clean node.
			n.problem(finding.LevelError, p, "%s", e)
		}
	}
	if !api.Found {
		return
	}
	// Admission plugins whose configuration the API server refuses: it
	// does not start, so what it would enforce cannot be audited.
	src := api.Source
	if s, ok := api.Flags.Lookup("admission-control-config-file"); ok {
		src = s.Source
	}
	if on, _ := admissionEnabled(api, "EventRateLimit"); on && f.Errs["admission-control-config-file"] == "" {
		if why := eventRateLimitUnusable(n); why != "" {
			n.problem(finding.LevelError, src, "kube-apiserver: EventRateLimit is enabled, but %s", why)
		}
	}
	if a := f.Admission; a != nil && a.PodSecurity != nil {
		ps := a.PodSecurity
		for _, m := range []struct{ mode, level string }{{"enforce", ps.Enforce}, {"audit", ps.Audit}, {"warn", ps.Warn}} {
			switch m.level {
			case "", "privileged", "baseline", "restricted":
			default:
				n.problem(finding.LevelError, a.Path, "PodSecurity defaults.%s is %q, not privileged, baseline or restricted: the API server does not start", m.mode, m.level)
			}
		}
	}
}

// readAdmissionPluginFiles reads the plugin configurations an
// AdmissionConfiguration names by path (relative paths are relative to the
// AdmissionConfiguration's directory, as the API server resolves them).
func (f *APIServerFiles) readAdmissionPluginFiles(h *Host, data []byte) {
	a := f.Admission
	for _, pl := range admissionPlugins(data) {
		if pl.Path == "" {
			continue
		}
		p := pl.Path
		if !path.IsAbs(p) {
			p = path.Join(path.Dir(a.Path), p)
		}
		pd, err := h.ReadFile(p, maxConfigFile)
		if err != nil {
			why := "cannot be read: " + err.Error()
			if !h.Exists(p) {
				why = "does not exist on this host"
			}
			f.Errs["admission-control-config-file"] = fmt.Sprintf("--admission-control-config-file: %s: plugin %s: its configuration %s %s: the API server does not start", a.Path, pl.Name, p, why)
			continue
		}
		var cfg map[string]any
		if err := yaml.Unmarshal(pd, &cfg); err != nil {
			f.Errs["admission-control-config-file"] = fmt.Sprintf("--admission-control-config-file: %s: plugin %s: %s is not valid YAML: %v", a.Path, pl.Name, p, err)
			continue
		}
		a.configure(pl.Name, cfg, p)
	}
}

// admissionPlugin is one entry of an AdmissionConfiguration.
type admissionPlugin struct {
	Name          string         `json:"name"`
	Path          string         `json:"path"`
	Configuration map[string]any `json:"configuration"`
}

// admissionPlugins reads the plugin entries of an AdmissionConfiguration.
func admissionPlugins(data []byte) []admissionPlugin {
	var ac struct {
		Plugins []admissionPlugin `json:"plugins"`
	}
	_ = yaml.Unmarshal(data, &ac)
	if len(ac.Plugins) > maxConfigItems {
		ac.Plugins = ac.Plugins[:maxConfigItems]
	}
	return ac.Plugins
}

// configure records one plugin's configuration (read from src).
func (a *AdmissionConfig) configure(plugin string, cfg map[string]any, src string) {
	switch plugin {
	case "EventRateLimit":
		a.EventRateLimits, a.EventRateLimitErr = []EventRateLimit{}, ""
		var erl struct {
			Kind   string           `json:"kind"`
			Limits []EventRateLimit `json:"limits"`
		}
		if err := remarshal(cfg, &erl); err != nil {
			a.EventRateLimitErr = fmt.Sprintf("%s: EventRateLimit configuration not understood: %v", src, err)
			return
		}
		if erl.Kind != "Configuration" {
			a.EventRateLimitErr = fmt.Sprintf("%s: EventRateLimit configuration has kind %q, want Configuration", src, erl.Kind)
			return
		}
		if len(erl.Limits) > maxConfigItems {
			erl.Limits = erl.Limits[:maxConfigItems]
		}
		a.EventRateLimits = erl.Limits
		a.EventRateLimitErr = validateEventRateLimits(erl.Limits)
	case "PodSecurity":
		var ps struct {
			Defaults struct {
				Enforce string `json:"enforce"`
				Audit   string `json:"audit"`
				Warn    string `json:"warn"`
			} `json:"defaults"`
			Exemptions struct {
				Usernames      []string `json:"usernames"`
				Namespaces     []string `json:"namespaces"`
				RuntimeClasses []string `json:"runtimeClasses"`
			} `json:"exemptions"`
		}
		if err := remarshal(cfg, &ps); err != nil {
			return
		}
		a.PodSecurity = &PodSecurityDefaults{Enforce: ps.Defaults.Enforce, Audit: ps.Defaults.Audit, Warn: ps.Defaults.Warn,
			ExemptUsernames: ps.Exemptions.Usernames, ExemptNamespaces: ps.Exemptions.Namespaces, ExemptRuntimeClasses: ps.Exemptions.RuntimeClasses}
	}
}

// validateEventRateLimits applies the API server's validation of
// EventRateLimit's configuration (at least one limit; type Server,
// Namespace, User or SourceAndObject; qps and burst positive; cacheSize
// not negative): an invalid one stops the API server.
func validateEventRateLimits(limits []EventRateLimit) string {
	if len(limits) == 0 {
		return "EventRateLimit has no limits (limits: must not be empty): the API server does not start"
	}
	for i, l := range limits {
		switch {
		case l.Type != "Server" && l.Type != "Namespace" && l.Type != "User" && l.Type != "SourceAndObject":
			return fmt.Sprintf("EventRateLimit limits[%d].type %q is not Server, Namespace, User or SourceAndObject: the API server does not start", i, l.Type)
		case l.QPS <= 0 || l.Burst <= 0:
			return fmt.Sprintf("EventRateLimit limits[%d] (%s): qps and burst must be positive: the API server does not start", i, l.Type)
		case l.CacheSize < 0:
			return fmt.Sprintf("EventRateLimit limits[%d] (%s): cacheSize must not be negative: the API server does not start", i, l.Type)
		}
	}
	return ""
}

// remarshal decodes a generic YAML value into a typed one.
func remarshal(v any, out any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	return yaml.Unmarshal(b, out)
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
	case "admission-control-config-file":
		var ac struct {
			Kind string `json:"kind"`
		}
		switch err := yaml.Unmarshal(data, &ac); {
		case err != nil:
			fail("not valid YAML: %v", err)
		case ac.Kind != "AdmissionConfiguration":
			fail("kind %q, want AdmissionConfiguration", ac.Kind)
		default:
			a := &AdmissionConfig{Path: p}
			for _, pl := range admissionPlugins(data) {
				a.Plugins = append(a.Plugins, pl.Name)
				if pl.Path == "" && pl.Configuration != nil {
					a.configure(pl.Name, pl.Configuration, p)
				}
			}
			f.Admission = a
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
