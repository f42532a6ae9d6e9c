package realworld

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/catalog/peers"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
)

// peerTwinsDir holds one file per peer tool: twin pairs written from the
// peer's documentation of each check (format: testdata/realworld/README.md
// and the header of trivy.yaml there).
var peerTwinsDir = filepath.Join(realworldDir, "peer-twins")

// peerTwinFile is testdata/realworld/peer-twins/<tool>.yaml.
type peerTwinFile struct {
	Tool string `json:"tool"`
	// Without lists the implemented peer checks that have no twin here,
	// each with why: by peer check ID (a path.Match pattern such as
	// "KCV-*"), or by the Palisade checks they map to (every one must
	// match the pattern, such as "node/*": checks of another analyser,
	// held by that analyser's own fixtures).
	Without []struct {
		Checks   string `json:"checks"`
		Palisade string `json:"palisade"`
		Reason   string `json:"reason"`
	} `json:"without"`
	Twins []peerTwin `json:"twins"`
}

// peerTwin is one misconfigured object and its fixed twin for one or more
// peer checks.
type peerTwin struct {
	Checks []string `json:"checks"`
	// Doc paraphrases what the peer's documentation says the check
	// looks for: what the twin was written from.
	Doc string `json:"doc"`
	// MinSeverity is the least severity the risk deserves: the most
	// severe of the mapped Palisade checks reported on Bad must reach it.
	MinSeverity string `json:"minSeverity"`
	// Levels are the Pod Security levels the twin is scanned at
	// (default restricted).
	Levels []string `json:"levels"`
	// AllowedRegistries is the registry allow-list of the scan.
	AllowedRegistries []string `json:"allowedRegistries"`
	Bad               string   `json:"bad"`
	Fixed             string   `json:"fixed"`
}

// levelNames maps the file's level names to the scan's.
var levelNames = map[string]string{"baseline": rule.LevelBaseline, "restricted": rule.LevelRestricted, "privileged": rule.LevelPrivileged}

func loadPeerTwins(t *testing.T) []*peerTwinFile {
	t.Helper()
	return readToolFiles(t, peerTwinsDir, func(f *peerTwinFile) string { return f.Tool })
}

// readToolFiles reads every <tool>.yaml of dir strictly into a T, whose
// tool (as the function returns it) must match its file's name.
func readToolFiles[T any](t *testing.T, dir string, tool func(*T) string) []*T {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no twin files in %s (%v)", dir, err)
	}
	var out []*T
	for _, name := range names {
		var f T
		readStrictYAML(t, name, &f)
		if want := strings.TrimSuffix(filepath.Base(name), ".yaml"); tool(&f) != want {
			t.Fatalf("%s: tool %q does not match the file name", name, tool(&f))
		}
		out = append(out, &f)
	}
	return out
}

