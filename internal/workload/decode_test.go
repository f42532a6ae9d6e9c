package workload

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/palisade-sec/palisade/internal/manifest"
)

// typedKinds are the group/kind pairs newTyped decodes.
var typedKinds = [][2]string{
	{"", "Pod"}, {"", "ReplicationController"}, {"", "Namespace"}, {"", "ServiceAccount"}, {"", "Service"}, {"", "ConfigMap"},
	{"networking.k8s.io", "Ingress"}, {"policy", "PodDisruptionBudget"}, {"autoscaling", "HorizontalPodAutoscaler"},
	{"apps", "Deployment"}, {"apps", "StatefulSet"}, {"apps", "DaemonSet"}, {"apps", "ReplicaSet"},
	{"batch", "Job"}, {"batch", "CronJob"}, {"networking.k8s.io", "NetworkPolicy"},
	{"rbac.authorization.k8s.io", "Role"}, {"rbac.authorization.k8s.io", "ClusterRole"},
	{"rbac.authorization.k8s.io", "RoleBinding"}, {"rbac.authorization.k8s.io", "ClusterRoleBinding"},
}

// checkSameDecode decodes data as kind with encoding/json and with
// unmarshalTyped: both must succeed with equal objects, or both fail with
// the same error (unmarshalTyped's errors are encoding/json's). It also
// reports whether the fast decoder alone accepted data, so callers can
// see the fast path is taken.
func checkSameDecode(t *testing.T, what string, kind [2]string, data []byte) (fast bool) {
	t.Helper()
	fresh := func() any { return newTyped(kind[0], kind[1]) }
	want := fresh()
	wantErr := json.Unmarshal(data, want)
	got, gotErr := unmarshalTyped(data, fresh(), fresh)
	switch {
	case (wantErr == nil) != (gotErr == nil):
		t.Fatalf("%s (%s/%s): encoding/json error %v, unmarshalTyped error %v\n%s", what, kind[0], kind[1], wantErr, gotErr, data)
	case wantErr != nil:
		if wantErr.Error() != gotErr.Error() {
			t.Fatalf("%s: encoding/json error %q, unmarshalTyped error %q", what, wantErr, gotErr)
		}
	case !reflect.DeepEqual(got, want):
		t.Fatalf("%s (%s/%s): decoded objects differ\nencoding/json: %+v\nunmarshalTyped: %+v\ninput: %s", what, kind[0], kind[1], want, got, data)
	}
	return jsonv1.Unmarshal(data, fresh()) == nil
}

// TestFastDecodeMatchesEncodingJSON decodes every object of every YAML
// file of the repository (examples, fixtures, charts' test values, the
// corpus sample), and the 10,000-object benchmark corpus when
// PALISADE_CORPUS names its directory, with both decoders.
func TestFastDecodeMatchesEncodingJSON(t *testing.T) {
	root := filepath.Join("..", "..")
	var paths []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "vendor" || d.Name() == "templates") {
			return fs.SkipDir
		}
		if ext := filepath.Ext(path); !d.IsDir() && (ext == ".yaml" || ext == ".yml" || ext == ".json") {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("PALISADE_CORPUS"); dir != "" {
		paths = append(paths, dir)
	}
	objects, fast := 0, 0
	for _, p := range paths {
		set, err := manifest.Load(context.Background(), []string{p}, manifest.Options{Workers: 1})
		if err != nil {
			continue // not a manifest (a values file, a policy, a fuzz seed)
		}
		for _, o := range set.Objects {
			info := LookupAPIVersion(o.APIVersion, o.Kind)
			if info.Status == APIUnknown || newTyped(info.Group, o.Kind) == nil {
				continue
			}
			objects++
			if checkSameDecode(t, o.File, [2]string{info.Group, o.Kind}, o.JSON) {
				fast++
			}
		}
	}
	t.Logf("%d typed objects decoded alike, %d of them by the fast decoder alone", objects, fast)
	if objects < 100 || fast < objects/2 {
		t.Fatalf("only %d typed objects (%d on the fast path): the walk found too little to compare", objects, fast)
	}
}

