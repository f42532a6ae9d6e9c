package store_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// ruleFleet reports findings of rules r1–r4 in four clusters, some
// suppressed (r3's only suppressed in cluster c; cluster d has r1's
// only), so that reads of one rule across the fleet are checked against
// the fleet's findings filtered in Go.
func ruleFleet(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	for ci, name := range []string{"a", "b", "c", "d"} {
		enrolled(t, s, name, "ag-"+name)
		var objs []fleetapi.ObjectFindings
		for p := range 6 {
			o := objFindings("Pod", "ns", fmt.Sprintf("web-%d", p), "r1", "r2", "r3")
			for i := range o.Findings {
				f := &o.Findings[i]
				f.Suppressed = (p+ci+i)%4 == 0 || f.RuleID == "r3" && name == "c"
				f.Severity = finding.Severity(1 + (p+i)%4)
			}
			if name == "b" && p%2 == 0 || name == "d" {
				o.Findings = o.Findings[:1] // r1 only
			}
			objs = append(objs, o)
		}
		if _, err := s.Ingest(ctx, "ag-"+name, findingsEnv(1, true, objs...), t0); err != nil {
			t.Fatal(err)
		}
		// A delta that removes r2 from a pod and changes another.
		delta := findingsEnv(2, false, objFindings("Pod", "ns", "web-1", "r1", "r3"), objFindings("Pod", "ns", "web-5", "r4"))
		if name == "d" {
			delta = findingsEnv(2, false, objFindings("Pod", "ns", "web-1", "r1"))
		}
		if _, err := s.Ingest(ctx, "ag-"+name, delta, t0); err != nil {
			t.Fatal(err)
		}
	}
}

// checkRuleQueries compares every fleet-wide read by rule with the same
// read filtered here from all the fleet's findings.
func checkRuleQueries(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	for _, sup := range []bool{false, true} {
		all, err := s.ListFindings(ctx, store.FindingQuery{IncludeSuppressed: sup, Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		for _, rule := range []string{"r1", "r2", "r3", "r4", "r9"} {
			for _, minSev := range []finding.Severity{0, finding.Severity(3)} {
				var want []store.Finding
				for _, f := range all {
					if f.RuleID == rule && f.Severity >= minSev {
						want = append(want, f)
					}
				}
				q := store.FindingQuery{RuleID: rule, MinSeverity: minSev, IncludeSuppressed: sup, Limit: 10000}
				got, err := s.ListFindings(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("rule %s, severity ≥ %d, suppressed %v: %d findings, want %d", rule, minSev, sup, len(got), len(want))
				}
				n, err := s.CountFindings(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if n != len(want) {
					t.Errorf("rule %s, severity ≥ %d, suppressed %v: counted %d, want %d", rule, minSev, sup, n, len(want))
				}
				if rule == "r1" && minSev == 0 && len(want) == 0 {
					t.Fatal("no findings of r1: the fleet is not what the test expects")
				}
			}
		}
	}
}

func TestFindingsOfOneRuleAcrossTheFleet(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ruleFleet(t, s)
		checkRuleQueries(t, s)
	})
}
