package agent

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"
)

// AdmissionPolicyTarget is the ConfigMap key the cluster's admission
// webhook reads its AdmissionPolicy from (deploy/admission mounts
// palisade-system/palisade-admission-policy, key policy.yaml, and reloads
// the file when the kubelet updates it). The agent writes the hub's
// `admission` bundle there, so the webhook enforces the fleet's policy and
// keeps enforcing it while the hub is out of reach: the ConfigMap lives
// in the cluster.
type AdmissionPolicyTarget struct {
	Namespace, Name, Key string
}

// String is NAMESPACE/NAME:KEY.
func (t AdmissionPolicyTarget) String() string {
	return t.Namespace + "/" + t.Name + ":" + t.Key
}

// ParseAdmissionPolicyTarget parses NAMESPACE/NAME[:KEY] (KEY defaults
// to policy.yaml).
func ParseAdmissionPolicyTarget(s string) (AdmissionPolicyTarget, error) {
	ref, key, _ := strings.Cut(s, ":")
	ns, name, ok := strings.Cut(ref, "/")
	if key == "" {
		key = "policy.yaml"
	}
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return AdmissionPolicyTarget{}, fmt.Errorf("admission policy ConfigMap %q: want NAMESPACE/NAME[:KEY]", s)
	}
	return AdmissionPolicyTarget{Namespace: ns, Name: name, Key: key}, nil
}

// maxAdmissionPolicyBytes keeps the ConfigMap far below etcd's 1.5 MiB
// object limit; a policy is a few kilobytes.
const maxAdmissionPolicyBytes = 512 << 10

// checkAdmissionPolicy is the agent's cheap check of an admission bundle
// before it reaches the webhook: YAML of kind AdmissionPolicy. The hub
// validated the policy fully when it was published, and the webhook keeps
// its previous policy if a new file does not load.
func checkAdmissionPolicy(content []byte) error {
	if len(content) > maxAdmissionPolicyBytes {
		return fmt.Errorf("%d bytes, over the %d-byte limit", len(content), maxAdmissionPolicyBytes)
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(content, &head); err != nil {
		return fmt.Errorf("not YAML: %w", err)
	}
	if head.Kind != "AdmissionPolicy" || !strings.HasPrefix(head.APIVersion, "palisade.io/") {
		return fmt.Errorf("kind %q apiVersion %q: want an AdmissionPolicy of palisade.io", head.Kind, head.APIVersion)
	}
	return nil
}

// annotationAdmissionBundle records which bundle version the agent wrote.
const annotationAdmissionBundle = "palisade.io/admission-bundle"

// syncAdmissionPolicy writes content under t's key when it differs and
// reports whether it wrote. The ConfigMap must exist (deploy/admission
// creates it): the agent's Role may get and update that one object only,
// not create any.
func syncAdmissionPolicy(ctx context.Context, client kubernetes.Interface, t AdmissionPolicyTarget, content []byte, bundle string) (bool, error) {
	if err := checkAdmissionPolicy(content); err != nil {
		return false, fmt.Errorf("admission bundle %s: %w", bundle, err)
	}
	changed := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cms := client.CoreV1().ConfigMaps(t.Namespace)
		cm, err := cms.Get(ctx, t.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cm.Data[t.Key] == string(content) && cm.Annotations[annotationAdmissionBundle] == bundle {
			changed = false
			return nil
		}
		cm = cm.DeepCopy()
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		if cm.Annotations == nil {
			cm.Annotations = map[string]string{}
		}
		cm.Data[t.Key] = string(content)
		cm.Annotations[annotationAdmissionBundle] = bundle
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: "palisade-agent"})
		changed = err == nil
		return err
	})
	if err != nil {
		return false, fmt.Errorf("admission policy ConfigMap %s: %w", t, err)
	}
	return changed, nil
}
