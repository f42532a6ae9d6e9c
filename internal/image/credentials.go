package image

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
)

// Credentials is a keychain of registry credentials read from Docker
// configuration data: a config.json or a kubernetes.io/dockerconfigjson
// Secret's .dockerconfigjson ({"auths": {host: {...}}}), or the legacy
// .dockercfg ({host: {...}}). Only inline credentials are used: credential
// helpers and credsStore are never run. Registries without an entry are
// reached anonymously. The zero value holds no credentials.
type Credentials struct {
	auths map[string]authn.AuthConfig
}

type dockerConfig struct {
	Auths map[string]dockerAuth `json:"auths"`
}

type dockerAuth struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Auth     string `json:"auth,omitempty"`
	// IdentityToken and RegistryToken are OAuth tokens.
	IdentityToken string `json:"identitytoken,omitempty"`
	RegistryToken string `json:"registrytoken,omitempty"`
}

// LoadDockerConfig reads a Docker config file (either format) into new
// Credentials. Errors name the file but never show its content.
func LoadDockerConfig(path string) (*Credentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("registry config: %w", err)
	}
	c := &Credentials{}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("registry config %s: not JSON", path)
	}
	if legacyDockercfg(probe) {
		err = c.AddDockercfg(b)
	} else {
		err = c.AddDockerConfig(b)
	}
	if err != nil {
		return nil, fmt.Errorf("registry config %s: %w", path, err)
	}
	return c, nil
}

// legacyDockercfg tells a .dockercfg (registry keys whose values are all
// objects) from a config.json ("auths", and settings such as credsStore).
func legacyDockercfg(probe map[string]json.RawMessage) bool {
	if _, ok := probe["auths"]; ok || len(probe) == 0 {
		return false
	}
	for _, v := range probe {
		if len(v) == 0 || v[0] != '{' {
			return false
		}
	}
	return true
}

// AddDockerConfig adds the credentials of config.json data. Hosts already
// known keep their first credentials.
func (c *Credentials) AddDockerConfig(data []byte) error {
	var cfg dockerConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("not a Docker config: %w", err)
	}
	return c.add(cfg.Auths)
}

// AddDockercfg adds the credentials of legacy .dockercfg data.
func (c *Credentials) AddDockercfg(data []byte) error {
	var auths map[string]dockerAuth
	if err := json.Unmarshal(data, &auths); err != nil {
		return fmt.Errorf("not a .dockercfg: %w", err)
	}
	return c.add(auths)
}

func (c *Credentials) add(auths map[string]dockerAuth) error {
	if c.auths == nil {
		c.auths = map[string]authn.AuthConfig{}
	}
	for host, a := range auths {
		cfg := authn.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}
		if a.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return fmt.Errorf("auth for %s is not base64", host)
			}
			cfg.Username, cfg.Password, _ = strings.Cut(string(raw), ":")
		}
		h := registryHost(host)
		if _, dup := c.auths[h]; !dup {
			c.auths[h] = cfg
		}
	}
	return nil
}

// Len is the number of registries with credentials.
func (c *Credentials) Len() int { return len(c.auths) }

// registryHost normalises a docker config key ("https://index.docker.io/v1/",
// "registry.example.com:5000") to a host.
func registryHost(key string) string {
	if strings.Contains(key, "://") {
		if u, err := url.Parse(key); err == nil {
			key = u.Host
		}
	}
	key, _, _ = strings.Cut(key, "/")
	if key == "index.docker.io" || key == "docker.io" || key == "registry-1.docker.io" {
		return "index.docker.io"
	}
	return key
}

// Resolve implements authn.Keychain.
func (c *Credentials) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if cfg, ok := c.auths[registryHost(r.RegistryStr())]; ok {
		return authn.FromConfig(cfg), nil
	}
	return authn.Anonymous, nil
}
