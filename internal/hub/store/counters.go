package store

import (
	"context"
	"fmt"
	"sort"
)

// Findings counters. The fleet overview (open findings by cluster and
// severity) and compliance (failing clusters and objects by rule) read
// small tables maintained inside each findings report's transaction
// instead of aggregating the findings table on every call:
//
//   - cluster_severity_counts(cluster, severity) = open findings;
//   - cluster_rule_counts(cluster, rule) = objects with an open finding of
//     the rule (rows with zero objects are deleted, so a row means the
//     cluster fails the rule).
//
// A delta naming few objects updates the counters by the difference
// between those objects' open findings before and after it is applied; a
// full snapshot, or a delta naming many objects, recomputes the cluster's
// counters from its rows (one cluster, never the whole table).

// recountAbove is the number of objects above which a delta recomputes
// the cluster's counters instead of diffing its objects.
const recountAbove = 512

// openFindings is the open findings of some objects of one cluster,
// reduced to what the counters need.
type openFindings struct {
	bySeverity map[int]int
	// rules maps a rule to the objects failing it.
	rules map[string]*ruleObjects
}

type ruleObjects struct {
	title    string
	severity int
	objects  map[string]bool
}

// counterDiff is what a findings report does to its cluster's counters:
// deltas to add (a delta's objects before and after it), or, when
// absolute, the cluster's whole counters (a full snapshot: its findings
// are all the cluster's rows afterwards), which replace the stored ones.
type counterDiff struct {
	absolute bool
	sev      []sevCount
	rules    []ruleCount // sorted by rule: one lock order
}

type sevCount struct{ sev, n int }

type ruleCount struct {
	rule, title string
	sev, n      int
}

// diffCounters is the counters' change by a delta whose objects had the
// stored rows and have the wanted ones after it.
func diffCounters(stored []storedFinding, wanted []*wantedFinding) *counterDiff {
	before := openFindings{bySeverity: map[int]int{}, rules: map[string]*ruleObjects{}}
	for i := range stored {
		if r := &stored[i]; !r.suppressed {
			before.add(r.okey, r.rule, r.title, r.sev)
		}
	}
	after := openFindingsOf(wanted)
	d := &counterDiff{}
	for s, n := range before.bySeverity {
		if n != after.bySeverity[s] {
			d.sev = append(d.sev, sevCount{s, after.bySeverity[s] - n})
		}
	}
	for s, n := range after.bySeverity {
		if _, ok := before.bySeverity[s]; !ok && n != 0 {
			d.sev = append(d.sev, sevCount{s, n})
		}
	}
	for r, b := range before.rules {
		x := after.rules[r]
		if x == nil {
			d.rules = append(d.rules, ruleCount{rule: r, n: -len(b.objects)})
			continue
		}
		// Nothing to write when the report changes neither the count nor
		// the title and severity the scope already had (the common steady
		// state: an object's findings change within the same rules).
		if len(x.objects) == len(b.objects) && (x.title == "" || (x.title == b.title && x.severity <= b.severity)) {
			continue
		}
		d.rules = append(d.rules, ruleCount{rule: r, title: x.title, sev: x.severity, n: len(x.objects) - len(b.objects)})
	}
	for r, x := range after.rules {
		if before.rules[r] == nil {
			d.rules = append(d.rules, ruleCount{rule: r, title: x.title, sev: x.severity, n: len(x.objects)})
		}
	}
	sort.Slice(d.rules, func(i, j int) bool { return d.rules[i].rule < d.rules[j].rule })
	return d
}

// fullCounters is the counters of a cluster whose findings are wanted:
// what recount computes from the rows, computed from the report instead
// (no aggregate over the cluster's rows after a snapshot).
//
// The findings of the objects left lazy (preparedObject.lazy: unchanged
// by the agent's digest, so their rows are those findings) are counted
// as received: an agent whose digest is right sends no finding twice,
// since the hub's digest is of its findings with those sent twice
// merged.
//
// It counts object by object (every wanted finding is in its object's
// findings, p.order being their union), so a rule's objects are counted
// by remembering the last object that failed it instead of keeping a
// set of them: the sets were most of its time on a 500-pod snapshot,
// 7,000 findings (issue #17).
func fullCounters(p *preparedFindings) *counterDiff {
	bySeverity := map[int]int{}
	type ruleCounter struct {
		title    string
		severity int
		objects  int
		last     *preparedObject
	}
	rules := map[string]*ruleCounter{}
	add := func(po *preparedObject, rule, title string, sev int) {
		bySeverity[sev]++
		r := rules[rule]
		if r == nil {
			r = &ruleCounter{}
			rules[rule] = r
		}
		if r.last != po {
			r.last = po
			r.objects++
		}
		r.severity = max(r.severity, sev)
		if title > r.title {
			r.title = title
		}
	}
	for _, po := range p.objects {
		if po.lazy != nil {
			for i := range po.lazy.Findings {
				if f := &po.lazy.Findings[i]; !f.Suppressed {
					add(po, f.RuleID, f.Title, int(f.Severity))
				}
			}
			continue
		}
		for _, w := range po.findings {
			if !w.f.Suppressed {
				add(po, w.f.RuleID, w.f.Title, int(w.f.Severity))
			}
		}
	}
	d := &counterDiff{absolute: true, sev: make([]sevCount, 0, len(bySeverity)), rules: make([]ruleCount, 0, len(rules))}
	for s, n := range bySeverity {
		d.sev = append(d.sev, sevCount{s, n})
	}
	for r, x := range rules {
		d.rules = append(d.rules, ruleCount{rule: r, title: x.title, sev: x.severity, n: x.objects})
	}
	sort.Slice(d.sev, func(i, j int) bool { return d.sev[i].sev < d.sev[j].sev })
	sort.Slice(d.rules, func(i, j int) bool { return d.rules[i].rule < d.rules[j].rule })
	return d
}

