package realworld

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/catalog/peers"
	"github.com/palisade-sec/palisade/internal/nodeaudit"
)

// nodeTwinsDir holds the node twins: one file per peer tool
// (<tool>.yaml) and, under hosts/, a secure host tree per distribution
// layout that every twin edits (format: the header of kube-bench.yaml
// there).
var nodeTwinsDir = filepath.Join(realworldDir, "node-twins")

// nodeLayouts are the host layouts of hosts/, in test order.
var nodeLayouts = []nodeaudit.Distribution{nodeaudit.Kubeadm, nodeaudit.K3s, nodeaudit.RKE2, nodeaudit.MicroK8s}

// nodeTwinFile is testdata/realworld/node-twins/<tool>.yaml.
type nodeTwinFile struct {
	Tool string `json:"tool"`
	// Same names, for a peer check, the kube-bench (CIS) item whose twins
	// are its twins too: the peer documents the same audit of the same
	// setting (Trivy's KCV and Kubescape's C-0092… controls are CIS items
	// under other names).
	Same map[string]string `json:"same"`
	// Without lists the peer checks mapped to node checks that have no
	// twin, each with why (a path.Match pattern of peer IDs).
	Without []struct {
		Checks string `json:"checks"`
		Reason string `json:"reason"`
	} `json:"without"`
	Twins []nodeTwin `json:"twins"`
}

// nodeTwin is one misconfigured host and its fixed twin for one or more
// peer checks, on each layout it names.
type nodeTwin struct {
	Checks []string `json:"checks"`
	// Doc paraphrases what the peer's documentation says the check audits.
	Doc string `json:"doc"`
	// Layouts the twin runs on (default: the keys of PerLayout, else
	// every layout).
	Layouts []nodeaudit.Distribution `json:"layouts"`
	// The edits and expected results of every layout; PerLayout adds
	// edits (and replaces expectations) for one layout.
	nodeTwinSides
	PerLayout map[nodeaudit.Distribution]nodeTwinSides `json:"perLayout"`
}

// nodeTwinSides are a twin's two sides: Bad and Fixed are the edits to
// the layout's secure tree; BadResult and FixedResult Palisade's outcome
// of the mapped checks (default fail and pass); PeerBad and PeerFixed the
// peer's, when it differs, with Reason.
type nodeTwinSides struct {
	Bad         nodeEdit         `json:"bad"`
	Fixed       nodeEdit         `json:"fixed"`
	BadResult   nodeaudit.Status `json:"badResult"`
	FixedResult nodeaudit.Status `json:"fixedResult"`
	PeerBad     nodeaudit.Status `json:"peerBad"`
	PeerFixed   nodeaudit.Status `json:"peerFixed"`
	Reason      string           `json:"reason"`
}

// nodeEdit is what an operator changes on the host. Args and Drop work
// on a component's command line where the layout keeps it: kubeadm's
// static Pod manifests and kubeadm-flags.env (kubelet), K3s's and RKE2's
// `<component>-arg` items (a config.yaml.d drop-in appending with `+`;
// RKE2's control plane and kube-proxy in its pod manifests), MicroK8s's
// args files. An Args item is one manifest list item, one `*-arg` item
// (leading dashes dropped) or one args-file line.
type nodeEdit struct {
	Args map[string][]string `json:"args"`
	// Drop removes every item of the flags named (without dashes).
	Drop map[string][]string `json:"drop"`
	// Write writes files (created with mode 0600); Replace edits text.
	Write   map[string]string `json:"write"`
	Replace []struct {
		Path string `json:"path"`
		Old  string `json:"old"`
		New  string `json:"new"`
	} `json:"replace"`
	// Set sets keys of a YAML file ("a.b.c": value; null deletes).
	Set map[string]map[string]any `json:"set"`
	// Mode ("0644") and Owner ("uid:gid") of files and directories.
	Mode  map[string]string `json:"mode"`
	Owner map[string]string `json:"owner"`
	// Remove deletes files or directories.
	Remove []string `json:"remove"`
}

// nodeBases is hosts/bases.yaml: what git cannot keep of the secure trees.
type nodeBases struct {
	// Owners of paths that are not root:root ("uid:gid"), per layout.
	Owners map[nodeaudit.Distribution]map[string]string `json:"owners"`
}

