package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
	kjson "sigs.k8s.io/json"

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

// checkSameDecode decodes data as kind as the API server does
// (sigs.k8s.io/json, case-sensitive names) and with unmarshalTyped: both
// must succeed with equal objects, or both fail, unmarshalTyped with
// encoding/json's error (or the API server decoder's when encoding/json
// accepts the input). It also reports whether the fast decoder alone
// accepted data, so callers can see the fast path is taken.
func checkSameDecode(t *testing.T, what string, kind [2]string, data []byte) (fast bool) {
	t.Helper()
	fresh := func() any { return newTyped(kind[0], kind[1]) }
	want := fresh()
	wantErr := kjson.UnmarshalCaseSensitivePreserveInts(data, want)
	got, gotErr := unmarshalTyped(data, fresh(), fresh)
	switch {
	case (wantErr == nil) != (gotErr == nil):
		t.Fatalf("%s (%s/%s): API server decoder error %v, unmarshalTyped error %v\n%s", what, kind[0], kind[1], wantErr, gotErr, data)
	case wantErr != nil:
		msgErr := json.Unmarshal(data, fresh())
		if msgErr == nil {
			msgErr = wantErr
		}
		if msgErr.Error() != gotErr.Error() {
			t.Fatalf("%s: expected error %q, unmarshalTyped error %q", what, msgErr, gotErr)
		}
	case !reflect.DeepEqual(got, want):
		t.Fatalf("%s (%s/%s): decoded objects differ\nAPI server: %+v\nunmarshalTyped: %+v\ninput: %s", what, kind[0], kind[1], want, got, data)
	}
	checkDirect(t, what, kind, data, want, wantErr)
	return jsonv2.Unmarshal(data, fresh(), caseSensitiveV1()) == nil
}

// checkDirect holds decodeDirect to its contract: when it accepts data,
// the API server's decoder (want, wantErr) decodes data without error to an equal
// object. It reports whether decodeDirect accepted data.
func checkDirect(t *testing.T, what string, kind [2]string, data []byte, want any, wantErr error) bool {
	t.Helper()
	got, ok := decodeDirect(data, kind[0], kind[1])
	switch {
	case !ok:
		checkDirectShared(t, what, kind, data, false, nil)
		return false
	case wantErr != nil:
		t.Fatalf("%s (%s/%s): the direct decoder accepted what the API server rejects (%v)\n%s", what, kind[0], kind[1], wantErr, data)
	case !reflect.DeepEqual(got, want):
		t.Fatalf("%s (%s/%s): direct and API server decodings differ\nAPI server:    %+v\ndirect:        %+v\ninput: %s", what, kind[0], kind[1], want, got, data)
	}
	checkDirectShared(t, what, kind, data, true, want)
	return true
}

// checkDirectShared decodes data twice through one directCache, as a
// decoding goroutine does with the objects it takes: the first time
// fills the cache, the second takes its resource lists from it. Both
// must decide as decodeDirect alone did (accepted, and then equal to
// want).
func checkDirectShared(t *testing.T, what string, kind [2]string, data []byte, wantOK bool, want any) {
	t.Helper()
	var cache directCache
	for pass := range 2 {
		got, ok := decodeDirectShared(data, kind[0], kind[1], &cache)
		switch {
		case ok != wantOK:
			t.Fatalf("%s (%s/%s), pass %d through a cache: accepted %v, without one %v\n%s", what, kind[0], kind[1], pass, ok, wantOK, data)
		case ok && !reflect.DeepEqual(got, want):
			t.Fatalf("%s (%s/%s), pass %d through a cache: decodings differ\nAPI server: %+v\ncached:     %+v\ninput: %s", what, kind[0], kind[1], pass, want, got, data)
		}
	}
}

// TestFastDecodeMatchesAPIServer decodes every object of every YAML
// file of the repository (examples, fixtures, charts' test values, the
// corpus sample), and the 10,000-object benchmark corpus when
// PALISADE_CORPUS names its directory, with both decoders.
func TestFastDecodeMatchesAPIServer(t *testing.T) {
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
	objects, fast, workloads, direct := 0, 0, 0, 0
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
			if isWorkloadKind(info.Group, o.Kind) {
				workloads++
				if _, ok := decodeDirect(o.JSON, info.Group, o.Kind); ok {
					direct++
				} else if testing.Verbose() {
					t.Logf("direct decoder declined %s %s/%s in %s:%d", o.Kind, o.Namespace, o.Name, o.File, o.Line)
				}
			}
		}
	}
	t.Logf("%d typed objects decoded alike, %d of them by the fast decoder alone; %d of %d workloads by the direct decoder", objects, fast, direct, workloads)
	if direct < workloads/2 {
		t.Fatalf("the direct decoder took only %d of %d workloads", direct, workloads)
	}
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
		{"case-folded names are unknown fields", deploy, `{"Metadata":{"NAME":"d"},"spec":{"Replicas":2}}`},
		{"case-folded name after the exact one", deploy, `{"spec":{"replicas":2,"Replicas":3}}`},
		{"case-folded name with a bad value", deploy, `{"spec":{"Replicas":"x"}}`},
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

