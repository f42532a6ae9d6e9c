package configscan

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/workload"
)

// podTemplateHolder is the part of an object of a kind Palisade does not
// decode (a custom resource) that says whether it carries a pod
// template: Argo Rollouts, OpenKruise CloneSets and Knative Services keep
// one at spec.template, CronJob-like kinds at spec.jobTemplate.
type podTemplateHolder struct {
	Spec struct {
		Template    *podTemplateSpec `json:"template"`
		JobTemplate *struct {
			Spec struct {
				Template *podTemplateSpec `json:"template"`
			} `json:"spec"`
		} `json:"jobTemplate"`
	} `json:"spec"`
}

type podTemplateSpec struct {
	Spec *struct {
		Containers json.RawMessage `json:"containers"`
	} `json:"spec"`
}

// hasContainers reports whether the template holds a containers list.
func (t *podTemplateSpec) hasContainers() bool {
	return t != nil && t.Spec != nil && len(t.Spec.Containers) > 0 && !bytes.Equal(t.Spec.Containers, []byte("null"))
}

// uncheckedPodTemplates returns an input error for each object of a kind
// Palisade does not decode whose spec.template.spec or
// spec.jobTemplate.spec.template.spec holds containers: the rules judge
// the pod templates of the built-in workload kinds only, and such an
// object must not count as scanned and clean (issue #18). The caller
// takes them out of the objects scanned.
func uncheckedPodTemplates(inv *workload.Inventory) []finding.Problem {
	var out []finding.Problem
	for _, o := range inv.Objects {
		src := o.Source
		if o.Typed != nil || src == nil || !bytes.Contains(src.JSON, []byte(`"containers"`)) {
			continue
		}
		var h podTemplateHolder
		if json.Unmarshal(src.JSON, &h) != nil {
			continue
		}
		field := ""
		switch {
		case h.Spec.Template.hasContainers():
			field = "spec.template.spec.containers"
		case h.Spec.JobTemplate != nil && h.Spec.JobTemplate.Spec.Template.hasContainers():
			field = "spec.jobTemplate.spec.template.spec.containers"
		default:
			continue
		}
		out = append(out, finding.Problem{File: src.File, Line: src.LineOf(field), Level: finding.LevelError,
			Message: fmt.Sprintf("%s (%s): not checked: %s is a pod template, and Palisade judges the pod templates of the built-in workload kinds only: review its containers by hand",
				o.Ref, src.APIVersion, field)})
	}
	return out
}