var statuses = []nodeaudit.Status{nodeaudit.Pass, nodeaudit.Fail, nodeaudit.NotApplicable, nodeaudit.Manual}

func loadNodeTwins(t *testing.T) ([]*nodeTwinFile, nodeBases) {
	t.Helper()
	out := readToolFiles(t, nodeTwinsDir, func(f *nodeTwinFile) string { return f.Tool })
	var b nodeBases
	readStrictYAML(t, filepath.Join(nodeTwinsDir, "hosts", "bases.yaml"), &b)
	return out, b
}

// TestNodePeerTwins holds the node checks to what the peers document
// about each CIS control-plane, etcd, kubelet, kube-proxy and file check:
// for every peer check mapped to node checks, twins of
// testdata/realworld/node-twins/<tool>.yaml edit a secure host tree of
// each layout (kubeadm, K3s, RKE2, MicroK8s) as an operator would, and the
// node audit must give the misconfigured host and its fixed twin the
// results the twin names (fail and pass unless it says otherwise, and
// why where the peer's result differs). Each layout's secure tree must
// audit clean, and an implemented peer check without a twin fails unless
// the file says why.
func TestNodePeerTwins(t *testing.T) {
	files, err := peers.Load()
	if err != nil {
		t.Fatal(err)
	}
	nodeChecks := map[string]bool{}
	for _, c := range nodeaudit.Checks() {
		nodeChecks[c.ID] = true
	}
	mapped := map[string]map[string][]string{} // tool → upper-case peer ID → node checks
	for _, f := range files {
		for _, c := range f.Checks {
			var ids []string
			for _, p := range c.Palisade {
				if nodeChecks[p] {
					ids = append(ids, p)
				}
			}
			if len(ids) == 0 {
				continue
			}
			if mapped[f.Tool] == nil {
				mapped[f.Tool] = map[string][]string{}
			}
			mapped[f.Tool][strings.ToUpper(c.ID)] = ids
		}
	}
	twinFiles, bases := loadNodeTwins(t)
	m := newMismatches(20)
	asRoot := os.Geteuid() == 0

	trees := map[nodeaudit.Distribution]string{}
	for _, d := range nodeLayouts {
		trees[d] = filepath.Join(nodeTwinsDir, "hosts", string(d))
		checkBaseTree(t, m, d, trees[d], bases)
	}

	byTool := map[string]*nodeTwinFile{}
	for _, tf := range twinFiles {
		byTool[tf.Tool] = tf
	}
	for _, tool := range sortedKeys(mapped) {
		if byTool[tool] == nil {
			m.add(tool, "peer with node checks but no node twin file", "node-twins/%s.yaml", tool)
		}
	}
	twinned := map[string]map[string]bool{} // tool → peer ID
	for _, tf := range twinFiles {
		checks, ok := mapped[tf.Tool]
		if !ok {
			t.Errorf("node-twins/%s.yaml: no such tool with node checks in internal/catalog/peers", tf.Tool)
			continue
		}
		twinned[tf.Tool] = map[string]bool{}
		for i, tw := range tf.Twins {
			where := fmt.Sprintf("%s twin %d %v", tf.Tool, i+1, tw.Checks)
			if len(tw.Checks) == 0 || tw.Doc == "" {
				m.add(tf.Tool, "twin incomplete (checks and doc are required)", "%s", where)
				continue
			}
			var ids []string
			for _, id := range tw.Checks {
				p, ok := checks[strings.ToUpper(id)]
				if !ok {
					m.add(tf.Tool, "twin for a check not mapped to node checks", "%s: %s", where, id)
					continue
				}
				twinned[tf.Tool][strings.ToUpper(id)] = true
				for _, c := range p {
					if !slices.Contains(ids, c) {
						ids = append(ids, c)
					}
				}
			}
			if len(ids) == 0 {
				continue
			}
			if !asRoot && slices.ContainsFunc(ids, isOwnershipCheck) {
				// Files copied by another user are owned by that user.
				m.count(tf.Tool, "twins not run (ownership needs root)", 1)
				continue
			}
			layouts := tw.Layouts
			if len(layouts) == 0 {
				layouts = slices.Sorted(func(yield func(nodeaudit.Distribution) bool) {
					for d := range tw.PerLayout {
						if !yield(d) {
							return
						}
					}
				})
			}
			if len(layouts) == 0 {
				layouts = nodeLayouts
			}
			for _, d := range layouts {
				root, ok := trees[d]
				if !ok {
					m.add(tf.Tool, "twin names an unknown layout", "%s: %s", where, d)
					continue
				}
				pl := tw.PerLayout[d]
				want := map[string]nodeaudit.Status{"bad": first(pl.BadResult, tw.BadResult, nodeaudit.Fail), "fixed": first(pl.FixedResult, tw.FixedResult, nodeaudit.Pass)}
				peer := map[string]nodeaudit.Status{"bad": first(pl.PeerBad, tw.PeerBad, want["bad"]), "fixed": first(pl.PeerFixed, tw.PeerFixed, want["fixed"])}
				if (peer["bad"] != want["bad"] || peer["fixed"] != want["fixed"]) && pl.Reason == "" && tw.Reason == "" {
					m.add(tf.Tool, "twin where Palisade differs from the peer without a reason", "%s on %s", where, d)
				}
				// Twins that document where a check does not apply (or is
				// manual) on a layout have the same result on both sides.
				if want["bad"] == want["fixed"] && want["bad"] != nodeaudit.Manual && want["bad"] != nodeaudit.NotApplicable {
					m.add(tf.Tool, "twin whose sides expect the same result", "%s on %s", where, d)
				}
				edits := map[string][]nodeEdit{"bad": {tw.Bad, pl.Bad}, "fixed": {tw.Fixed, pl.Fixed}}
				for _, side := range []string{"bad", "fixed"} {
					if !slices.Contains(statuses, want[side]) || !slices.Contains(statuses, peer[side]) {
						m.add(tf.Tool, "unknown result", "%s on %s %s: %q / %q", where, d, side, want[side], peer[side])
						continue
					}
					at := fmt.Sprintf("%s on %s, %s twin", where, d, side)
					m.count(tf.Tool, "host audits", 1)
					got, msgs, err := auditTwin(t, root, d, bases, edits[side])
					if err != nil {
						m.add(tf.Tool, "twin cannot be applied", "%s: %v", at, err)
						continue
					}
					if e := msgs(nil); e != "" {
						// node audit exits 2 on an error: the twin would not
						// show the result it names.
						m.add(tf.Tool, "error auditing a twin (node audit would exit 2)", "%s:%s", at, e)
					}
					if r := resultOf(got, ids); r != want[side] {
						m.add(tf.Tool, "node checks give another result than the twin names", "%s: %v is %s, want %s%s", at, ids, r, want[side], msgs(ids))
					} else if r == nodeaudit.Fail {
						for _, o := range got {
							if slices.Contains(ids, o.Check.ID) && o.Status == nodeaudit.Fail && slices.ContainsFunc(o.Results, func(r nodeaudit.Result) bool { return r.Status == nodeaudit.Fail && r.File == "" }) {
								m.add(tf.Tool, "failure that names no file", "%s: %s", at, o.Check.ID)
							}
						}
					}
				}
			}
		}
		for id := range tf.Same {
			id = strings.ToUpper(id)
			if _, ok := checks[id]; !ok {
				m.add(tf.Tool, "`same` names a check not mapped to node checks", "%s", id)
			}
		}
		for _, w := range tf.Without {
			if w.Checks == "" || !strings.Contains(w.Reason, " ") {
				m.add(tf.Tool, "`without` entry needs checks and a reason", "%q", w.Checks)
			}
		}
		m.count(tf.Tool, "checks twinned", len(twinned[tf.Tool]))
	}
	// Coverage, once every file's twins are known: `same` refers to
	// kube-bench's twins.
	for _, tf := range twinFiles {
		checks := mapped[tf.Tool]
		for _, id := range sortedKeys(checks) {
			if twinned[tf.Tool][id] {
				continue
			}
			if cis, ok := tf.Same[id]; ok {
				if !twinned["kube-bench"][strings.ToUpper(cis)] {
					m.add(tf.Tool, "`same` names a kube-bench item without twins", "%s → %s", id, cis)
				} else if !slices.Equal(checks[id], mapped["kube-bench"][strings.ToUpper(cis)]) && !subset(checks[id], mapped["kube-bench"][strings.ToUpper(cis)]) {
					m.add(tf.Tool, "`same` names a kube-bench item mapped to other node checks", "%s %v → %s %v", id, checks[id], cis, mapped["kube-bench"][strings.ToUpper(cis)])
				}
				m.count(tf.Tool, "checks twinned through kube-bench's", 1)
				continue
			}
			if !slices.ContainsFunc(tf.Without, func(w struct {
				Checks string `json:"checks"`
				Reason string `json:"reason"`
			}) bool {
				ok, _ := path.Match(strings.ToUpper(w.Checks), id)
				return ok
			}) {
				m.add(tf.Tool, "peer check mapped to node checks without a twin or a reason", "%s %v", id, checks[id])
			}
		}
	}
	m.report(t)
}

