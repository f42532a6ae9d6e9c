package cluster_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/cluster"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/rules"
	"github.com/palisade-sec/palisade/internal/workload"
)

// configMapFindings runs hardening/configmap-secret on one ConfigMap.
func configMapFindings(t *testing.T, cm *corev1.ConfigMap) []rule.Violation {
	t.Helper()
	set, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	r, ok := set.Get("hardening/configmap-secret")
	if !ok {
		t.Fatal("hardening/configmap-secret is not a built-in rule")
	}
	inv := workload.NewInventory()
	inv.Add(cm, finding.ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: cm.Namespace, Name: cm.Name}, nil)
	return r.Object(nil, inv.Objects[0])
}

// TestReduceConfigMapKeepsFindings: the rule finds on a reduced ConfigMap
// exactly what it finds on the whole one, and the reduced one keeps no
// setting that is not a credential.
func TestReduceConfigMapKeepsFindings(t *testing.T) {
	many := map[string]string{}
	for i := range 30 {
		many[fmt.Sprintf("SERVICE_%02d_PASSWORD", i)] = fmt.Sprintf("s3cr3t-value-%02d", i)
	}
	big := strings.Repeat("log.level=info\n", 40000) // 600 KB of settings
	tests := []struct {
		name     string
		data     map[string]string
		binary   map[string][]byte
		wantKeys []string
	}{
		{"no data", nil, nil, nil},
		{"settings only", map[string]string{"LOG_LEVEL": "debug", "app.properties": big}, map[string][]byte{"logo.png": make([]byte, 1<<16)}, nil},
		{"a password among settings", map[string]string{"LOG_LEVEL": "debug", "DB_PASSWORD": "hunter2-prod", "app.properties": big},
			nil, []string{"DB_PASSWORD"}},
		{"a credential inside a file", map[string]string{"application.properties": "spring.datasource.url=jdbc:postgresql://db/app\nspring.datasource.password=Sup3rS3cret!\n", "README": "hello"},
			nil, []string{"application.properties"}},
		{"placeholder is no credential", map[string]string{"DB_PASSWORD": "${DB_PASSWORD}", "TOKEN": "changeme"}, nil, nil},
		{"more credentials than the rule reports", many, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns"}, Data: tt.data, BinaryData: tt.binary}
			full := configMapFindings(t, cm.DeepCopy())
			reduced := cm.DeepCopy()
			cluster.ReduceConfigMap(reduced)
			if got := configMapFindings(t, reduced); !reflect.DeepEqual(got, full) {
				t.Errorf("findings on the reduced ConfigMap differ:\nreduced %+v\nfull    %+v", got, full)
			}
			if reduced.BinaryData != nil {
				t.Error("binaryData kept")
			}
			if len(full) > cluster.MaxConfigMapKeys {
				t.Errorf("the rule reports %d keys, more than the %d kept", len(full), cluster.MaxConfigMapKeys)
			}
			if len(reduced.Data) != len(full) {
				t.Errorf("kept %d keys for %d findings", len(reduced.Data), len(full))
			}
			for _, k := range tt.wantKeys {
				if _, ok := reduced.Data[k]; !ok {
					t.Errorf("credential key %s dropped", k)
				}
			}
			for k := range reduced.Data {
				if k == "LOG_LEVEL" || k == "app.properties" || k == "README" {
					t.Errorf("setting %s kept", k)
				}
			}
		})
	}
}
