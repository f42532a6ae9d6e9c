package rule

import (
	"context"
	"runtime"
	"sync"

	"github.com/palisade-sec/palisade/internal/dockerfile"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/workload"
)

// Evaluate runs the set's rules over the inventory and Dockerfiles and
// returns the findings, unsorted and before exemptions. Workloads are
// checked in parallel; checks are pure, so the order of findings only
// depends on the later sort.
func (s *Set) Evaluate(ctx context.Context, c *Context, dockerfiles []*dockerfile.File) ([]finding.Finding, error) {
	return s.evaluate(ctx, c, dockerfiles, true)
}

// EvaluateObjects runs only the per-object rules (workload and object
// checks) over the inventory's objects: for scans that evaluate a large
// input in batches and run the inventory-wide rules once.
func (s *Set) EvaluateObjects(ctx context.Context, c *Context) ([]finding.Finding, error) {
	return s.evaluate(ctx, c, nil, false)
}

// EvaluateGlobal runs only the inventory-wide and Dockerfile rules: the
// other half of EvaluateObjects, run once after every batch, when the
// inventory knows every workload's pod template (Inventory.Templates).
func (s *Set) EvaluateGlobal(ctx context.Context, c *Context, dockerfiles []*dockerfile.File) ([]finding.Finding, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.evaluateGlobal(c, dockerfiles, nil), nil
}

func (s *Set) evaluate(ctx context.Context, c *Context, dockerfiles []*dockerfile.File, global bool) ([]finding.Finding, error) {
	var workloadRules, objectRules []*Rule
	for _, r := range s.rules {
		switch {
		case r.Workload != nil:
			workloadRules = append(workloadRules, r)
		case r.Object != nil:
			objectRules = append(objectRules, r)
		}
	}
	objects := c.Inventory.Objects
	workers := runtime.GOMAXPROCS(0)
	results := make([][]finding.Finding, workers)
	var wg sync.WaitGroup
	next := make(chan int, 256)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out []finding.Finding
			for i := range next {
				o := objects[i]
				if o.Workload != nil {
					for _, r := range workloadRules {
						for _, v := range r.Workload(c, o.Workload) {
							out = append(out, newFinding(r, o, v))
						}
					}
				}
				for _, r := range objectRules {
					for _, v := range r.Object(c, o) {
						out = append(out, newFinding(r, o, v))
					}
				}
			}
			results[w] = out
		}()
	}
	var err error
feed:
	for i := range objects {
		select {
		case next <- i:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	total := 0
	for _, r := range results {
		total += len(r)
	}
	all := make([]finding.Finding, 0, total)
	for _, r := range results {
		all = append(all, r...)
	}
	if !global {
		return all, nil
	}
	return s.evaluateGlobal(c, dockerfiles, all), nil
}

// evaluateGlobal appends the findings of the inventory-wide and Dockerfile
// rules to all.
func (s *Set) evaluateGlobal(c *Context, dockerfiles []*dockerfile.File, all []finding.Finding) []finding.Finding {
	for _, r := range s.rules {
		if r.Inventory == nil {
			continue
		}
		for _, v := range r.Inventory(c) {
			all = append(all, newInventoryFinding(r, v))
		}
	}
	for _, f := range dockerfiles {
		for _, r := range s.rules {
			if r.Dockerfile == nil {
				continue
			}
			for _, v := range r.Dockerfile(c, f) {
				all = append(all, newDockerfileFinding(r, f, v))
			}
		}
	}
	return all
}

func baseFinding(r *Rule, v Violation) finding.Finding {
	f := finding.Finding{
		RuleID:      r.ID,
		Severity:    r.Severity,
		Title:       r.Title,
		Message:     v.Message,
		Field:       v.Field,
		Container:   v.Container,
		Remediation: r.Remediation,
	}
	if v.Severity != 0 {
		f.Severity = v.Severity
	}
	if v.Suppression != nil {
		f.Suppressed, f.Suppression = true, v.Suppression
	}
	return f
}

func newFinding(r *Rule, o *workload.Object, v Violation) finding.Finding {
	if v.Object != nil {
		o = v.Object
	}
	f := baseFinding(r, v)
	f.Object = o.Ref
	f.File, f.Line = locate(o.Source, v.Field, v.Line)
	return f
}

func newInventoryFinding(r *Rule, v Violation) finding.Finding {
	switch {
	case v.Object != nil:
		return newFinding(r, v.Object, v)
	case v.Namespace != nil:
		f := baseFinding(r, v)
		f.Object = finding.ObjectRef{APIVersion: "v1", Kind: "Namespace", Name: v.Namespace.Name}
		f.File, f.Line = locate(v.Namespace.Source, v.Field, v.Line)
		return f
	}
	return baseFinding(r, v)
}

func newDockerfileFinding(r *Rule, df *dockerfile.File, v Violation) finding.Finding {
	f := baseFinding(r, v)
	f.Object = finding.ObjectRef{Kind: "Dockerfile", Name: df.Path}
	f.File, f.Line = df.Path, v.Line
	return f
}

// locate finds the file and line of a field of an object read from a file.
func locate(src *manifest.Object, field string, line int) (string, int) {
	if src == nil {
		return "", 0
	}
	if line > 0 {
		return src.File, line
	}
	if field != "" {
		return src.File, src.LineOf(field)
	}
	return src.File, src.Line
}