// isOwnershipCheck: the file-ownership checks, which only a root test
// process can set up.
func isOwnershipCheck(id string) bool { return strings.HasSuffix(id, "-ownership") }

func first[S ~string](s ...S) S {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// resultOf is the outcome of a set of checks: fail when one fails, else
// manual, pass, not applicable in that order.
func resultOf(outcomes []nodeaudit.Outcome, ids []string) nodeaudit.Status {
	seen := map[nodeaudit.Status]bool{}
	for _, o := range outcomes {
		if slices.Contains(ids, o.Check.ID) {
			seen[o.Status] = true
		}
	}
	for _, s := range []nodeaudit.Status{nodeaudit.Fail, nodeaudit.Manual, nodeaudit.Pass} {
		if seen[s] {
			return s
		}
	}
	return nodeaudit.NotApplicable
}

// checkBaseTree audits a layout's secure tree as committed: it must be
// detected as its layout, give no error and fail no check.
func checkBaseTree(t *testing.T, m *mismatches, d nodeaudit.Distribution, tree string, bases nodeBases) {
	t.Helper()
	got, msgs, err := auditTwin(t, tree, d, bases, nil)
	if err != nil {
		m.add(string(d), "secure tree cannot be audited", "%v", err)
		return
	}
	if e := msgs(nil); e != "" {
		m.add(string(d), "error auditing the secure tree (node audit would exit 2)", "%s", e)
	}
	for _, o := range got {
		if o.Status == nodeaudit.Fail && (os.Geteuid() == 0 || !isOwnershipCheck(o.Check.ID)) {
			m.add(string(d), "check failing on the secure tree", "%s%s", o.Check.ID, msgs([]string{o.Check.ID}))
		}
	}
}

// auditTwin copies a layout's secure tree, sets modes and owners as a
// host would have them (files 0600, directories 0700, root:root, and the
// owners of bases.yaml), applies the edits and audits the copy. It
// returns the outcomes and a function describing the results of checks.
func auditTwin(t *testing.T, tree string, d nodeaudit.Distribution, bases nodeBases, edits []nodeEdit) ([]nodeaudit.Outcome, func([]string) string, error) {
	t.Helper()
	root := t.TempDir()
	err := filepath.WalkDir(tree, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(tree, p)
		dst := filepath.Join(root, rel)
		if e.IsDir() {
			if err := os.MkdirAll(dst, 0o700); err != nil {
				return err
			}
			return os.Chmod(dst, 0o700)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o600)
	})
	if err != nil {
		return nil, nil, err
	}
	asRoot := os.Geteuid() == 0
	if asRoot {
		for p, o := range bases.Owners[d] {
			if err := chownSpec(root, p, o); err != nil {
				return nil, nil, err
			}
		}
	}
	for _, e := range edits {
		if err := applyNodeEdit(root, d, e, asRoot); err != nil {
			return nil, nil, err
		}
	}
	n, err := nodeaudit.Load(context.Background(), nodeaudit.Options{Root: root})
	if err != nil {
		return nil, nil, err
	}
	if n.Distribution != d {
		return nil, nil, fmt.Errorf("detected %s, want %s", n.Distribution, d)
	}
	var errs []string
	for _, p := range n.Problems {
		if p.Level == "error" {
			errs = append(errs, p.File+": "+p.Message)
		}
	}
	out := nodeaudit.Evaluate(n, nodeaudit.Checks())
	msgs := func(ids []string) string {
		var parts []string
		for _, o := range out {
			if !slices.Contains(ids, o.Check.ID) {
				continue
			}
			for _, r := range o.Results {
				parts = append(parts, fmt.Sprintf("%s %s: %s (%s %s)", o.Check.ID, r.Status, r.Message, r.File, r.Field))
			}
		}
		if len(errs) > 0 {
			parts = append(parts, "errors: "+strings.Join(errs, "; "))
		}
		if len(parts) == 0 {
			return ""
		}
		return "\n      " + strings.Join(parts, "\n      ")
	}
	return out, msgs, nil
}

