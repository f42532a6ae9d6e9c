package realworld

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
)

// twinExpectations is testdata/realworld/expectations.yaml: what each
// mutation must make Palisade report, kept apart from the code so
// reviewers read the expectations on their own.
type twinExpectations struct {
	Mutations []struct {
		ID          string   `json:"id"`
		Change      string   `json:"change"`
		Fire        []string `json:"fire"`
		Baseline    []string `json:"baseline"`
		Restricted  []string `json:"restricted"`
		Privileged  []string `json:"privileged"`
		NotFire     []string `json:"notFire"`
		MinSeverity string   `json:"minSeverity"`
	} `json:"mutations"`
	Representations map[string]string `json:"representations"`
	OldVersionRule  string            `json:"oldVersionRule"`
}

func loadTwinExpectations(t *testing.T) twinExpectations {
	t.Helper()
	var e twinExpectations
	readStrictYAML(t, filepath.Join(realworldDir, expectationsFile), &e)
	return e
}

// currentVersion is the served apiVersion of each workload kind.
var currentVersion = map[string]string{
	"Pod": "v1", "ReplicationController": "v1",
	"Deployment": "apps/v1", "ReplicaSet": "apps/v1", "DaemonSet": "apps/v1", "StatefulSet": "apps/v1",
	"Job": "batch/v1", "CronJob": "batch/v1",
}

// oldVersion is a removed apiVersion each kind was once served under.
var oldVersion = map[string]string{
	"Deployment": "extensions/v1beta1", "DaemonSet": "extensions/v1beta1", "ReplicaSet": "extensions/v1beta1",
	"StatefulSet": "apps/v1beta2", "CronJob": "batch/v1beta1",
}

// twinNamespace keeps the twins out of "default" (a finding of its own).
const twinNamespace = "twins"

