package rule

import (
	"context"
	"runtime"
	"slices"
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

// AppendObjects is EvaluateObjects appending the findings to dst, for a
// scan that collects the findings of many batches in one slice: each
// finding is copied once, from the worker that found it into dst, with
// no slice of the batch's findings in between. When they do not fit,
// dst grows through grow(dst, n), which must return a slice with dst's
// findings and room for n more; nil grows as append would.
func (s *Set) AppendObjects(ctx context.Context, c *Context, dst []finding.Finding, grow func(dst []finding.Finding, n int) []finding.Finding) ([]finding.Finding, error) {
	parts, err := s.evaluateObjects(ctx, c)
	if err != nil {
		return dst, err
	}
	if n := parts.len(); len(dst)+n > cap(dst) {
		if grow == nil {
			grow = slices.Grow[[]finding.Finding]
		}
		dst = grow(dst, n)
	}
	return s.moveParts(dst, parts), nil
}

// moveParts appends the chunks' findings to dst, which has room for
// them, in order, and releases the chunks: on every core, as a batch's
// copy and clearing of its findings (~6,000 of ~200 bytes for 512
// workloads) ran on one core between batches.
func (s *Set) moveParts(dst []finding.Finding, c findingChunks) []finding.Finding {
	base := len(dst)
	dst = dst[:base+c.len()]
	offsets := make([]int, len(c.parts))
	off := base
	for i, part := range c.parts {
		offsets[i] = off
		off += len(part)
	}
	workers := min(runtime.GOMAXPROCS(0), len(c.parts))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(c.parts); i += workers {
				copy(dst[offsets[i]:], c.parts[i])
				s.release(findingChunks{parts: c.parts[i : i+1]})
			}
		})
	}
	wg.Wait()
	return dst
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
	parts, err := s.evaluateObjects(ctx, c)
	if err != nil {
		return nil, err
	}
	all := make([]finding.Finding, 0, parts.len())
	for _, p := range parts.parts {
		all = append(all, p...)
	}
	s.release(parts)
	if !global {
		return all, nil
	}
	return s.evaluateGlobal(c, dockerfiles, all), nil
}

// evaluateObjects runs the per-object rules on every core and returns the
// workers' findings in chunks, which the caller copies out and releases.
func (s *Set) evaluateObjects(ctx context.Context, c *Context) (findingChunks, error) {
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
	results := make([]findingChunks, workers)
	var wg sync.WaitGroup
	next := make(chan int, 256)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := findingChunks{pool: &s.chunks}
			seen := stringSet{}
			for i := range next {
				o := objects[i]
				if o.Workload != nil {
					for _, r := range workloadRules {
						for _, v := range r.Workload(c, o.Workload) {
							out.add(newFinding(r, o, v, seen))
						}
					}
				}
				for _, r := range objectRules {
					for _, v := range r.Object(c, o) {
						out.add(newFinding(r, o, v, seen))
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
	var all findingChunks
	for _, r := range results {
		all.parts = append(all.parts, r.parts...)
	}
	if err != nil {
		s.release(all)
		return findingChunks{}, err
	}
	return all, nil
}

// findingChunks collects one worker's findings in chunks of a fixed size:
// a growing slice copied every finding several times over (a third of a
// large scan's allocations), chunks never move one. Chunks come from the
// set's pool and go back to it once their findings are copied out, so a
// scan in batches reuses one batch's worth of chunks instead of
// allocating its every finding twice.
type findingChunks struct {
	parts [][]finding.Finding
	pool  *sync.Pool
}

const findingChunk = 256

func (c *findingChunks) add(f finding.Finding) {
	if n := len(c.parts); n == 0 || len(c.parts[n-1]) == findingChunk {
		var chunk []finding.Finding
		if p, ok := c.pool.Get().(*[]finding.Finding); ok {
			chunk = *p
		} else {
			chunk = make([]finding.Finding, 0, findingChunk)
		}
		c.parts = append(c.parts, chunk)
	}
	last := &c.parts[len(c.parts)-1]
	*last = append(*last, f)
}

func (c findingChunks) len() int {
	n := 0
	for _, part := range c.parts {
		n += len(part)
	}
	return n
}

// release returns the chunks to the pool, emptied: a pooled chunk must
// not keep the strings of findings already reported alive.
func (s *Set) release(c findingChunks) {
	for _, part := range c.parts {
		clear(part)
		part = part[:0]
		s.chunks.Put(&part)
	}
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

// baseFinding builds the finding of a violation. Its message and field
// path are canonicalised in seen when given: a large scan holds over a
// hundred thousand findings until the report is written, and most repeat
// a few thousand messages and a few dozen paths, which rules build afresh
// for each workload.
func baseFinding(r *Rule, v Violation, seen stringSet) finding.Finding {
	f := finding.Finding{
		RuleID:      r.ID,
		Severity:    r.Severity,
		Title:       r.Title,
		Message:     seen.intern(v.Message),
		Field:       seen.intern(v.Field),
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

// stringSet canonicalises the messages and field paths of one worker's
// findings (a map without locks: unique.Make cost more CPU than the
// copies it saves).
type stringSet map[string]string

func (m stringSet) intern(s string) string {
	if s == "" || m == nil {
		return s
	}
	if c, ok := m[s]; ok {
		return c
	}
	m[s] = s
	return s
}

func newFinding(r *Rule, o *workload.Object, v Violation, seen stringSet) finding.Finding {
	if v.Object != nil {
		o = v.Object
	}
	f := baseFinding(r, v, seen)
	f.Object = o.Ref
	f.File, f.Line = locate(o.Source, v.Field, v.Line)
	return f
}

func newInventoryFinding(r *Rule, v Violation) finding.Finding {
	switch {
	case v.Object != nil:
		return newFinding(r, v.Object, v, nil)
	case v.Namespace != nil:
		f := baseFinding(r, v, nil)
		f.Object = finding.ObjectRef{APIVersion: "v1", Kind: "Namespace", Name: v.Namespace.Name}
		f.File, f.Line = locate(v.Namespace.Source, v.Field, v.Line)
		return f
	}
	return baseFinding(r, v, nil)
}

func newDockerfileFinding(r *Rule, df *dockerfile.File, v Violation) finding.Finding {
	f := baseFinding(r, v, nil)
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
