package cluster

import (
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/secret"
)

// MaxConfigMapKeys is how many data keys of one ConfigMap ReduceConfigMap
// keeps: hardening/configmap-secret reports at most that many keys of one
// ConfigMap, in key order.
const MaxConfigMapKeys = 20

// ReduceConfigMap drops, in place, the content of a ConfigMap that no
// built-in rule reads, so that a scan or the agent's informer cache holds
// ConfigMaps at the cost of their metadata, not of their content (up to
// 1 MiB each on the API server): binaryData (opaque, never judged) and
// every data key whose NAME=value pair is not a credential
// (secret.ScanKeyValue, the judgement hardening/configmap-secret makes of
// each key on its own). The first MaxConfigMapKeys credential keys, in key
// order, keep their values, so the rule finds on the reduced ConfigMap
// exactly what it finds on the whole one; a test holds the two to the same
// findings.
//
// Custom (CEL) rules therefore see a live ConfigMap's metadata and its
// credential keys only. Nothing of the content is logged; it leaves the
// process only as the rule's finding, whose message masks the value.
//
// It returns the number of data keys dropped.
func ReduceConfigMap(cm *corev1.ConfigMap) int {
	cm.BinaryData = nil
	if len(cm.Data) == 0 {
		return 0
	}
	keys := make([]string, 0, len(cm.Data))
	for k := range cm.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kept := map[string]string{}
	for _, k := range keys {
		if len(kept) >= MaxConfigMapKeys {
			break
		}
		if _, found := secret.ScanKeyValue(k, cm.Data[k]); found {
			kept[k] = cm.Data[k]
		}
	}
	dropped := len(cm.Data) - len(kept)
	if len(kept) == 0 {
		kept = nil
	}
	cm.Data = kept
	return dropped
}