// restrictedVolumeTypes are the volume sources the restricted profile
// allows; harden drops every other volume.
var restrictedVolumeTypes = []string{"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}

// mutations implement the ids of expectations.yaml on a hardened pod
// template (metadata and spec) of object obj.
var mutations = map[string]func(obj, spec map[string]any){
	"privileged":          forContainers(func(c map[string]any) { secCtx(c)["privileged"] = true }),
	"host-network":        func(_, s map[string]any) { s["hostNetwork"] = true },
	"host-pid":            func(_, s map[string]any) { s["hostPID"] = true },
	"host-ipc":            func(_, s map[string]any) { s["hostIPC"] = true },
	"host-path":           mountHostPath("/var/lib/twin"),
	"sensitive-host-path": mountHostPath("/etc"),
	"docker-sock":         mountHostPath("/var/run/docker.sock"),
	"host-port": func(_, s map[string]any) {
		c := containers(s)[0]
		ports, _ := c["ports"].([]any)
		c["ports"] = append(ports, map[string]any{"containerPort": int64(18080), "hostPort": int64(8080)})
	},
	"cap-sys-admin":          addCapability("SYS_ADMIN"),
	"cap-net-raw":            addCapability("NET_RAW"),
	"cap-all":                addCapability("ALL"),
	"cap-prefixed-lowercase": addCapability("cap_sys_ptrace"),
	"no-drop-all": forContainers(func(c map[string]any) {
		delete(secCtx(c)["capabilities"].(map[string]any), "drop")
	}),
	"run-as-user-0": forContainers(func(c map[string]any) { secCtx(c)["runAsUser"] = int64(0) }),
	"run-as-non-root-false": func(o, s map[string]any) {
		delete(s["securityContext"].(map[string]any), "runAsUser")
		delete(s["securityContext"].(map[string]any), "runAsNonRoot")
		forContainers(func(c map[string]any) { secCtx(c)["runAsNonRoot"] = false })(o, s)
	},
	"allow-privilege-escalation": forContainers(func(c map[string]any) { secCtx(c)["allowPrivilegeEscalation"] = true }),
	"seccomp-unconfined": func(_, s map[string]any) {
		s["securityContext"].(map[string]any)["seccompProfile"] = map[string]any{"type": "Unconfined"}
	},
	"no-resources": forContainers(func(c map[string]any) { delete(c, "resources") }),
	"no-cpu-limit": forContainers(func(c map[string]any) {
		delete(c["resources"].(map[string]any)["limits"].(map[string]any), "cpu")
	}),
	"cpu-request-below-limit":    forContainers(func(c map[string]any) { requests(c)["cpu"] = "100m" }),
	"memory-request-below-limit": forContainers(func(c map[string]any) { requests(c)["memory"] = "64Mi" }),
	"ephemeral-storage-request-below-limit": forContainers(func(c map[string]any) {
		requests(c)["ephemeral-storage"] = "256Mi"
	}),
	"dns-ndots-default": func(_, s map[string]any) { delete(s, "dnsConfig") },
	"no-node-affinity":  func(_, s map[string]any) { delete(s, "affinity") },
	"latest-tag":        forContainers(func(c map[string]any) { c["image"] = imageName(c["image"]) + ":latest" }),
	"no-tag":            forContainers(func(c map[string]any) { c["image"] = imageName(c["image"]) }),
	"writable-root-fs":  forContainers(func(c map[string]any) { secCtx(c)["readOnlyRootFilesystem"] = false }),
	"automount-token-default": func(_, s map[string]any) {
		delete(s, "automountServiceAccountToken")
	},
	"default-service-account": func(_, s map[string]any) { delete(s, "serviceAccountName") },
	"secret-in-env": func(_, s map[string]any) {
		c := containers(s)[0]
		env, _ := c["env"].([]any)
		c["env"] = append(env, map[string]any{"name": "DB_PASSWORD", "value": "Tr0ub4dor-and-3-horse"})
	},
	"default-namespace": func(o, _ map[string]any) { o["metadata"].(map[string]any)["namespace"] = "default" },
}

func forContainers(fn func(c map[string]any)) func(obj, spec map[string]any) {
	return func(_, spec map[string]any) {
		for _, c := range containers(spec) {
			fn(c)
		}
	}
}

func addCapability(name string) func(obj, spec map[string]any) {
	return forContainers(func(c map[string]any) {
		secCtx(c)["capabilities"].(map[string]any)["add"] = []any{name}
	})
}

func mountHostPath(path string) func(obj, spec map[string]any) {
	return func(_, s map[string]any) {
		vols, _ := s["volumes"].([]any)
		s["volumes"] = append(vols, map[string]any{"name": "twin-host", "hostPath": map[string]any{"path": path}})
		c := containers(s)[0]
		mounts, _ := c["volumeMounts"].([]any)
		c["volumeMounts"] = append(mounts, map[string]any{"name": "twin-host", "mountPath": "/host" + path})
	}
}

// containers are the init and regular containers of a pod spec.
func containers(spec map[string]any) []map[string]any {
	var out []map[string]any
	for _, k := range []string{"initContainers", "containers"} {
		list, _ := spec[k].([]any)
		for _, c := range list {
			if cm, ok := c.(map[string]any); ok {
				out = append(out, cm)
			}
		}
	}
	return out
}

func secCtx(c map[string]any) map[string]any {
	sc, ok := c["securityContext"].(map[string]any)
	if !ok {
		sc = map[string]any{}
		c["securityContext"] = sc
	}
	return sc
}

// imageName strips the tag and digest of an image reference (a port in
// the registry host is not a tag).
func imageName(v any) string {
	s, _ := v.(string)
	if i := strings.Index(s, "@"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		s = s[:i]
	}
	if s == "" {
		s = "registry.example/app"
	}
	return s
}

// kindListItems is how many objects one `kind: List` of the twins holds.
const kindListItems = 300

const pinnedDigest = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// requests is a container's resources.requests (harden sets it).
func requests(c map[string]any) map[string]any {
	return c["resources"].(map[string]any)["requests"].(map[string]any)
}

// harden rewrites a pod template (metadata and spec) so that it passes
// the restricted profile and every hardening rule the mutations test:
// the fixed twin.
func harden(meta, spec map[string]any) {
	for k := range meta {
		if k != "labels" {
			delete(meta, k)
		}
	}
	for _, k := range []string{"hostNetwork", "hostPID", "hostIPC", "hostUsers", "ephemeralContainers", "serviceAccount", "os"} {
		delete(spec, k)
	}
	spec["securityContext"] = map[string]any{
		"runAsNonRoot": true, "runAsUser": int64(10001),
		"seccompProfile": map[string]any{"type": "RuntimeDefault"},
	}
	spec["automountServiceAccountToken"] = false
	spec["serviceAccountName"] = "app"
	// kube-linter's opt-in placement and resolver checks pass.
	spec["dnsConfig"] = map[string]any{"options": []any{map[string]any{"name": "ndots", "value": "2"}}}
	spec["affinity"] = map[string]any{"nodeAffinity": map[string]any{
		"preferredDuringSchedulingIgnoredDuringExecution": []any{map[string]any{"weight": int64(1),
			"preference": map[string]any{"matchExpressions": []any{map[string]any{"key": "kubernetes.io/os", "operator": "In", "values": []any{"linux"}}}}}}}}
	kept := map[string]bool{}
	var vols []any
	list, _ := spec["volumes"].([]any)
	for _, v := range list {
		vm, _ := v.(map[string]any)
		for _, typ := range restrictedVolumeTypes {
			if _, ok := vm[typ]; ok {
				vols = append(vols, vm)
				kept[fmt.Sprint(vm["name"])] = true
				break
			}
		}
	}
	spec["volumes"] = vols
	for _, c := range containers(spec) {
		c["securityContext"] = map[string]any{
			"allowPrivilegeEscalation": false, "privileged": false, "runAsNonRoot": true,
			"readOnlyRootFilesystem": true,
			"capabilities":           map[string]any{"drop": []any{"ALL"}},
			"seccompProfile":         map[string]any{"type": "RuntimeDefault"},
		}
		// Requests equal to limits, so that the mutations lowering one
		// request stand out (the reliability rules of kube-score's
		// requests-equal-limits checks).
		c["resources"] = map[string]any{
			"requests": map[string]any{"cpu": "500m", "memory": "128Mi", "ephemeral-storage": "1Gi"},
			"limits":   map[string]any{"cpu": "500m", "memory": "128Mi", "ephemeral-storage": "1Gi"},
		}
		c["image"] = imageName(c["image"]) + ":1.0" + pinnedDigest
		for _, k := range []string{"livenessProbe", "readinessProbe", "startupProbe", "lifecycle", "volumeDevices"} {
			delete(c, k)
		}
		var mounts []any
		ms, _ := c["volumeMounts"].([]any)
		for _, m := range ms {
			if mm, _ := m.(map[string]any); kept[fmt.Sprint(mm["name"])] {
				mounts = append(mounts, mm)
			}
		}
		c["volumeMounts"] = mounts
		var ports []any
		ps, _ := c["ports"].([]any)
		for _, p := range ps {
			if pm, ok := p.(map[string]any); ok {
				delete(pm, "hostPort")
				delete(pm, "hostIP")
				ports = append(ports, pm)
			}
		}
		c["ports"] = ports
		var env []any
		es, _ := c["env"].([]any)
		for _, e := range es {
			if em, ok := e.(map[string]any); ok && em["value"] == nil {
				env = append(env, em)
			}
		}
		c["env"] = env
	}
}

// twinSources are the workloads of the committed corpora, except
// Windows pods (restricted differs) and templates without containers,
// one per distinct hardened object.
func twinSources(t *testing.T) []committedWorkload {
	t.Helper()
	var out []committedWorkload
	seen := map[string]bool{}
	for _, w := range committedWorkloads(t) {
		if _, spec, err := podTemplate(w.Obj); err != nil || len(spec.Containers) == 0 || spec.OS != nil && spec.OS.Name == "windows" {
			continue
		}
		// Twins of sources that harden to the same object (the kubectl
		// corpus has many copies of one nginx) would test the same
		// thing again.
		key, _ := json.Marshal(twin(w.Obj, "", nil))
		if !seen[string(key)] {
			seen[string(key)] = true
			out = append(out, w)
		}
	}
	return out
}

// twin builds the hardened copy of a source workload, named name, with an
// optional mutation applied.
func twin(src oracleObject, name string, mutate func(obj, spec map[string]any)) map[string]any {
	var obj map[string]any
	raw, _ := json.Marshal(src.Content)
	_ = json.Unmarshal(raw, &obj)
	md, _ := obj["metadata"].(map[string]any)
	labels := md["labels"]
	obj["metadata"] = map[string]any{"name": name, "namespace": twinNamespace}
	if labels != nil {
		obj["metadata"].(map[string]any)["labels"] = labels
	}
	delete(obj, "status")
	obj["apiVersion"] = currentVersion[src.ID.Kind]
	tmpl := obj
	for _, k := range workloadKinds[src.ID.Kind] {
		tmpl = tmpl[k].(map[string]any)
	}
	meta, _ := tmpl["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		if src.ID.Kind != "Pod" {
			tmpl["metadata"] = meta
		}
	}
	spec := tmpl["spec"].(map[string]any)
	if src.ID.Kind != "Pod" {
		harden(meta, spec)
	} else {
		harden(map[string]any{}, spec)
	}
	if mutate != nil {
		mutate(obj, spec)
	}
	return obj
}