// TestDirectDecode pins which inputs the direct decoder takes (and then
// decodes as encoding/json does) and which it leaves to unmarshalTyped.
func TestDirectDecode(t *testing.T) {
	deploy := [2]string{"apps", "Deployment"}
	pod := [2]string{"", "Pod"}
	container := func(c string) string {
		return `{"spec":{"template":{"spec":{"containers":[` + c + `]}}}}`
	}
	for _, tc := range []struct {
		name   string
		kind   [2]string
		json   string
		direct bool
	}{
		{"plain", deploy, `{"metadata":{"name":"d"},"spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"c","image":"x"}]}}}}`, true},
		{"whitespace", deploy, " {\"metadata\" : { \"name\" :\"d\" } ,\n\"spec\":{ } } ", true},
		{"empty status", deploy, `{"metadata":{"name":"d"},"status":{}}`, true},
		{"non-empty status", deploy, `{"status":{"replicas":1}}`, false},
		{"null fields", deploy, `{"metadata":null,"spec":{"replicas":null,"selector":null,"template":{"spec":{"containers":null}}}}`, true},
		{"null in a list", deploy, container(`null,{"name":"c","args":[null,"a"]}`), true},
		{"empty lists and maps", deploy, `{"metadata":{"labels":{}},"spec":{"template":{"spec":{"containers":[],"volumes":[]}}}}`, true},
		{"escapes", pod, `{"metadata":{"name":"a\"b\\c\/\n\t\u00e9\u2028"}}`, true},
		{"UTF-8", pod, `{"metadata":{"name":"café","labels":{"k":"日本"}}}`, true},
		{"surrogate escape declined", pod, `{"metadata":{"name":"\ud83d\ude00"}}`, false},
		{"invalid UTF-8 declined", pod, "{\"metadata\":{\"name\":\"a\xffb\"}}", false},
		{"case-folded name declined", deploy, `{"Metadata":{"name":"d"}}`, false},
		{"folded name with dash declined", deploy, `{"meta-data":{"name":"d"}}`, false},
		{"duplicate name declined", deploy, `{"metadata":{"name":"a","name":"b"}}`, false},
		{"duplicate label declined", deploy, `{"metadata":{"labels":{"a":"1","a":"2"}}}`, false},
		{"null label declined", deploy, `{"metadata":{"labels":{"a":null}}}`, false},
		{"unknown name skipped", deploy, `{"spec":{"nope":[1,-2.5e3,{"x":[true,false,null]}],"replicas":1}}`, true},
		{"unknown name with bad JSON", deploy, `{"spec":{"nope":[1,}}`, false},
		{"unhandled field declined", deploy, `{"spec":{"template":{"spec":{"affinity":{}}}}}`, false},
		{"quantities and int-or-string", deploy, `{"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%","maxUnavailable":1}},"template":{"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":"500m","memory":"1Gi"},"requests":{"cpu":2}}}]}}}}`, true},
		{"bad quantity declined", deploy, container(`{"resources":{"limits":{"cpu":"lots"}}}`), false},
		{"float declined", deploy, `{"spec":{"replicas":1.0}}`, false},
		{"overflow declined", deploy, `{"spec":{"replicas":2147483648}}`, false},
		{"largest int32", deploy, `{"spec":{"replicas":2147483647,"template":{"spec":{"terminationGracePeriodSeconds":-9223372036854775808}}}}`, true},
		{"leading zero declined", deploy, `{"spec":{"replicas":01}}`, false},
		{"string for a number declined", deploy, `{"spec":{"replicas":"2"}}`, false},
		{"trailing data declined", deploy, `{"spec":{}} x`, false},
		{"top-level null declined", deploy, `null`, false},
		{"truncated declined", deploy, `{"spec":{"replicas":1`, false},
		{"deep nesting declined", deploy, `{"spec":{"nope":` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `}}`, false},
		{"nesting within the bound", deploy, `{"spec":{"nope":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}}`, true},
		{"times", pod, `{"metadata":{"creationTimestamp":"2024-01-02T03:04:05Z"}}`, true},
		{"null time", pod, `{"metadata":{"creationTimestamp":null}}`, true},
		{"many labels", pod, `{"metadata":{"labels":{` + manyLabels(40) + `}}}`, true},
		{"every field", [2]string{"batch", "CronJob"}, everyFieldCronJob, true},
		{"every field, pod", pod, everyFieldPod, true},
		{"every field, deployment", deploy, `{"metadata":` + everyFieldMeta + `,"spec":{"replicas":3,"selector":{"matchLabels":{"a":"b"}},"template":{"spec":` + everyFieldPodSpec + `},
"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"10%","maxSurge":2}},"minReadySeconds":4,"revisionHistoryLimit":5,"paused":true,"progressDeadlineSeconds":6}}`, true},
		{"every field, statefulset", [2]string{"apps", "StatefulSet"}, `{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"s"},"spec":{"replicas":3,"selector":{"matchLabels":{"a":"b"}},
"template":{"spec":` + everyFieldPodSpec + `},"serviceName":"svc","podManagementPolicy":"Parallel","revisionHistoryLimit":2,"minReadySeconds":1}}`, true},
		{"every field, daemonset", [2]string{"apps", "DaemonSet"}, `{"metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"spec":` + everyFieldPodSpec + `},"minReadySeconds":1,"revisionHistoryLimit":2,"replicas":1}}`, true},
		{"every field, replicaset", [2]string{"apps", "ReplicaSet"}, `{"metadata":{"name":"r"},"spec":{"replicas":2,"selector":{"matchLabels":{"a":"b"}},"template":{"spec":` + everyFieldPodSpec + `},"minReadySeconds":1}}`, true},
		{"every field, job", [2]string{"batch", "Job"}, `{"metadata":{"name":"j"},"spec":{"parallelism":2,"template":{"spec":` + everyFieldPodSpec + `}}}`, true},
		{"replication controller left to unmarshalTyped", [2]string{"", "ReplicationController"}, `{"metadata":{"name":"r"}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := newTyped(tc.kind[0], tc.kind[1])
			wantErr := kjson.UnmarshalCaseSensitivePreserveInts([]byte(tc.json), want)
			if got := checkDirect(t, tc.name, tc.kind, []byte(tc.json), want, wantErr); got != tc.direct {
				t.Fatalf("direct decoder took the input: %v, want %v", got, tc.direct)
			}
		})
	}
}

func manyLabels(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":"v%d"`, i, i)
	}
	return b.String()
}

