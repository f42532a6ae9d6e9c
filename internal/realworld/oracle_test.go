package realworld

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// The oracle is the independent reading of a file: apimachinery's
// YAML-or-JSON decoder (what kubectl uses), with lists expanded the way the
// API server and kubectl read them. It shares no code with
// internal/manifest, so a document the loader drops or invents shows up as
// a difference.

// objectID names an object the way both sides can report it.
type objectID struct {
	APIVersion, Kind, Namespace, Name string
}

func (id objectID) String() string {
	ns := id.Namespace
	if ns != "" {
		ns += "/"
	}
	return fmt.Sprintf("%s %s %s%s", id.APIVersion, id.Kind, ns, id.Name)
}

// oracleObject is one object of a file, with apiVersion and kind filled
// in from its list when it came from a typed list.
type oracleObject struct {
	ID      objectID
	Content map[string]any
	// List is the kind of the list it came from, if any.
	List string
}

// oracleFile is what the oracle read in one file.
type oracleFile struct {
	Path    string
	Objects []oracleObject
	// Unreadable are documents a user meant as manifests that cannot be
	// used (parse errors, missing kind or apiVersion): each must be an
	// ERROR problem.
	Unreadable []string
	// NotManifests counts documents that are clearly no manifest (a
	// scalar, a values-like map): notes at most.
	NotManifests int
}

// maxDocuments bounds the oracle on a hostile file.
const maxDocuments = 100000

func decodeFile(path string) (oracleFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return oracleFile{}, err
	}
	return decodeBytes(path, data), nil
}

func decodeBytes(path string, data []byte) oracleFile {
	f := oracleFile{Path: path}
	data = fromBOM(data)
	if !utf8.Valid(data) {
		// Manifests are UTF-8; encoding/json would quietly replace the
		// bad bytes, a reader must refuse them.
		f.Unreadable = append(f.Unreadable, "not valid UTF-8")
		return f
	}
	if looksJSON(data) {
		// A JSON stream (one or more values), as kubectl reads it. It
		// cannot resynchronise after an error.
		dec := json.NewDecoder(bytes.NewReader(data))
		for range maxDocuments {
			var raw json.RawMessage
			err := dec.Decode(&raw)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				f.Unreadable = append(f.Unreadable, "JSON parse error: "+err.Error())
				break
			}
			// Strict field validation rejects duplicate keys in JSON too.
			if k, dup := duplicateKey(raw); dup {
				f.Unreadable = append(f.Unreadable, fmt.Sprintf("JSON duplicate key %q", k))
				continue
			}
			f.addJSON(raw)
		}
		return f
	}
	// YAML documents, converted strictly: kubectl's default
	// (strict) field validation rejects duplicate keys, so a file with
	// them is not understood as written.
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for range maxDocuments {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			f.Unreadable = append(f.Unreadable, "YAML read error: "+err.Error())
			break
		}
		j, err := yaml.YAMLToJSONStrict(raw)
		if err != nil {
			f.Unreadable = append(f.Unreadable, "YAML parse error: "+err.Error())
			continue
		}
		f.addJSON(j)
	}
	return f
}

// addJSON adds one document already converted to JSON.
func (f *oracleFile) addJSON(j []byte) {
	var doc any
	if err := json.Unmarshal(j, &doc); err != nil {
		f.Unreadable = append(f.Unreadable, "parse error: "+err.Error())
		return
	}
	f.addDocument(doc)
}

