package encryption

import (
	"encoding/base64"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/yaml"
)

// maxConfigSize bounds the EncryptionConfiguration read; real ones are a
// few kilobytes.
const maxConfigSize = 1 << 20

// Config is a parsed EncryptionConfiguration (apiserver.config.k8s.io/v1).
type Config struct {
	// Path is the file it was read from; ModTime its modification time.
	Path    string
	ModTime time.Time
	Entries []ConfigEntry
}

// ConfigEntry is one item of .resources: the resources it matches and the
// ordered providers (the first writes; all are tried when reading).
type ConfigEntry struct {
	Resources []string
	Providers []ConfigProvider
}

// ConfigProvider is one provider of an entry. Key material is never kept:
// only names and decoded key lengths.
type ConfigProvider struct {
	// Type is identity, aescbc, aesgcm, secretbox or kms.
	Type string
	// KMSVersion is "v1" or "v2" for kms (an absent apiVersion means v1).
	KMSVersion string
	// Name is the KMS plugin name.
	Name string
	Keys []ConfigKey
}

// ConfigKey is a named key with the length of its decoded secret; Length is
// -1 when the secret is not valid base64.
type ConfigKey struct {
	Name   string
	Length int
}

// WriteStorage is what an object is stored as when this provider writes it.
func (p ConfigProvider) WriteStorage() Storage {
	switch p.Type {
	case ProviderIdentity:
		return Storage{Provider: ProviderIdentity}
	case ProviderKMS:
		return Storage{Encrypted: true, Provider: ProviderKMS, Version: p.KMSVersion, Key: p.Name}
	default:
		s := Storage{Encrypted: true, Provider: p.Type, Version: "v1"}
		if len(p.Keys) > 0 {
			s.Key = p.Keys[0].Name
		}
		return s
	}
}

type rawConfig struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Resources  []struct {
		Resources []string         `json:"resources"`
		Providers []map[string]any `json:"providers"`
	} `json:"resources"`
}

type rawKeys struct {
	Keys []struct {
		Name   string `json:"name"`
		Secret string `json:"secret"`
	} `json:"keys"`
}

type rawKMS struct {
	APIVersion string `json:"apiVersion"`
	Name       string `json:"name"`
}

// LoadConfig reads an EncryptionConfiguration file.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("encryption config %s: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("encryption config %s: %w", path, err)
	}
	if st.Size() > maxConfigSize {
		return nil, fmt.Errorf("encryption config %s: %d bytes, more than the %d allowed", path, st.Size(), maxConfigSize)
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("encryption config %s: %w", path, err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("encryption config %s: %w", path, err)
	}
	c.Path, c.ModTime = path, st.ModTime()
	return c, nil
}

// ParseConfig parses an EncryptionConfiguration document (YAML or JSON).
func ParseConfig(data []byte) (*Config, error) {
	var raw rawConfig
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if raw.Kind != "EncryptionConfiguration" && raw.Kind != "EncryptionConfig" {
		return nil, fmt.Errorf("kind is %q, want EncryptionConfiguration", raw.Kind)
	}
	c := &Config{}
	for i, r := range raw.Resources {
		e := ConfigEntry{Resources: r.Resources}
		if len(r.Resources) == 0 {
			return nil, fmt.Errorf("resources[%d]: no resources listed", i)
		}
		for j, pm := range r.Providers {
			if len(pm) != 1 {
				return nil, fmt.Errorf("resources[%d].providers[%d]: want exactly one provider type, got %d", i, j, len(pm))
			}
			for typ, body := range pm {
				p, err := parseProvider(typ, body)
				if err != nil {
					return nil, fmt.Errorf("resources[%d].providers[%d] (%s): %w", i, j, typ, err)
				}
				e.Providers = append(e.Providers, p)
			}
		}
		if len(e.Providers) == 0 {
			return nil, fmt.Errorf("resources[%d]: no providers", i)
		}
		c.Entries = append(c.Entries, e)
	}
	return c, nil
}

func parseProvider(typ string, body any) (ConfigProvider, error) {
	p := ConfigProvider{Type: typ}
	doc, err := yaml.Marshal(body)
	if err != nil {
		return p, err
	}
	switch typ {
	case ProviderIdentity:
	case ProviderAESCBC, ProviderAESGCM, ProviderSecretbox:
		var ks rawKeys
		if err := yaml.Unmarshal(doc, &ks); err != nil {
			return p, err
		}
		if len(ks.Keys) == 0 {
			return p, fmt.Errorf("no keys")
		}
		for _, k := range ks.Keys {
			n := -1
			if b, err := base64.StdEncoding.DecodeString(k.Secret); err == nil {
				n = len(b)
			}
			p.Keys = append(p.Keys, ConfigKey{Name: k.Name, Length: n})
		}
	case ProviderKMS:
		var k rawKMS
		if err := yaml.Unmarshal(doc, &k); err != nil {
			return p, err
		}
		p.Name, p.KMSVersion = k.Name, "v1"
		if k.APIVersion == "v2" {
			p.KMSVersion = "v2"
		}
	default:
		return p, fmt.Errorf("unknown provider type")
	}
	return p, nil
}

// EntryFor returns the entry that governs resource ("secrets",
// "deployments.apps"): the first whose list names it, its group ("*.apps",
// "*." for the core group) or everything ("*.*").
func (c *Config) EntryFor(resource string) (ConfigEntry, bool) {
	name, group, _ := strings.Cut(resource, ".")
	for _, e := range c.Entries {
		for _, r := range e.Resources {
			rn, rg, _ := strings.Cut(r, ".")
			switch {
			case r == "*.*":
				return e, true
			case rn == "*" && rg == group:
				return e, true
			case rn == name && rg == group:
				return e, true
			}
		}
	}
	return ConfigEntry{}, false
}

// WriteStorage returns how the API server writes resource under this
// configuration; identity when no entry matches.
func (c *Config) WriteStorage(resource string) Storage {
	e, ok := c.EntryFor(resource)
	if !ok {
		return Storage{Provider: ProviderIdentity}
	}
	return e.Providers[0].WriteStorage()
}

// keyDate finds a creation date recorded in a key name, such as
// "key-2024-05-01" or "20240501".
var keyDate = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(20\d\d)-?(0[1-9]|1[0-2])-?(0[1-9]|[12]\d|3[01])`) })

// KeyDate returns the date recorded in a key name, if any.
func KeyDate(name string) (time.Time, bool) {
	m := keyDate().FindStringSubmatch(name)
	if m == nil {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102", m[1]+m[2]+m[3])
	return t, err == nil
}
