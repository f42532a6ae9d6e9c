package admission

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// pullSecrets builds registry credentials from the imagePullSecrets of a
// pod and of its service account, read through the API. It needs get on
// serviceaccounts and secrets (docs/admission.md, deploy/admission).
type pullSecrets struct {
	client kubernetes.Interface
	cache  *ttlCache[*secretKeychain]
}

// pullSecretTTL bounds how long a rotated pull secret may be ignored.
const pullSecretTTL = time.Minute

func newPullSecrets(client kubernetes.Interface) *pullSecrets {
	return &pullSecrets{client: client, cache: newTTLCache[*secretKeychain](1000)}
}

// keychain returns credentials for a pod spec in a namespace, falling back
// to the default keychain (the server's own Docker config).
func (ps *pullSecrets) keychain(ctx context.Context, namespace, serviceAccount string, refs []corev1.LocalObjectReference) (authn.Keychain, error) {
	if ps == nil {
		return authn.DefaultKeychain, nil
	}
	names := make([]string, 0, len(refs))
	for _, r := range refs {
		names = append(names, r.Name)
	}
	sort.Strings(names)
	key := namespace + "/" + serviceAccount + "/" + strings.Join(names, ",")
	kc, _, err := ps.cache.get(ctx, key, pullSecretTTL, func(ctx context.Context) (*secretKeychain, error) {
		return ps.load(ctx, namespace, serviceAccount, names)
	})
	if err != nil {
		return nil, err
	}
	return authn.NewMultiKeychain(kc, authn.DefaultKeychain), nil
}

func (ps *pullSecrets) load(ctx context.Context, namespace, serviceAccount string, names []string) (*secretKeychain, error) {
	if serviceAccount != "" {
		sa, err := ps.client.CoreV1().ServiceAccounts(namespace).Get(ctx, serviceAccount, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return nil, fmt.Errorf("service account %s/%s: %w", namespace, serviceAccount, err)
		default:
			for _, r := range sa.ImagePullSecrets {
				names = append(names, r.Name)
			}
		}
	}
	kc := &secretKeychain{auths: map[string]authn.AuthConfig{}}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		s, err := ps.client.CoreV1().Secrets(namespace).Get(ctx, n, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue // the kubelet ignores missing pull secrets too
		}
		if err != nil {
			return nil, fmt.Errorf("pull secret %s/%s: %w", namespace, n, err)
		}
		if err := kc.add(s); err != nil {
			return nil, fmt.Errorf("pull secret %s/%s: %w", namespace, n, err)
		}
	}
	return kc, nil
}

// secretKeychain maps registry hosts to credentials.
type secretKeychain struct {
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

func (kc *secretKeychain) add(s *corev1.Secret) error {
	var auths map[string]dockerAuth
	switch s.Type {
	case corev1.SecretTypeDockerConfigJson:
		var cfg dockerConfig
		if err := json.Unmarshal(s.Data[corev1.DockerConfigJsonKey], &cfg); err != nil {
			return fmt.Errorf("%s: %w", corev1.DockerConfigJsonKey, err)
		}
		auths = cfg.Auths
	case corev1.SecretTypeDockercfg:
		if err := json.Unmarshal(s.Data[corev1.DockerConfigKey], &auths); err != nil {
			return fmt.Errorf("%s: %w", corev1.DockerConfigKey, err)
		}
	default:
		return nil
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
		if _, dup := kc.auths[h]; !dup {
			kc.auths[h] = cfg
		}
	}
	return nil
}

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
func (kc *secretKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if cfg, ok := kc.auths[registryHost(r.RegistryStr())]; ok {
		return authn.FromConfig(cfg), nil
	}
	return authn.Anonymous, nil
}