// duplicateKey finds a key written twice in one JSON object of a value.
func duplicateKey(raw []byte) (string, bool) {
	// keys is nil for an array; expectKey says the next token of an
	// object is a key (or its end).
	type frame struct {
		keys      map[string]bool
		expectKey bool
	}
	var stack []*frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].expectKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		if n := len(stack); n > 0 && stack[n-1].keys != nil && stack[n-1].expectKey {
			if tok == json.Delim('}') {
				stack = stack[:n-1]
				valueDone()
				continue
			}
			k, _ := tok.(string)
			if stack[n-1].keys[k] {
				return k, true
			}
			stack[n-1].keys[k], stack[n-1].expectKey = true, false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, expectKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim(']'), json.Delim('}'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

// fromBOM decodes text with a byte order mark to UTF-8, as kubectl reads
// files (Windows tools write UTF-16 with a BOM).
func fromBOM(data []byte) []byte {
	var order binary.ByteOrder
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		return data[3:]
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		order = binary.BigEndian
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		order = binary.LittleEndian
	default:
		return data
	}
	units := make([]uint16, 0, len(data)/2)
	for i := 2; i+1 < len(data); i += 2 {
		units = append(units, order.Uint16(data[i:]))
	}
	return []byte(string(utf16.Decode(units)))
}

func looksJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

func (f *oracleFile) addDocument(doc any) {
	switch d := doc.(type) {
	case nil:
		// An empty document (a leading or trailing ---).
	case map[string]any:
		f.addMap(d, "", "")
	case []any:
		// A JSON (or YAML) array of objects, as `kubectl get -o json`
		// users sometimes save them; an array of anything else is no
		// manifest.
		if !allMaps(d) {
			f.NotManifests++
			return
		}
		for _, item := range d {
			f.addMap(item.(map[string]any), "", "")
		}
	default:
		f.NotManifests++
	}
}

func allMaps(items []any) bool {
	if len(items) == 0 {
		return false
	}
	for _, it := range items {
		if _, ok := it.(map[string]any); !ok {
			return false
		}
	}
	return true
}

// addMap adds one object, expanding lists. listKind and listAPIVersion are
// set for the items of a list.
func (f *oracleFile) addMap(m map[string]any, listKind, listAPIVersion string) {
	apiVersion, _ := m["apiVersion"].(string)
	kind, _ := m["kind"].(string)
	if listKind != "" {
		// Items of a typed list carry neither apiVersion nor kind: the
		// API server leaves them out and the list's own say what they
		// are. Items of a `kind: List` must name their own.
		if kind == "" && listKind != "List" {
			kind = strings.TrimSuffix(listKind, "List")
		}
		if apiVersion == "" && listKind != "List" {
			apiVersion = listAPIVersion
		}
	}
	// A list is a *List kind with an items key, as apimachinery's
	// unstructured decoder tells them; without the key it is an object
	// whose kind happens to end in List.
	if rawItems, isList := m["items"]; isList && strings.HasSuffix(kind, "List") && apiVersion != "" {
		if rawItems == nil {
			return // items: null, an empty list, holds nothing
		}
		items, ok := m["items"].([]any)
		if !ok {
			f.Unreadable = append(f.Unreadable, kind+" whose items are not a list")
			return
		}
		for i, it := range items {
			im, ok := it.(map[string]any)
			if !ok {
				f.Unreadable = append(f.Unreadable, fmt.Sprintf("%s item %d is not an object", kind, i))
				continue
			}
			f.addMap(im, kind, apiVersion)
		}
		return
	}
	if kind == "" || apiVersion == "" {
		if looksLikeManifest(m) || listKind != "" {
			f.Unreadable = append(f.Unreadable, fmt.Sprintf("object without %s", missing(apiVersion, kind)))
		} else {
			f.NotManifests++
		}
		return
	}
	md, _ := m["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	if name == "" {
		name, _ = md["generateName"].(string)
	}
	ns, _ := md["namespace"].(string)
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	out["apiVersion"], out["kind"] = apiVersion, kind
	f.Objects = append(f.Objects, oracleObject{
		ID:      objectID{APIVersion: apiVersion, Kind: kind, Namespace: ns, Name: name},
		Content: out,
		List:    listKind,
	})
}

// looksLikeManifest tells a Kubernetes object that lost its TypeMeta from
// a file that is no manifest at all (a values file, a config file).
func looksLikeManifest(m map[string]any) bool {
	for _, k := range []string{"apiVersion", "kind", "metadata"} {
		if _, ok := m[k]; ok {
			return true
		}
	}
	return false
}

func missing(apiVersion, kind string) string {
	switch {
	case apiVersion == "" && kind == "":
		return "apiVersion and kind"
	case apiVersion == "":
		return "apiVersion"
	}
	return "kind"
}

// versionClass is how a Kubernetes API server of today treats an
// object's apiVersion and kind.
type versionClass int

const (
	// served: a built-in kind under a group-version a current API
	// server serves (or can serve with a feature gate).
	served versionClass = iota
	// removed: a built-in kind under a group-version Kubernetes has
	// removed; Palisade must evaluate it as the kind and report the
	// version (hardening/deprecated-api-version).
	removed
	// wrongGroup: a built-in kind written under a group-version that
	// never had it (`apiVersion: v1` on a Deployment) while the kind
	// names one built-in kind unambiguously; treated like removed.
	wrongGroup
	// unknownVersion: a built-in group under a version (or with a
	// kind) that does not exist and cannot be told: an ERROR problem.
	unknownVersion
	// custom: a group Kubernetes does not define (a custom resource).
	custom
)

func (c versionClass) String() string {
	return [...]string{"served", "removed", "wrong-group", "unknown-version", "custom"}[c]
}

// removedVersions are the group-versions (or group-version/kind) the
// Kubernetes deprecated API migration guide lists as removed, by release.
// Written from that guide, not from Palisade.
var removedVersions = map[string]bool{
	"extensions/v1beta1":                     true, // 1.16 workloads, 1.22 Ingress
	"apps/v1beta1":                           true, // 1.16
	"apps/v1beta2":                           true, // 1.16
	"batch/v1beta1":                          true, // 1.25 CronJob
	"batch/v2alpha1":                         true,
	"networking.k8s.io/v1beta1/Ingress":      true, // 1.22
	"networking.k8s.io/v1beta1/IngressClass": true, // 1.22
	"rbac.authorization.k8s.io/v1beta1":      true, // 1.22
	"rbac.authorization.k8s.io/v1alpha1":     true, // 1.22
	"policy/v1beta1/PodDisruptionBudget":     true, // 1.25
	"policy/v1beta1/PodSecurityPolicy":       true, // 1.25
	"autoscaling/v2beta1":                    true, // 1.25
	"autoscaling/v2beta2":                    true, // 1.26
	"admissionregistration.k8s.io/v1beta1/MutatingWebhookConfiguration":   true, // 1.22
	"admissionregistration.k8s.io/v1beta1/ValidatingWebhookConfiguration": true, // 1.22
	"apiextensions.k8s.io/v1beta1":                                        true, // 1.22
	"apiregistration.k8s.io/v1beta1":                                      true, // 1.22
	"certificates.k8s.io/v1beta1/CertificateSigningRequest":               true, // 1.22
	"coordination.k8s.io/v1beta1/Lease":                                   true, // 1.22
	"scheduling.k8s.io/v1beta1/PriorityClass":                             true, // 1.22
	"scheduling.k8s.io/v1alpha1/PriorityClass":                            true, // 1.22
	"storage.k8s.io/v1beta1/CSIDriver":                                    true, // 1.22
	"storage.k8s.io/v1beta1/CSINode":                                      true, // 1.22
	"storage.k8s.io/v1beta1/StorageClass":                                 true, // 1.22
	"storage.k8s.io/v1beta1/VolumeAttachment":                             true, // 1.22
	"storage.k8s.io/v1beta1/CSIStorageCapacity":                           true, // 1.27
	"discovery.k8s.io/v1beta1":                                            true, // 1.25
	"events.k8s.io/v1beta1":                                               true, // 1.25
	"flowcontrol.apiserver.k8s.io/v1beta1":                                true, // 1.26
	"flowcontrol.apiserver.k8s.io/v1beta2":                                true, // 1.29
	"flowcontrol.apiserver.k8s.io/v1beta3":                                true, // 1.32
	"node.k8s.io/v1beta1":                                                 true, // 1.25
}

// metaKinds are registered in every group-version of the scheme and say
// nothing about which group a kind belongs to.
var metaKinds = map[string]bool{
	"WatchEvent": true, "DeleteOptions": true, "ListOptions": true, "GetOptions": true,
	"CreateOptions": true, "UpdateOptions": true, "PatchOptions": true, "Status": true,
	"List": true, "APIVersions": true, "APIGroup": true, "APIGroupList": true,
	"APIResourceList": true, "ExportOptions": true, "InternalEvent": true,
}

// builtinKinds maps a kind to the groups whose current scheme defines it,
// and knownGroups is every built-in group.
var builtinKinds, knownGroups = func() (map[string]map[string]bool, map[string]bool) {
	kinds, groups := map[string]map[string]bool{}, map[string]bool{}
	for gvk := range scheme.Scheme.AllKnownTypes() {
		if gvk.Version == "__internal" || metaKinds[gvk.Kind] {
			continue
		}
		groups[gvk.Group] = true
		if removedVersions[gvk.GroupVersion().String()] || removedVersions[gvk.GroupVersion().String()+"/"+gvk.Kind] {
			continue
		}
		if kinds[gvk.Kind] == nil {
			kinds[gvk.Kind] = map[string]bool{}
		}
		kinds[gvk.Kind][gvk.Group] = true
	}
	return kinds, groups
}()

func classify(apiVersion, kind string) versionClass {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return unknownVersion
	}
	if removedVersions[gv.String()] || removedVersions[gv.String()+"/"+kind] {
		return removed
	}
	if scheme.Scheme.Recognizes(gv.WithKind(kind)) {
		return served
	}
	if !knownGroups[gv.Group] {
		if len(builtinKinds[kind]) == 1 && gv.Group == "" {
			return wrongGroup
		}
		return custom
	}
	if len(builtinKinds[kind]) == 1 {
		return wrongGroup
	}
	return unknownVersion
}