// everyFieldPodSpec sets every pod spec field the direct decoder handles,
// each to a value other than its zero, so a field decoded into the wrong
// place shows as a difference.
const everyFieldPodSpec = `{"volumes":[{"name":"a","emptyDir":{"medium":"Memory","sizeLimit":"1Gi"}},{"name":"b","hostPath":{"path":"/x","type":"Directory"}},
{"name":"c","configMap":{"name":"cm","items":[{"key":"k","path":"p","mode":420}],"defaultMode":256,"optional":true}},
{"name":"d","secret":{"secretName":"s","items":[{"key":"k2","path":"p2"}],"defaultMode":384,"optional":false}},{"name":"e","persistentVolumeClaim":{"claimName":"pvc","readOnly":true}}],
"initContainers":[{"name":"i","image":"busybox","command":["sh"],"args":["-c","true"],"workingDir":"/w","restartPolicy":"Always"}],
"containers":[{"name":"c","image":"nginx","ports":[{"name":"http","hostPort":80,"containerPort":8080,"protocol":"TCP","hostIP":"1.2.3.4"}],
"envFrom":[{"prefix":"P_","configMapRef":{"name":"cm","optional":true}},{"secretRef":{"name":"s","optional":false}}],
"env":[{"name":"A","value":"1"},{"name":"B","valueFrom":{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.name"}}},{"name":"C","valueFrom":{"secretKeyRef":{"name":"s","key":"k","optional":true}}},{"name":"D","valueFrom":{"configMapKeyRef":{"name":"c","key":"k2","optional":false}}}],
"resources":{"limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"100m"}},
"volumeMounts":[{"name":"a","readOnly":true,"mountPath":"/a","subPath":"s","mountPropagation":"HostToContainer"},{"name":"b","mountPath":"/b","subPathExpr":"$(X)"}],
"livenessProbe":{"exec":{"command":["true"]},"initialDelaySeconds":1,"timeoutSeconds":2,"periodSeconds":3,"successThreshold":4,"failureThreshold":5,"terminationGracePeriodSeconds":6},
"readinessProbe":{"httpGet":{"path":"/h","port":"http","host":"h","scheme":"HTTPS"}},
"startupProbe":{"tcpSocket":{"port":80,"host":"t"},"grpc":{"port":9,"service":"svc"}},
"terminationMessagePath":"/t","terminationMessagePolicy":"FallbackToLogsOnError","imagePullPolicy":"Always",
"securityContext":{"capabilities":{"add":["NET_ADMIN"],"drop":["ALL"]},"privileged":true,"seLinuxOptions":{"user":"u","role":"r","type":"t","level":"l"},
"runAsUser":1000,"runAsGroup":2000,"runAsNonRoot":true,"readOnlyRootFilesystem":true,"allowPrivilegeEscalation":false,"procMount":"Unmasked",
"seccompProfile":{"type":"Localhost","localhostProfile":"p.json"},"appArmorProfile":{"type":"Localhost","localhostProfile":"a"}},
"stdin":true,"stdinOnce":true,"tty":true}],
"restartPolicy":"OnFailure","terminationGracePeriodSeconds":30,"activeDeadlineSeconds":60,"dnsPolicy":"None","nodeSelector":{"disk":"ssd"},
"serviceAccountName":"sa","serviceAccount":"sa2","automountServiceAccountToken":false,"nodeName":"n1","hostNetwork":true,"hostPID":true,"hostIPC":true,
"shareProcessNamespace":true,"securityContext":{"seLinuxOptions":{"type":"spc_t"},"runAsUser":1,"runAsGroup":2,"runAsNonRoot":false,"supplementalGroups":[3,4],
"fsGroup":5,"sysctls":[{"name":"net.ipv4.ip_forward","value":"1"}],"fsGroupChangePolicy":"OnRootMismatch","seccompProfile":{"type":"RuntimeDefault"},"appArmorProfile":{"type":"Unconfined"}},
"imagePullSecrets":[{"name":"reg"}],"hostname":"h","subdomain":"s","schedulerName":"sch","tolerations":[{"key":"k","operator":"Equal","value":"v","effect":"NoExecute","tolerationSeconds":7}],
"priorityClassName":"high","priority":1000,"runtimeClassName":"gvisor","enableServiceLinks":false,"preemptionPolicy":"Never","setHostnameAsFQDN":true,"hostUsers":false}`

