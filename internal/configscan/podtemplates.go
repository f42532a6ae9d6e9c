package configscan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/workload"
)

// Container lists an undecoded object can hold: a pod spec's, Tekton's
// steps and sidecars, Argo Workflows' single container. A list counts
// only when one of its items names an image, so a CustomResourceDefinition's
// schema for such a field (an object of properties) does not.
var containerKeys = []string{"containers", "initContainers", "ephemeralContainers", "sidecars", "steps"}

// Bounds of the walk through an undecoded object, which is hostile input.
const (
	walkMaxDepth = 64
	walkMaxNodes = 200000
)

// findContainers returns the path of the first container list (or single
// container) in v, in the line index's form ("spec.template.spec.containers",
// "spec.replicatedJobs[0].template.spec.containers"), or "".
func findContainers(v any, path string, depth int, nodes *int) string {
	*nodes++
	if depth > walkMaxDepth || *nodes > walkMaxNodes {
		return ""
	}
	switch t := v.(type) {
	case map[string]any:
		for _, k := range containerKeys {
			if list, ok := t[k].([]any); ok {
				for _, it := range list {
					if c, ok := it.(map[string]any); ok && c["image"] != nil {
						return join(path, k)
					}
				}
			}
		}
		if c, ok := t["container"].(map[string]any); ok && c["image"] != nil {
			return join(path, "container")
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys) // the same answer every run
		for _, k := range keys {
			if p := findContainers(t[k], join(path, k), depth+1, nodes); p != "" {
				return p
			}
		}
	case []any:
		for i, it := range t {
			if p := findContainers(it, fmt.Sprintf("%s[%d]", path, i), depth+1, nodes); p != "" {
				return p
			}
		}
	}
	return ""
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// uncheckedPodTemplates returns an input error for each object of a kind
// Palisade does not decode that holds containers anywhere (a pod template
// at spec.template like Argo Rollouts, OpenKruise CloneSets and Knative
// Services, at spec.jobTemplate, in lists of templates like JobSets and
// RayClusters, a Workflow's container, a Tekton Task's steps): the rules
// judge the pod templates of the built-in workload kinds only, and such
// an object must not count as scanned and clean (issue #18). The caller
// takes them out of the objects scanned.
func uncheckedPodTemplates(inv *workload.Inventory) []finding.Problem {
	var out []finding.Problem
	for _, o := range inv.Objects {
		src := o.Source
		if o.Typed != nil || src == nil || !bytes.Contains(src.JSON, []byte(`"image"`)) {
			continue
		}
		if builtinGroup(src.APIVersion) {
			continue // a PodTemplate, an ImageReview: Kubernetes' own kinds that run nothing
		}
		var v any
		if json.Unmarshal(src.JSON, &v) != nil {
			continue
		}
		top, ok := v.(map[string]any)
		if !ok {
			continue
		}
		nodes := 0
		field := findContainers(top["spec"], "spec", 1, &nodes) // metadata and status hold no templates
		if field == "" {
			continue
		}
		out = append(out, finding.Problem{File: src.File, Line: src.LineOf(field), Level: finding.LevelError,
			Message: fmt.Sprintf("%s (%s): not checked: %s holds containers, and Palisade judges the pod templates of the built-in workload kinds only: review its containers by hand",
				o.Ref, src.APIVersion, field)})
	}
	return out
}

// builtinGroup reports whether apiVersion is of one of Kubernetes' own API
// groups (the core group, a group without a dot like apps or batch, or
// one under k8s.io), whose kinds are decoded when they run pods; custom
// resources' groups have dots, and the SIGs' own (JobSet, Cluster API)
// end in x-k8s.io.
func builtinGroup(apiVersion string) bool {
	group, _, ok := strings.Cut(apiVersion, "/")
	if !ok || !strings.Contains(group, ".") {
		return true
	}
	return strings.HasSuffix(group, ".k8s.io") && !strings.HasSuffix(group, ".x-k8s.io")
}