// TestFastDecodeCases pins the encoding/json behaviours the fast decoder
// must keep, and the errors it must leave to encoding/json.
func TestFastDecodeCases(t *testing.T) {
	deploy := [2]string{"apps", "Deployment"}
	for _, tc := range []struct {
		name string
		kind [2]string
		json string
	}{
		{"plain", deploy, `{"metadata":{"name":"d"},"spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"c","image":"x"}]}}}}`},
		{"case-insensitive names", deploy, `{"Metadata":{"NAME":"d"},"spec":{"Replicas":2}}`},
		{"duplicate names, last wins", deploy, `{"metadata":{"name":"a","name":"b"}}`},
		{"duplicate objects merge", deploy, `{"metadata":{"name":"a"},"metadata":{"namespace":"n"}}`},
		{"invalid UTF-8 replaced", deploy, "{\"metadata\":{\"name\":\"a\xffb\"}}"},
		{"quantities and int-or-string", deploy, `{"spec":{"strategy":{"rollingUpdate":{"maxSurge":"25%","maxUnavailable":1}},"template":{"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":"500m","memory":"1Gi"}}}]}}}}`},
		{"null fields", deploy, `{"metadata":null,"spec":{"replicas":null,"template":{"spec":{"containers":null}}}}`},
		{"unknown fields ignored", deploy, `{"status":{"x":1},"spec":{"nope":[1,2,{}]}}`},
		{"times", [2]string{"", "Pod"}, `{"metadata":{"creationTimestamp":"2024-01-02T03:04:05Z"}}`},
		{"wrong type: encoding/json's error", deploy, `{"spec":{"replicas":"two"}}`},
		{"wrong type deep", deploy, `{"spec":{"template":{"spec":{"containers":[{"name":"c","ports":[{"containerPort":"x"}]}]}}}}`},
		{"bad quantity", deploy, `{"spec":{"template":{"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":"lots"}}}]}}}}`},
		{"number overflow", deploy, `{"spec":{"replicas":99999999999}}`},
		{"float into int", deploy, `{"spec":{"replicas":1.5}}`},
		{"truncated", deploy, `{"spec":{"replicas":1`},
		{"rbac", [2]string{"rbac.authorization.k8s.io", "ClusterRole"}, `{"rules":[{"verbs":["*"],"resources":["*"],"apiGroups":["*"]}]}`},
		{"config map binary data", [2]string{"", "ConfigMap"}, `{"binaryData":{"a":"aGVsbG8="},"data":{"b":"c"}}`},
		{"config map bad base64", [2]string{"", "ConfigMap"}, `{"binaryData":{"a":"!!"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkSameDecode(t, tc.name, tc.kind, []byte(tc.json))
		})
	}
}

// FuzzFastDecodeMatchesEncodingJSON: for any input and kind, unmarshalTyped
// decides exactly as encoding/json does.
func FuzzFastDecodeMatchesEncodingJSON(f *testing.F) {
	for i, s := range []string{
		`{"metadata":{"name":"d","labels":{"a":"b"}},"spec":{"replicas":2,"selector":{"matchLabels":{"a":"b"}},"template":{"spec":{"containers":[{"name":"c","image":"x","securityContext":{"privileged":true,"capabilities":{"add":["NET_RAW"]}}}]}}}}`,
		`{"Metadata":{"NAME":"d"},"spec":{"Replicas":2,"replicas":3}}`,
		`{"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":"500m"}}}],"volumes":[{"hostPath":{"path":"/"}}]}}`,
		`{"spec":{"ports":[{"port":80,"targetPort":"http"}],"externalIPs":["1.2.3.4"]}}`,
		`{"rules":[{"verbs":["*"]}],"aggregationRule":{"clusterRoleSelectors":[{}]}}`,
		`{"spec":{"replicas":"x"}}`,
	} {
		f.Add([]byte(s), uint8(i*3))
	}
	f.Fuzz(func(t *testing.T, data []byte, k uint8) {
		if len(data) > 16<<10 {
			return
		}
		checkSameDecode(t, "fuzz", typedKinds[int(k)%len(typedKinds)], data)
	})
}