func chownSpec(root, p, spec string) error {
	u, g, ok := strings.Cut(spec, ":")
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("owner %q of %s: want uid:gid", spec, p)
	}
	return os.Lchown(filepath.Join(root, p), uid, gid)
}

// manifestDir is where a layout keeps static Pod manifests.
var manifestDir = map[nodeaudit.Distribution]string{
	nodeaudit.Kubeadm: "/etc/kubernetes/manifests",
	nodeaudit.RKE2:    "/var/lib/rancher/rke2/agent/pod-manifests",
}

// rancherDropIn is the config.yaml.d drop-in a twin's `*-arg` items go to.
var rancherDropIn = map[nodeaudit.Distribution]string{
	nodeaudit.K3s:  "/etc/rancher/k3s/config.yaml.d/90-twin.yaml",
	nodeaudit.RKE2: "/etc/rancher/rke2/config.yaml.d/90-twin.yaml",
}

var rancherMain = map[nodeaudit.Distribution]string{
	nodeaudit.K3s:  "/etc/rancher/k3s/config.yaml",
	nodeaudit.RKE2: "/etc/rancher/rke2/config.yaml",
}

const microk8sArgs = "/var/snap/microk8s/current/args/"

// componentFile is the file that holds a component's command line on a
// layout, and how it is written: "manifest", "env" (kubeadm's kubelet),
// "rancher" (`*-arg` items) or "args".
func componentFile(d nodeaudit.Distribution, comp string) (string, string, error) {
	switch {
	case d == nodeaudit.Kubeadm && comp == "kubelet":
		return "/var/lib/kubelet/kubeadm-flags.env", "env", nil
	case d == nodeaudit.Kubeadm && comp != "kube-proxy":
		return manifestDir[d] + "/" + comp + ".yaml", "manifest", nil
	case d == nodeaudit.RKE2 && comp != "kubelet" && comp != "etcd":
		return manifestDir[d] + "/" + comp + ".yaml", "manifest", nil
	case (d == nodeaudit.RKE2 || d == nodeaudit.K3s) && comp != "etcd":
		return rancherMain[d], "rancher", nil
	case d == nodeaudit.MicroK8s && comp != "etcd":
		return microk8sArgs + comp, "args", nil
	}
	return "", "", fmt.Errorf("%s keeps no command line of %s (edit its files instead)", d, comp)
}

