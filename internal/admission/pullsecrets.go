package admission

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/palisade-sec/palisade/internal/image"
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
	kc := &secretKeychain{}
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

// secretKeychain maps registry hosts to the credentials of pull secrets.
type secretKeychain struct {
	image.Credentials
}

func (kc *secretKeychain) add(s *corev1.Secret) error {
	switch s.Type {
	case corev1.SecretTypeDockerConfigJson:
		if err := kc.AddDockerConfig(s.Data[corev1.DockerConfigJsonKey]); err != nil {
			return fmt.Errorf("%s: %w", corev1.DockerConfigJsonKey, err)
		}
	case corev1.SecretTypeDockercfg:
		if err := kc.AddDockercfg(s.Data[corev1.DockerConfigKey]); err != nil {
			return fmt.Errorf("%s: %w", corev1.DockerConfigKey, err)
		}
	}
	return nil
}
