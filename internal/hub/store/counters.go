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

// applyCounterDiff adds after − before to the cluster's counters.
func (a *applier) applyCounterDiff(ctx context.Context, before, after openFindings) error {
	sevs := map[int]bool{}
	for s := range before.bySeverity {
		sevs[s] = true
	}
	for s := range after.bySeverity {
		sevs[s] = true
	}
	// Every counter the report changes is written by one statement per
	// table (a rollout changes about twenty rules' counts: one round trip
	// each made the counters most of a delta's statements).
	var sevRows [][]any
	for s := range sevs {
		if d := after.bySeverity[s] - before.bySeverity[s]; d != 0 {
			sevRows = append(sevRows, []any{a.cluster, s, d})
		}
	}
	if err := a.insertRows(ctx, `INSERT INTO cluster_severity_counts (cluster_id, severity, n) VALUES `,
		` ON CONFLICT (cluster_id, severity) DO UPDATE SET n = cluster_severity_counts.n + excluded.n`, 3, sevRows); err != nil {
		return fmt.Errorf("severity counters: %w", err)
	}
	rules := map[string]bool{}
	for r := range before.rules {
		rules[r] = true
	}
	for r := range after.rules {
		rules[r] = true
	}
	shrunk := false
	var ruleRows [][]any
	for r := range rules {
		var nb, na int
		title, sev := "", 0
		btitle, bsev := "", 0
		if b := before.rules[r]; b != nil {
			nb, btitle, bsev = len(b.objects), b.title, b.severity
		}
		if x := after.rules[r]; x != nil {
			na, title, sev = len(x.objects), x.title, x.severity
		}
		// Nothing to write when the report changes neither the count nor
		// the title and severity the scope already had (the common steady
		// state: an object's findings change within the same rules).
		if na == nb && (title == "" || (title == btitle && sev <= bsev)) {
			continue
		}
		shrunk = shrunk || na < nb
		ruleRows = append(ruleRows, []any{a.cluster, r, title, sev, na - nb})
	}
	sort.Slice(ruleRows, func(i, j int) bool { return ruleRows[i][1].(string) < ruleRows[j][1].(string) }) // one lock order
	// The title and severity follow the latest report of the rule; the
	// severity never goes down while the rule keeps failing.
	if err := a.insertRows(ctx, `INSERT INTO cluster_rule_counts (cluster_id, rule_id, title, severity, objects) VALUES `,
		` ON CONFLICT (cluster_id, rule_id) DO UPDATE SET objects = cluster_rule_counts.objects + excluded.objects,
				title = CASE WHEN excluded.title <> '' THEN excluded.title ELSE cluster_rule_counts.title END,
				severity = CASE WHEN excluded.severity > cluster_rule_counts.severity THEN excluded.severity ELSE cluster_rule_counts.severity END`,
		5, ruleRows); err != nil {
		return fmt.Errorf("rule counters: %w", err)
	}
	if !shrunk {
		return nil
	}
	if _, err := a.s.exec(ctx, a.tx, `DELETE FROM cluster_rule_counts WHERE cluster_id = ? AND objects <= 0`, a.cluster); err != nil {
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
