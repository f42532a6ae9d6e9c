package policyintent

import (
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	rt "github.com/palisade-sec/palisade/internal/runtime"
)

// FuzzBuildAdmin feeds arbitrary admin policy objects, v1alpha1 and
// ClusterNetworkPolicies (v1alpha2) alike (as a dynamic
// informer would hand them over) to Build and judges connections of every
// kind from the snapshot, with and without Node objects: no panic, and a snapshot the model could not
// fully read judges nothing (never a verdict from a partial model).
func FuzzBuildAdmin(f *testing.F) {
	for _, y := range append(append([]string{nodesPolicy}, adminTiers...), clusterTiers...) {
		j, err := yaml.YAMLToJSON([]byte(y))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(j)
	}
	f.Add([]byte(`{"apiVersion":"policy.networking.k8s.io/v1alpha1","kind":"AdminNetworkPolicy","metadata":{"name":"x"},"spec":null}`))
	f.Add([]byte(`{"apiVersion":"policy.networking.k8s.io/v1alpha2","kind":"ClusterNetworkPolicy","metadata":{"name":"n"},"spec":{"tier":"Admin","priority":1,"subject":{"namespaces":{}},"egress":[{"action":"Accept","to":[{"domainNames":["*.example.com"]},{"nodes":{}}],"protocols":[{"tcp":{"destinationPort":{"number":443}}}]}]}}`))
	flows := []rt.Flow{
		{Pod: web, Outbound: true, Remote: ap("203.0.113.9:443"), Port: 443},
		{Pod: api, Outbound: true, Remote: ap("10.244.2.7:5432"), Port: 5432},
		{Pod: db, Remote: ap("198.51.100.4:40000"), Port: 5432},
		{Pod: web, Outbound: true, Remote: ap("10.96.0.20:5432"), Port: 5432},
		{Pod: web, Outbound: true, Remote: ap("198.51.100.53:53"), Port: 53, UDP: true},
		{Pod: api, Outbound: true, Remote: ap("192.168.1.1:6443"), Port: 6443},
		{Pod: web, Outbound: true, Remote: ap("192.168.1.11:8080"), Port: 8080},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var obj map[string]any
		if json.Unmarshal(data, &obj) != nil {
			return
		}
		u := &unstructured.Unstructured{Object: obj}
		var nodes []*corev1.Node
		if len(data)%2 == 0 { // with and without the Node objects
			nodes = clusterNodes("control-plane", "")
		}
		s := clusterWithNodes([]*unstructured.Unstructured{u}, nodes)
		j := &Judge{}
		j.Set(s)
		for _, f := range flows {
			v := j.Judge(f)
			if s.incomplete != "" && v.Decided {
				t.Fatalf("incomplete model (%s) decided %+v", s.incomplete, v)
			}
		}
	})
}