// isResource tells a stored object (one with a list kind: Pod, Ingress)
// from request-only kinds (Scale, TokenReview, PodExecOptions) that the
// API's example objects also contain.
func isResource(apiVersion, kind string) bool {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return false
	}
	if listedKinds[gv.Group+"/"+kind] {
		return true
	}
	for g := range builtinKinds[kind] {
		if listedKinds[g+"/"+kind] {
			return true
		}
	}
	return false
}

// listedKinds is every "group/Kind" whose group also defines Kind+"List".
var listedKinds = func() map[string]bool {
	all := scheme.Scheme.AllKnownTypes()
	out := map[string]bool{}
	for gvk := range all {
		if _, ok := all[gvk.GroupVersion().WithKind(gvk.Kind+"List")]; ok {
			out[gvk.Group+"/"+gvk.Kind] = true
		}
	}
	return out
}()

// workloadKinds are the kinds that run pods, by the path of their pod
// template (empty for a Pod itself). PodTemplate is left out: it never
// runs by itself.
var workloadKinds = map[string][]string{
	"Pod":                   nil,
	"ReplicationController": {"spec", "template"},
	"Deployment":            {"spec", "template"},
	"ReplicaSet":            {"spec", "template"},
	"DaemonSet":             {"spec", "template"},
	"StatefulSet":           {"spec", "template"},
	"Job":                   {"spec", "template"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template"},
}

// isWorkload tells whether Palisade must evaluate the object's pods: a
// workload kind under any version a user could mean it (served, removed,
// or a wrong group that still names it unambiguously).
func isWorkload(id objectID) bool {
	if _, ok := workloadKinds[id.Kind]; !ok {
		return false
	}
	switch classify(id.APIVersion, id.Kind) {
	case served, removed, wrongGroup:
		return true
	}
	return false
}