const everyFieldMeta = `{"name":"n","generateName":"g-","namespace":"ns","uid":"u-1","resourceVersion":"7","generation":3,"creationTimestamp":"2024-01-02T03:04:05Z",
"labels":{"a":"b"},"annotations":{"c":"d"},"finalizers":["f"],"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"r","uid":"u-2","controller":true,"blockOwnerDeletion":false}]}`

const everyFieldPod = `{"apiVersion":"v1","kind":"Pod","metadata":` + everyFieldMeta + `,"spec":` + everyFieldPodSpec + `}`

const everyFieldCronJob = `{"apiVersion":"batch/v1","kind":"CronJob","metadata":` + everyFieldMeta + `,"spec":{"schedule":"* * * * *","timeZone":"UTC","startingDeadlineSeconds":9,
"concurrencyPolicy":"Forbid","suspend":true,"successfulJobsHistoryLimit":1,"failedJobsHistoryLimit":2,"jobTemplate":{"metadata":{"labels":{"j":"t"}},"spec":{
"parallelism":1,"completions":2,"activeDeadlineSeconds":3,"backoffLimit":4,"selector":{"matchLabels":{"a":"b"},"matchExpressions":[{"key":"k","operator":"In","values":["v"]}]},
"manualSelector":true,"ttlSecondsAfterFinished":5,"completionMode":"Indexed","suspend":false,"template":{"metadata":{"name":"t"},"spec":` + everyFieldPodSpec + `}}}}}`

// FuzzFastDecodeMatchesAPIServer: for any input and kind, unmarshalTyped
// decides exactly as the API server's decoder does.
func FuzzFastDecodeMatchesAPIServer(f *testing.F) {
	for i, s := range []string{
		`{"metadata":{"name":"d","labels":{"a":"b"}},"spec":{"replicas":2,"selector":{"matchLabels":{"a":"b"}},"template":{"spec":{"containers":[{"name":"c","image":"x","securityContext":{"privileged":true,"capabilities":{"add":["NET_RAW"]}}}]}}}}`,
		`{"Metadata":{"NAME":"d"},"spec":{"Replicas":2,"replicas":3}}`,
		`{"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":"500m"}}}],"volumes":[{"hostPath":{"path":"/"}}]}}`,
		`{"spec":{"ports":[{"port":80,"targetPort":"http"}],"externalIPs":["1.2.3.4"]}}`,
		`{"rules":[{"verbs":["*"]}],"aggregationRule":{"clusterRoleSelectors":[{}]}}`,
		`{"spec":{"replicas":"x"}}`,
		`{"metadata":{"labels":{"a":"b"},"creationTimestamp":null},"status":{},"spec":{"template":{"spec":{"containers":[{"name":"c","env":[{"name":"A","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}}],"livenessProbe":{"httpGet":{"port":"http"}},"resources":{"requests":{"cpu":"1"}}}],"volumes":[{"name":"v","emptyDir":{"sizeLimit":"1Gi"}}]}}}}`,
		`{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"securityContext":{"runAsUser":0,"sysctls":[{"name":"a","value":"b"}]},"containers":[{"securityContext":{"capabilities":{"add":["SYS_ADMIN"]}}}]}}}}}}`,
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