// writeRepresentation writes objects in one representation into dir and
// returns the files. ok is false when no object has that representation.
func writeRepresentation(t *testing.T, dir, rep string, objs []map[string]any) []string {
	t.Helper()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	toYAML := func(v any) []byte {
		b, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	toJSON := func(v any) []byte {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	multiDoc := func(objs []map[string]any) []byte {
		var b strings.Builder
		for _, o := range objs {
			b.WriteString("---\n")
			b.Write(toYAML(o))
		}
		return []byte(b.String())
	}
	// typedLists groups objects into lists whose items lack TypeMeta, as
	// the API server returns them.
	typedLists := func() []map[string]any {
		byKind := map[string][]any{}
		version := map[string]string{}
		for _, o := range objs {
			k := o["kind"].(string)
			item := map[string]any{}
			for key, v := range o {
				if key != "apiVersion" && key != "kind" {
					item[key] = v
				}
			}
			byKind[k] = append(byKind[k], item)
			version[k] = o["apiVersion"].(string)
		}
		var lists []map[string]any
		for _, k := range sortedKeys(byKind) {
			lists = append(lists, map[string]any{
				"apiVersion": version[k], "kind": k + "List",
				"metadata": map[string]any{"resourceVersion": "4242"}, "items": byKind[k],
			})
		}
		return lists
	}
	withVersion := func(versions map[string]string) []map[string]any {
		var out []map[string]any
		for _, o := range objs {
			if v, ok := versions[o["kind"].(string)]; ok {
				c := map[string]any{}
				for k, val := range o {
					c[k] = val
				}
				c["apiVersion"] = v
				out = append(out, c)
			}
		}
		return out
	}
	switch rep {
	case "plain":
		return []string{write("twins.yaml", multiDoc(objs))}
	case "typed-list-yaml":
		return []string{write("twins.yaml", multiDoc(typedLists()))}
	case "typed-list-json":
		var files []string
		for _, l := range typedLists() {
			files = append(files, write(strings.ToLower(l["kind"].(string))+".json", toJSON(l)))
		}
		return files
	case "kind-list":
		// Several lists, each well under the loader's 4 MiB document
		// bound: this checks reading lists, not that bound.
		var files []string
		for start := 0; start < len(objs); start += kindListItems {
			var items []any
			for _, o := range objs[start:min(start+kindListItems, len(objs))] {
				items = append(items, o)
			}
			files = append(files, write(fmt.Sprintf("list-%04d.yaml", start), toYAML(map[string]any{
				"apiVersion": "v1", "kind": "List", "metadata": map[string]any{"resourceVersion": ""}, "items": items})))
		}
		return files
	case "json-array":
		return []string{write("twins.json", toJSON(objs))}
	case "old-api-version":
		return []string{write("old.yaml", multiDoc(withVersion(oldVersion)))}
	case "wrong-api-version":
		return []string{write("wrong.yaml", multiDoc(withVersion(map[string]string{"Deployment": "v1"})))}
	}
	t.Fatalf("representation %q of %s has no writer", rep, expectationsFile)
	return nil
}

// TestTwins checks the misconfigured/fixed twins of expectations.yaml
// over every real workload, in every representation at restricted, and
// plainly written at baseline too.
func TestTwins(t *testing.T) {
	exp := loadTwinExpectations(t)
	for _, mu := range exp.Mutations {
		if mutations[mu.ID] == nil {
			t.Errorf("%s: mutation %q has no implementation", expectationsFile, mu.ID)
		}
	}
	if len(exp.Mutations) != len(mutations) {
		t.Errorf("%s lists %d mutations, the harness implements %d", expectationsFile, len(exp.Mutations), len(mutations))
	}
	sources := twinSources(t)
	if len(sources) < 40 {
		t.Fatalf("only %d real workloads to derive twins from", len(sources))
	}
	// Every source gives a hardened twin and one twin per mutation.
	type pair struct {
		src               committedWorkload
		kind, fixed, name string
		mutation          int
	}
	var objs []map[string]any
	var pairs []pair
	for i, s := range sources {
		fixed := fmt.Sprintf("w%03d-fixed", i)
		objs = append(objs, twin(s.Obj, fixed, nil))
		for mi, mu := range exp.Mutations {
			if mutations[mu.ID] == nil {
				continue
			}
			name := fmt.Sprintf("w%03d-%s", i, mu.ID)
			objs = append(objs, twin(s.Obj, name, mutations[mu.ID]))
			pairs = append(pairs, pair{src: s, kind: s.Obj.ID.Kind, fixed: fixed, name: name, mutation: mi})
		}
	}
	m := newMismatches(2)
	for _, rep := range sortedKeys(exp.Representations) {
		files := writeRepresentation(t, t.TempDir(), rep, objs)
		old := rep == "old-api-version" || rep == "wrong-api-version"
		levels := []string{rule.LevelRestricted}
		if rep == "plain" {
			// Reading bugs show at one level; what depends on the level
			// (the baseline lists, severity at every level) needs one
			// representation only. This halves the harness's time.
			// The privileged level enforces no Pod Security control:
			// what the twins must still report there is the hardening
			// rules' (issue #18).
			levels = append(levels, rule.LevelBaseline, rule.LevelPrivileged)
		}
		for _, level := range levels {
			report := scanPaths(t, files, level)
			for _, p := range report.Problems {
				if p.Level == finding.LevelError {
					m.add(rep+" at "+level, "ERROR problem on twins", "%s:%d: %s", p.File, p.Line, p.Message)
				}
			}
			byObject := map[string]map[string]finding.Severity{}
			for _, f := range report.Findings {
				if f.Suppressed {
					continue
				}
				k := f.Object.Kind + "/" + f.Object.Name
				if byObject[k] == nil {
					byObject[k] = map[string]finding.Severity{}
				}
				byObject[k][f.RuleID] = f.Severity
			}
			where := rep + " at " + level
			for _, p := range pairs {
				if old && (rep == "old-api-version" && oldVersion[p.kind] == "" || rep == "wrong-api-version" && p.kind != "Deployment") {
					continue
				}
				m.count(where, "twins", 1)
				mu := exp.Mutations[p.mutation]
				got, fixed := byObject[p.kind+"/"+p.name], byObject[p.kind+"/"+p.fixed]
				want := twinWant(level, mu.Fire, map[string][]string{
					rule.LevelBaseline: mu.Baseline, rule.LevelRestricted: mu.Restricted, rule.LevelPrivileged: mu.Privileged}[level])
				src := fmt.Sprintf("%s from %s (%s)", p.name, p.src.File, p.src.Obj.ID)
				for _, id := range want {
					if _, ok := got[id]; !ok {
						m.add(where, fmt.Sprintf("%s: %s not reported", mu.ID, id), "%s; got %v", src, sortedKeys(got))
					}
					if _, ok := fixed[id]; ok {
						m.add(where, fmt.Sprintf("%s: %s reported on the fixed twin", mu.ID, id), "%s", src)
					}
				}
				for _, id := range mu.NotFire {
					if _, ok := got[id]; ok {
						m.add(where, fmt.Sprintf("%s: %s reported but must not be", mu.ID, id), "%s", src)
					}
				}
				if mu.MinSeverity != "" {
					checkSeverity(m, where, mu.ID, mu.MinSeverity, src, got, fixed)
				}
				if old {
					for _, n := range []string{p.name, p.fixed} {
						if _, ok := byObject[p.kind+"/"+n][exp.OldVersionRule]; !ok {
							m.add(where, exp.OldVersionRule+" not reported", "%s %s from %s", p.kind, n, p.src.File)
						}
					}
				}
			}
		}
	}
	m.report(t)
}

// twinWant returns the rules a mutation must make Palisade report at a
// level: those of fire and of the level's own list; at the privileged
// level, which enforces no Pod Security control (their findings are
// shown suppressed), the pss/ rules of fire are left out.
func twinWant(level string, fire, atLevel []string) []string {
	var want []string
	for _, id := range fire {
		if level != rule.LevelPrivileged || !strings.HasPrefix(id, "pss/") {
			want = append(want, id)
		}
	}
	return append(want, atLevel...)
}

// checkSeverity: the most severe finding a mutation adds must be at least
// min at every Pod Security level.
func checkSeverity(m *mismatches, where, mutation, min, src string, got, fixed map[string]finding.Severity) {
	want, err := finding.ParseSeverity(min)
	if err != nil {
		m.add(where, "bad minSeverity in "+expectationsFile, "%s: %v", mutation, err)
		return
	}
	best, bestID := finding.SeverityUnknown, ""
	for id, s := range got {
		if _, before := fixed[id]; !before && s > best {
			best, bestID = s, id
		}
	}
	if best < want {
		added := make([]string, 0, len(got))
		for id, s := range got {
			if _, before := fixed[id]; !before {
				added = append(added, id+"="+s.String())
			}
		}
		sort.Strings(added)
		m.add(where, fmt.Sprintf("%s: nothing at %s or above", mutation, min), "%s; added %v (most severe %q)", src, added, bestID)
	}
}