var manifestItem = regexp.MustCompile(`(?m)^(\s*)- (--\S.*)$`)

func applyNodeEdit(root string, d nodeaudit.Distribution, e nodeEdit, asRoot bool) error {
	host := func(p string) string { return filepath.Join(root, filepath.FromSlash(p)) }
	edit := func(p string, fn func(string) (string, error)) error {
		data, err := os.ReadFile(host(p))
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		out, err := fn(string(data))
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if err := os.MkdirAll(filepath.Dir(host(p)), 0o700); err != nil {
			return err
		}
		return os.WriteFile(host(p), []byte(out), 0o600)
	}
	for _, comp := range sortedKeys(e.Drop) {
		p, how, err := componentFile(d, comp)
		if err != nil {
			return err
		}
		for _, flag := range e.Drop[comp] {
			err := edit(p, func(s string) (string, error) {
				var lines []string
				dropped := false
				for _, l := range strings.Split(s, "\n") {
					item := strings.Trim(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "- ")), `"'`)
					item = strings.TrimLeft(item, "-")
					name, _, _ := strings.Cut(item, "=")
					name, _, _ = strings.Cut(name, " ")
					if how != "env" && name == flag && (how != "rancher" || strings.HasPrefix(strings.TrimSpace(l), "- ")) {
						dropped = true
						continue
					}
					if how == "env" {
						var words []string
						for _, w := range strings.Fields(l) {
							n, _, _ := strings.Cut(strings.TrimLeft(strings.Trim(w, `"`), "-"), "=")
							if n == flag && strings.HasPrefix(strings.Trim(w, `"`), "--") {
								dropped = true
								if strings.HasSuffix(w, `"`) {
									words = append(words, `"`)
								}
								continue
							}
							words = append(words, w)
						}
						l = strings.ReplaceAll(strings.Join(words, " "), ` "`, `"`)
					}
					lines = append(lines, l)
				}
				if !dropped && how != "rancher" {
					return "", fmt.Errorf("no --%s to drop", flag)
				}
				return strings.Join(lines, "\n"), nil
			})
			if err != nil {
				return err
			}
		}
	}
	for _, comp := range sortedKeys(e.Args) {
		p, how, err := componentFile(d, comp)
		if err != nil {
			return err
		}
		items := e.Args[comp]
		switch how {
		case "manifest":
			err = edit(p, func(s string) (string, error) {
				locs := manifestItem.FindAllStringSubmatchIndex(s, -1)
				if len(locs) == 0 {
					return "", fmt.Errorf("no flag items")
				}
				last := locs[len(locs)-1]
				indent := s[last[2]:last[3]]
				var add strings.Builder
				for _, it := range items {
					fmt.Fprintf(&add, "\n%s- %q", indent, it)
				}
				return s[:last[1]] + add.String() + s[last[1]:], nil
			})
		case "env":
			err = edit(p, func(s string) (string, error) {
				i := strings.LastIndex(s, `"`)
				if i < 0 {
					return "", fmt.Errorf("no quoted KUBELET_KUBEADM_ARGS")
				}
				return s[:i] + " " + strings.Join(items, " ") + s[i:], nil
			})
		case "rancher":
			err = edit(rancherDropIn[d], func(s string) (string, error) {
				s += comp + "-arg+:\n"
				for _, it := range items {
					s += fmt.Sprintf("  - %q\n", strings.TrimLeft(it, "-"))
				}
				return s, nil
			})
		case "args":
			err = edit(p, func(s string) (string, error) {
				if !strings.HasSuffix(s, "\n") {
					s += "\n"
				}
				return s + strings.Join(items, "\n") + "\n", nil
			})
		}
		if err != nil {
			return err
		}
	}
	for _, p := range sortedKeys(e.Write) {
		if err := edit(p, func(string) (string, error) { return e.Write[p], nil }); err != nil {
			return err
		}
	}
	for _, r := range e.Replace {
		err := edit(r.Path, func(s string) (string, error) {
			if !strings.Contains(s, r.Old) {
				return "", fmt.Errorf("no %q to replace", r.Old)
			}
			return strings.Replace(s, r.Old, r.New, 1), nil
		})
		if err != nil {
			return err
		}
	}
	for _, p := range sortedKeys(e.Set) {
		err := edit(p, func(s string) (string, error) {
			var doc map[string]any
			if err := yaml.Unmarshal([]byte(s), &doc); err != nil {
				return "", err
			}
			if doc == nil {
				doc = map[string]any{}
			}
			for _, key := range sortedKeys(e.Set[p]) {
				setPath(doc, strings.Split(key, "."), e.Set[p][key])
			}
			out, err := yaml.Marshal(doc)
			return string(out), err
		})
		if err != nil {
			return err
		}
	}
	for _, p := range e.Remove {
		if _, err := os.Lstat(host(p)); err != nil {
			return fmt.Errorf("remove %s: %w", p, err)
		}
		if err := os.RemoveAll(host(p)); err != nil {
			return err
		}
	}
	for _, p := range sortedKeys(e.Mode) {
		mode, err := strconv.ParseUint(e.Mode[p], 8, 32)
		if err != nil {
			return fmt.Errorf("mode %q of %s: %w", e.Mode[p], p, err)
		}
		if err := os.Chmod(host(p), fs.FileMode(mode)); err != nil {
			return err
		}
	}
	for _, p := range sortedKeys(e.Owner) {
		if !asRoot {
			return fmt.Errorf("owner of %s: the twin needs root to chown", p)
		}
		if err := chownSpec(root, p, e.Owner[p]); err != nil {
			return err
		}
	}
	return nil
}

// setPath sets (or, for nil, deletes) a key path in a YAML document.
func setPath(doc map[string]any, keys []string, v any) {
	for i, k := range keys {
		if i == len(keys)-1 {
			if v == nil {
				delete(doc, k)
			} else {
				doc[k] = v
			}
			return
		}
		next, ok := doc[k].(map[string]any)
		if !ok {
			if v == nil {
				return
			}
			next = map[string]any{}
			doc[k] = next
		}
		doc = next
	}
}
