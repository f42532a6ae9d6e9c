package encryption

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
)

// ReviewOptions tune Review.
type ReviewOptions struct {
	// Resources must be covered by an encrypting provider (default secrets).
	Resources []string
	// Now is the time key ages are measured at (default time.Now).
	Now time.Time
	// MaxKeyAge is the oldest a writing key may be (default 90 days).
	MaxKeyAge time.Duration
}

// Review finds the weaknesses of an EncryptionConfiguration: resources it
// does not cover, identity first, weak or deprecated writing providers,
// invalid keys and old writing keys. It is pure: the file's modification
// time was recorded by LoadConfig.
func Review(c *Config, o ReviewOptions) []finding.Finding {
	if len(o.Resources) == 0 {
		o.Resources = []string{"secrets"}
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.MaxKeyAge <= 0 {
		o.MaxKeyAge = defaultMaxKeyAgeDays * 24 * time.Hour
	}
	obj := finding.ObjectRef{APIVersion: "apiserver.config.k8s.io/v1", Kind: "EncryptionConfiguration", Name: filepath.Base(c.Path)}
	var out []finding.Finding
	add := func(id, field, msg string) {
		f := newFinding(id, msg, obj)
		f.File, f.Field = c.Path, field
		out = append(out, f)
	}
	for _, res := range o.Resources {
		if _, ok := c.EntryFor(res); !ok {
			add(RuleNotCovered, "resources", fmt.Sprintf("no entry matches %q: it is stored as plaintext", res))
		}
	}
	for i, e := range c.Entries {
		field := fmt.Sprintf("resources[%d].providers[0]", i)
		names := strings.Join(e.Resources, ",")
		first := e.Providers[0]
		switch first.Type {
		case ProviderIdentity:
			if len(e.Providers) > 1 {
				add(RuleIdentityFirst, field, fmt.Sprintf("%s: identity is first, so new writes are plaintext although %s is configured", names, e.Providers[1].Type))
			} else {
				add(RuleIdentityFirst, field, fmt.Sprintf("%s: identity is the only provider: stored as plaintext", names))
			}
		case ProviderAESCBC:
			add(RuleWeakProvider, field, fmt.Sprintf("%s: aescbc writes (CBC mode, padding-oracle attacks; the key sits on the API server's disk)", names))
		case ProviderAESGCM:
			add(RuleWeakProvider, field, fmt.Sprintf("%s: aesgcm with a static key writes (nonce reuse after about 200,000 writes per key unless rotated)", names))
		case ProviderKMS:
			if first.KMSVersion != "v2" {
				add(RuleWeakProvider, field, fmt.Sprintf("%s: KMS v1 (%s) writes; it is deprecated and disabled by default since Kubernetes 1.29", names, first.Name))
			}
		}
		for j, p := range e.Providers {
			seen := map[string]bool{}
			for k, key := range p.Keys {
				kf := fmt.Sprintf("resources[%d].providers[%d].%s.keys[%d]", i, j, p.Type, k)
				if seen[key.Name] {
					add(RuleInvalidKey, kf, fmt.Sprintf("%s: key name %q is used twice", p.Type, key.Name))
				}
				seen[key.Name] = true
				if msg := keyLengthProblem(p.Type, key); msg != "" {
					add(RuleInvalidKey, kf, fmt.Sprintf("%s key %q: %s", p.Type, key.Name, msg))
				}
			}
		}
		if len(first.Keys) > 0 {
			key := first.Keys[0]
			if d, ok := KeyDate(key.Name); ok {
				if age := o.Now.Sub(d); age > o.MaxKeyAge {
					add(RuleKeyAge, field+".keys[0]", fmt.Sprintf("%s: writing key %q was created %s (per its name), %d days ago; rotate at least every %d days",
						names, key.Name, d.Format("2006-01-02"), int(age.Hours()/24), int(o.MaxKeyAge.Hours()/24)))
				}
			} else if !c.ModTime.IsZero() {
				if age := o.Now.Sub(c.ModTime); age > o.MaxKeyAge {
					add(RuleKeyAge, field+".keys[0]", fmt.Sprintf("%s: writing key %q is at least %d days old (the file was last modified %s; the key name records no date); rotate at least every %d days",
						names, key.Name, int(age.Hours()/24), c.ModTime.UTC().Format("2006-01-02"), int(o.MaxKeyAge.Hours()/24)))
				}
			}
		}
	}
	return out
}

func keyLengthProblem(provider string, k ConfigKey) string {
	if k.Length < 0 {
		return "secret is not valid base64"
	}
	switch provider {
	case ProviderAESCBC, ProviderSecretbox:
		if k.Length != 32 {
			return fmt.Sprintf("secret is %d bytes, want 32", k.Length)
		}
	case ProviderAESGCM:
		if k.Length != 16 && k.Length != 24 && k.Length != 32 {
			return fmt.Sprintf("secret is %d bytes, want 16, 24 or 32", k.Length)
		}
	}
	return ""
}
