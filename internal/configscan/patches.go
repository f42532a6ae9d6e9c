package configscan

import (
	"context"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// findingKey identifies a finding of one object independently of where
// it is located.
type findingKey struct {
	rule, container, message, field string
}

func keyOfFinding(f *finding.Finding) findingKey {
	return findingKey{f.RuleID, f.Container, f.Message, f.Field}
}

// locatePatchedFindings points the findings a kustomize patch caused at
// the patch: a finding of an object a patch changed, which the object
// without that patch does not have, is located at the line of the patch
// that sets its field (Patched.Locate), in the patch file (or the
// kustomization file, for an inline patch). Findings the base already had
// keep the base file. Each finding moves at most once (the first patch
// that caused it). ctx bounds the extra evaluations.
func locatePatchedFindings(ctx context.Context, findings []finding.Finding, patched []Patched, inv *workload.Inventory, defaultNamespace string, opts Options) error {
	if len(patched) == 0 {
		return nil
	}
	// The findings of each object of each file, to look them up per patch.
	type fileObject struct {
		file string
		ref  finding.ObjectRef
	}
	byObject := map[fileObject][]int{}
	files := map[string]bool{}
	for i := range findings {
		k := fileObject{findings[i].File, findings[i].Object}
		byObject[k] = append(byObject[k], i)
		files[k.file] = true
	}
	moved := make([]bool, len(findings))
	for _, p := range patched {
		if !files[p.Stream] {
			continue // no finding there to move: no need to evaluate
		}
		set, err := manifest.Load(ctx, nil, manifest.Options{Streams: []manifest.Stream{{Name: p.Stream, Data: p.Unpatched}}})
		if err != nil {
			return err
		}
		if len(set.Objects) != 1 {
			continue
		}
		batch, probs := inv.WithBatch(set.Objects, defaultNamespace)
		if len(probs) > 0 || len(batch.Objects) != 1 {
			continue // the object does not decode without the patch
		}
		ref := batch.Objects[0].Ref
		before, err := opts.Rules.EvaluateObjects(ctx, rule.NewContext(batch, opts.Settings, opts.Rules))
		if err != nil {
			return err
		}
		had := make(map[findingKey]bool, len(before))
		for i := range before {
			had[keyOfFinding(&before[i])] = true
		}
		for _, i := range byObject[fileObject{p.Stream, ref}] {
			f := &findings[i]
			if moved[i] || had[keyOfFinding(f)] {
				continue
			}
			f.File, f.Line = p.File, p.Locate(f.Field)
			moved[i] = true
		}
	}
	return nil
}