// TestPeerTwins holds every mapping of internal/catalog/peers to the
// peers' documentation: for each peer check mapped to Palisade checks,
// the twins of testdata/realworld/peer-twins/<tool>.yaml must have at
// least one of the mapped checks reported on the misconfigured object, at
// the severity the twin asks or above, and none of them reported on the
// fixed object. An implemented peer check without a twin fails unless
// the file lists it under `without` with a reason.
func TestPeerTwins(t *testing.T) {
	files, err := peers.Load()
	if err != nil {
		t.Fatal(err)
	}
	mapped := map[string]map[string][]string{} // tool → upper-case check ID → Palisade checks
	for _, f := range files {
		mapped[f.Tool] = map[string][]string{}
		for _, c := range f.Checks {
			if len(c.Palisade) > 0 {
				mapped[f.Tool][strings.ToUpper(c.ID)] = c.Palisade
			}
		}
	}
	m := newMismatches(20)
	twinFiles := loadPeerTwins(t)
	for _, tool := range sortedKeys(mapped) {
		if len(mapped[tool]) > 0 && !slices.ContainsFunc(twinFiles, func(f *peerTwinFile) bool { return f.Tool == tool }) {
			m.add(tool, "peer with implemented checks but no twin file", "peer-twins/%s.yaml", tool)
		}
	}
	for _, tf := range twinFiles {
		checks, ok := mapped[tf.Tool]
		if !ok {
			t.Errorf("peer-twins/%s.yaml: no such tool in internal/catalog/peers", tf.Tool)
			continue
		}
		twinned := map[string]bool{}
		for i, tw := range tf.Twins {
			where := fmt.Sprintf("%s twin %d %v", tf.Tool, i+1, tw.Checks)
			if len(tw.Checks) == 0 || tw.Bad == "" || tw.Fixed == "" || tw.Doc == "" {
				m.add(tf.Tool, "twin incomplete (checks, doc, bad and fixed are required)", "%s", where)
				continue
			}
			minSev, err := finding.ParseSeverity(tw.MinSeverity)
			if err != nil {
				m.add(tf.Tool, "twin without a valid minSeverity", "%s: %v", where, err)
				continue
			}
			levels := tw.Levels
			if len(levels) == 0 {
				levels = []string{"restricted"}
			}
			// Each side is scanned once per level, whatever the number of
			// checks the twin serves.
			type sides struct{ bad, fixed map[string]finding.Severity }
			scanned := map[string]sides{}
			for _, lv := range levels {
				level, ok := levelNames[lv]
				if !ok {
					m.add(tf.Tool, "unknown level", "%s: %q", where, lv)
					continue
				}
				settings := rule.Settings{DefaultPSSLevel: level, AllowedRegistries: tw.AllowedRegistries}
				scanned[lv] = sides{scanTwinSide(t, tw.Bad, settings), scanTwinSide(t, tw.Fixed, settings)}
			}
			for _, id := range tw.Checks {
				id = strings.ToUpper(id)
				ids, ok := checks[id]
				if !ok {
					m.add(tf.Tool, "twin for a check not mapped to Palisade", "%s: %s", where, id)
					continue
				}
				twinned[id] = true
				for _, lv := range levels {
					sc, ok := scanned[lv]
					if !ok {
						continue
					}
					m.count(tf.Tool, "twin checks", 1)
					at := fmt.Sprintf("%s %s at %s", tf.Tool, id, lv)
					best, bestID := finding.SeverityUnknown, ""
					for _, p := range ids {
						if s, ok := sc.bad[p]; ok && s > best {
							best, bestID = s, p
						}
						if _, ok := sc.fixed[p]; ok {
							m.add(tf.Tool, "mapped check reported on the fixed twin", "%s: %s", at, p)
						}
					}
					switch {
					case bestID == "":
						m.add(tf.Tool, "no mapped check reported on the misconfigured twin", "%s: want one of %v; got %v", at, ids, sortedKeys(sc.bad))
					case best < minSev:
						m.add(tf.Tool, "misconfigured twin reported below the severity its risk deserves", "%s: %s at %s, want %s", at, bestID, best, minSev)
					}
				}
			}
		}
		for _, w := range tf.Without {
			if !strings.Contains(w.Reason, " ") || (w.Checks == "") == (w.Palisade == "") {
				m.add(tf.Tool, "`without` entry needs a reason and one of checks or palisade", "%s%s", w.Checks, w.Palisade)
			}
		}
		for _, id := range sortedKeys(checks) {
			if twinned[id] {
				continue
			}
			exempt := false
			for _, w := range tf.Without {
				if w.Checks != "" {
					ok, _ := path.Match(strings.ToUpper(w.Checks), id)
					exempt = exempt || ok
					continue
				}
				all := true
				for _, p := range checks[id] {
					ok, _ := path.Match(w.Palisade, p)
					all = all && ok
				}
				exempt = exempt || all
			}
			if !exempt {
				m.add(tf.Tool, "implemented peer check without a twin or a reason", "%s", id)
			}
		}
		m.count(tf.Tool, "checks twinned", len(twinned))
	}
	m.report(t)
}

// scanTwinSide scans one side of a twin (one or more YAML documents) as
// `scan config` would and returns the unsuppressed rule IDs reported with
// their most severe finding. The same objects are also scanned as one
// `kind: List` in JSON, as `kubectl get -o json` prints several kinds, and
// must give the same result.
func scanTwinSide(t *testing.T, docs string, settings rule.Settings) map[string]finding.Severity {
	t.Helper()
	dir := t.TempDir()
	plain := filepath.Join(dir, "twin.yaml")
	if err := os.WriteFile(plain, []byte(docs), 0o600); err != nil {
		t.Fatal(err)
	}
	var items []any
	for _, doc := range strings.Split(docs, "\n---\n") {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil || obj == nil {
			t.Fatalf("twin %q: document %q: %v", firstLine(docs), firstLine(doc), err)
		}
		items = append(items, obj)
	}
	list, err := json.MarshalIndent(map[string]any{"apiVersion": "v1", "kind": "List",
		"metadata": map[string]any{"resourceVersion": ""}, "items": items}, "", "    ")
	if err != nil {
		t.Fatal(err)
	}
	listFile := filepath.Join(dir, "list.json")
	if err := os.WriteFile(listFile, list, 0o600); err != nil {
		t.Fatal(err)
	}
	var results [2]map[string]finding.Severity
	for i, p := range []string{plain, listFile} {
		rep := scanPathsWith(t, []string{p}, settings)
		for _, pr := range rep.Problems {
			if pr.Level == finding.LevelError {
				t.Errorf("twin %q: %s:%d: %s", firstLine(docs), pr.File, pr.Line, pr.Message)
			}
		}
		results[i] = map[string]finding.Severity{}
		for _, f := range rep.Findings {
			if !f.Suppressed && f.Severity > results[i][f.RuleID] {
				results[i][f.RuleID] = f.Severity
			}
		}
	}
	if !maps.Equal(results[0], results[1]) {
		t.Errorf("twin %q: as YAML documents %v, as a kind: List %v", firstLine(docs), results[0], results[1])
	}
	return results[0]
}

func firstLine(s string) string {
	lines := slices.DeleteFunc(strings.Split(s, "\n"), func(l string) bool {
		return !strings.Contains(l, "name:")
	})
	if len(lines) == 0 {
		return ""
	}
	return strings.TrimSpace(lines[0])
}