// openFindingsOf counts the open findings of a report.
func openFindingsOf(wanted []*wantedFinding) openFindings {
	o := openFindings{bySeverity: map[int]int{}, rules: map[string]*ruleObjects{}}
	for _, w := range wanted {
		if !w.f.Suppressed {
			o.add(w.okey, w.f.RuleID, w.f.Title, int(w.f.Severity))
		}
	}
	return o
}

// The counter statements of applyCounterDiff. The title and severity
// follow the latest report of the rule; the severity never goes down while
// the rule keeps failing.
const (
	sevCountsHead  = `INSERT INTO cluster_severity_counts (cluster_id, severity, n) VALUES `
	sevCountsTail  = ` ON CONFLICT (cluster_id, severity) DO UPDATE SET n = cluster_severity_counts.n + excluded.n`
	ruleCountsHead = `INSERT INTO cluster_rule_counts (cluster_id, rule_id, title, severity, objects) VALUES `
	ruleCountsTail = ` ON CONFLICT (cluster_id, rule_id) DO UPDATE SET objects = cluster_rule_counts.objects + excluded.objects,
				title = CASE WHEN excluded.title <> '' THEN excluded.title ELSE cluster_rule_counts.title END,
				severity = CASE WHEN excluded.severity > cluster_rule_counts.severity THEN excluded.severity ELSE cluster_rule_counts.severity END`
	ruleCountsCleanupSQL = `DELETE FROM cluster_rule_counts WHERE cluster_id = ? AND objects <= 0`
	sevCountsClearSQL    = `DELETE FROM cluster_severity_counts WHERE cluster_id = ?`
	ruleCountsClearSQL   = `DELETE FROM cluster_rule_counts WHERE cluster_id = ?`
)

// applyCounterDiff writes d with a statement per table (a rollout
// changes about twenty rules' counts: one round trip each made the
// counters most of a delta's statements); PostgreSQL does it inside
// writeFindings' statement instead.
func (a *applier) applyCounterDiff(ctx context.Context, d *counterDiff) error {
	if d.absolute {
		// Cleared, then written with the upserts (which then insert).
		for _, q := range []string{sevCountsClearSQL, ruleCountsClearSQL} {
			if _, err := a.s.exec(ctx, a.tx, q, a.cluster); err != nil {
				return fmt.Errorf("counters: %w", err)
			}
		}
	}
	sevRows := make([][]any, len(d.sev))
	for i, c := range d.sev {
		sevRows[i] = []any{a.cluster, c.sev, c.n}
	}
	if err := a.insertRows(ctx, sevCountsHead, sevCountsTail, 3, sevRows); err != nil {
		return fmt.Errorf("severity counters: %w", err)
	}
	shrunk := false
	ruleRows := make([][]any, len(d.rules))
	for i, c := range d.rules {
		ruleRows[i] = []any{a.cluster, c.rule, c.title, c.sev, c.n}
		shrunk = shrunk || c.n < 0
	}
	if err := a.insertRows(ctx, ruleCountsHead, ruleCountsTail, 5, ruleRows); err != nil {
		return fmt.Errorf("rule counters: %w", err)
	}
	if !shrunk || d.absolute {
		return nil
	}
	if _, err := a.s.exec(ctx, a.tx, ruleCountsCleanupSQL, a.cluster); err != nil {
		return fmt.Errorf("rule counters: %w", err)
	}
	return nil
}

// recount recomputes the cluster's counters from its findings.
func (a *applier) recount(ctx context.Context) error {
	for _, q := range []string{
		`DELETE FROM cluster_severity_counts WHERE cluster_id = ?`,
		`INSERT INTO cluster_severity_counts (cluster_id, severity, n)
			SELECT cluster_id, severity, COUNT(*) FROM findings WHERE cluster_id = ? AND suppressed = 0 GROUP BY cluster_id, severity`,
		`DELETE FROM cluster_rule_counts WHERE cluster_id = ?`,
		`INSERT INTO cluster_rule_counts (cluster_id, rule_id, title, severity, objects)
			SELECT cluster_id, rule_id, MAX(title), MAX(severity), COUNT(DISTINCT object_key) FROM findings WHERE cluster_id = ? AND suppressed = 0 GROUP BY cluster_id, rule_id`,
	} {
		if _, err := a.s.exec(ctx, a.tx, q, a.cluster); err != nil {
			return fmt.Errorf("recount: %w", err)
		}
	}
	return nil
}
