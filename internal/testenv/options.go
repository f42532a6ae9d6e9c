package testenv

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// Options configures a dedicated instance started by [Start] or [Launch]. The
// zero value is a plain control plane like [Shared].
type Options struct {
	// Encryption, when set, is written as an EncryptionConfiguration and
	// passed with --encryption-provider-config.
	Encryption *EncryptionConfig

	// Audit, when set, enables the audit log (and optionally an audit
	// webhook backend).
	Audit *AuditOptions

	// Tokens adds users to the static token file next to the generated
	// admin token ([Env.AdminToken]).
	Tokens []StaticToken

	// EnableAdmissionPlugins are added to --enable-admission-plugins (on top
	// of the defaults, which include the admission webhooks).
	EnableAdmissionPlugins []string
	// DisableAdmissionPlugins are added to --disable-admission-plugins.
	// ServiceAccount is always disabled unless listed in
	// EnableAdmissionPlugins (without a controller-manager it rejects Pods).
	DisableAdmissionPlugins []string

	// ExtraAPIServerFlags are appended last ("--name=value"); for scalar
	// flags the last occurrence wins, so they override the defaults.
	ExtraAPIServerFlags []string

	// StartTimeout bounds the start of each process (default 3 minutes:
	// a failure bound, generous for a loaded or slow machine, where the
	// apiserver can take a minute). The error on timeout includes the tail
	// of the process's log.
	StartTimeout time.Duration
}

func (o Options) startTimeout() time.Duration {
	if o.StartTimeout > 0 {
		return o.StartTimeout
	}
	return 3 * time.Minute
}

// StaticToken is one line of the apiserver's --token-auth-file.
type StaticToken struct {
	Token  string
	User   string
	UID    string // defaults to User
	Groups []string
}

// ProviderType names an encryption-at-rest provider.
type ProviderType string

// Providers supported by [EncryptionConfig]. KMS needs a plugin process and
// is out of scope here.
const (
	ProviderAESCBC    ProviderType = "aescbc"
	ProviderAESGCM    ProviderType = "aesgcm"
	ProviderSecretbox ProviderType = "secretbox"
	ProviderIdentity  ProviderType = "identity"
)

// EncryptionConfig is an apiserver EncryptionConfiguration: per group of
// resources, an ordered list of providers (the first one writes; all are
// tried for reads), which is exactly what key-rotation tests reorder.
type EncryptionConfig struct {
	Resources []EncryptionResources
}

// EncryptionResources maps resources ("secrets", "configmaps",
// "*.apps", "*.*") to providers.
type EncryptionResources struct {
	Resources []string
	Providers []EncryptionProvider
}

// EncryptionProvider is one provider; Keys is ignored for identity.
type EncryptionProvider struct {
	Type ProviderType
	Keys []EncryptionKey
}

// EncryptionKey is a named key; Secret is the raw key (base64-encoded when
// written). aescbc and secretbox need 32 bytes, aesgcm 16, 24 or 32.
type EncryptionKey struct {
	Name   string
	Secret []byte
}

// NewEncryptionKey returns a named random 32-byte key, valid for every
// provider type.
func NewEncryptionKey(name string) EncryptionKey {
	k := make([]byte, 32)
	// crypto/rand.Read never returns an error (Go >= 1.24).
	_, _ = rand.Read(k)
	return EncryptionKey{Name: name, Secret: k}
}

// EncryptedPrefix returns the prefix the apiserver puts in front of values
// it stores with the provider and key name, e.g. "k8s:enc:aescbc:v1:key1:".
func EncryptedPrefix(p ProviderType, keyName string) string {
	return fmt.Sprintf("k8s:enc:%s:v1:%s:", p, keyName)
}

// The apiserver reads these config files as YAML, and YAML is a superset of
// JSON, so they are written with encoding/json instead of pulling in a YAML
// library or k8s.io/apiserver's types.
type encKey struct {
	Name   string `json:"name"`
	Secret string `json:"secret"`
}

type encKeys struct {
	Keys []encKey `json:"keys"`
}

