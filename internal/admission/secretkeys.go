package admission

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/palisade-sec/palisade/internal/supplychain"
)

// KubeSecrets reads the Secrets that verifyImages keys name
// (k8s://namespace/name[/field]) through the API server. The webhook needs
// get on those Secrets only: a Role per namespace with resourceNames
// (docs/admission.md, "Keys in Secrets"); it never lists Secrets. A key is
// read when the policy loads, so a rotated key is used from the next
// policy reload.
type KubeSecrets struct {
	Client kubernetes.Interface
}

var _ supplychain.SecretReader = KubeSecrets{}

// SecretData returns the Secret's data, or an error that says what is
// missing: the Secret, or the permission to read it.
func (k KubeSecrets) SecretData(ctx context.Context, namespace, name string) (map[string][]byte, error) {
	s, err := k.Client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("secret %s/%s not found", namespace, name)
	case apierrors.IsForbidden(err):
		return nil, fmt.Errorf("secret %s/%s: the webhook may not read it: grant get on secrets with resourceNames [%s] in namespace %s (docs/admission.md): %w", namespace, name, name, namespace, err)
	case err != nil:
		return nil, fmt.Errorf("secret %s/%s: %w", namespace, name, err)
	}
	return s.Data, nil
}

// secrets is the reader of k8s:// keys: the API server when the webhook
// has a client, else none (such keys are refused).
func (s *Server) secrets() supplychain.SecretReader {
	if s.opts.Client == nil {
		return nil
	}
	return KubeSecrets{Client: s.opts.Client}
}