func (c *EncryptionConfig) marshal() ([]byte, error) {
	type entry struct {
		Resources []string         `json:"resources"`
		Providers []map[string]any `json:"providers"`
	}
	doc := struct {
		APIVersion string  `json:"apiVersion"`
		Kind       string  `json:"kind"`
		Resources  []entry `json:"resources"`
	}{APIVersion: "apiserver.config.k8s.io/v1", Kind: "EncryptionConfiguration"}
	for _, r := range c.Resources {
		if len(r.Resources) == 0 || len(r.Providers) == 0 {
			return nil, fmt.Errorf("encryption config: each entry needs resources and providers (got %v)", r.Resources)
		}
		e := entry{Resources: r.Resources}
		for _, p := range r.Providers {
			switch p.Type {
			case ProviderIdentity:
				e.Providers = append(e.Providers, map[string]any{"identity": struct{}{}})
			case ProviderAESCBC, ProviderAESGCM, ProviderSecretbox:
				if len(p.Keys) == 0 {
					return nil, fmt.Errorf("encryption config: provider %s for %v has no keys", p.Type, r.Resources)
				}
				var ks encKeys
				for _, k := range p.Keys {
					ks.Keys = append(ks.Keys, encKey{Name: k.Name, Secret: base64.StdEncoding.EncodeToString(k.Secret)})
				}
				e.Providers = append(e.Providers, map[string]any{string(p.Type): ks})
			default:
				return nil, fmt.Errorf("encryption config: unsupported provider type %q", p.Type)
			}
		}
		doc.Resources = append(doc.Resources, e)
	}
	return json.MarshalIndent(doc, "", "  ")
}

// AuditOptions enables auditing.
type AuditOptions struct {
	// Policy is an audit Policy document (YAML or JSON). Empty means
	// DefaultAuditPolicy.
	Policy string
	// WebhookKubeconfig, when set, enables the webhook backend: a kubeconfig
	// whose cluster server is the webhook URL (see [AuditWebhookKubeconfig]).
	WebhookKubeconfig []byte
	// WebhookMode is --audit-webhook-mode; default "blocking" so events have
	// been delivered by the time the request returns, which keeps tests
	// deterministic.
	WebhookMode string
}

// DefaultAuditPolicy logs every request at the Metadata level.
const DefaultAuditPolicy = `{"apiVersion":"audit.k8s.io/v1","kind":"Policy","rules":[{"level":"Metadata"}]}`

// AuditWebhookKubeconfig returns a kubeconfig for the audit webhook backend
// pointing at url, trusting caPEM (e.g. Env.CA.CertPEM when the webhook
// serves a certificate from [CA.TLSServing]).
func AuditWebhookKubeconfig(url string, caPEM []byte) []byte {
	doc := map[string]any{
		"apiVersion":      "v1",
		"kind":            "Config",
		"clusters":        []any{map[string]any{"name": "audit", "cluster": map[string]any{"server": url, "certificate-authority-data": base64.StdEncoding.EncodeToString(caPEM)}}},
		"users":           []any{map[string]any{"name": "apiserver", "user": map[string]any{}}},
		"contexts":        []any{map[string]any{"name": "audit", "context": map[string]any{"cluster": "audit", "user": "apiserver"}}},
		"current-context": "audit",
	}
	out, err := json.Marshal(doc)
	if err != nil {
		// Only maps of strings: cannot fail.
		panic(fmt.Sprintf("marshal audit webhook kubeconfig: %v", err))
	}
	return out
}

// csvField quotes a token-file field the way the apiserver's CSV reader
// expects (groups are one comma-separated field).
func csvField(s string) string {
	if strings.ContainsAny(s, ",\"\n") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

func writeTokenFile(path string, tokens []StaticToken) error {
	var b strings.Builder
	for _, tok := range tokens {
		if tok.Token == "" || tok.User == "" {
			return fmt.Errorf("static token for user %q: token and user are required", tok.User)
		}
		uid := tok.UID
		if uid == "" {
			uid = tok.User
		}
		fmt.Fprintf(&b, "%s,%s,%s", csvField(tok.Token), csvField(tok.User), csvField(uid))
		if len(tok.Groups) > 0 {
			fmt.Fprintf(&b, ",%s", csvField(strings.Join(tok.Groups, ",")))
		}
		b.WriteString("\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write token file: %w", err)
	}
	return nil
}

// randomToken returns a URL-safe random bearer token.
func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
