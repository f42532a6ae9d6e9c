package finding

import (
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// sortReference is Sort as it was before it ordered indexes: the order
// (and the stability) the faster Sort must keep.
func sortReference(findings []Finding) {
	sort.SliceStable(findings, func(i, j int) bool {
		return compareFindings(&findings[i], &findings[j]) < 0
	})
}

func TestSortMatchesStableSort(t *testing.T) {
	pick := func(r *rand.Rand, s ...string) string { return s[r.IntN(len(s))] }
	for _, tc := range []struct {
		name string
		n    int
		seed uint64
	}{
		{"empty", 0, 1}, {"one", 1, 2}, {"two", 2, 3}, {"small", 17, 4}, {"many equal keys", 5000, 5}, {"large", 40000, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(tc.seed, 0))
			in := make([]Finding, tc.n)
			for i := range in {
				in[i] = Finding{
					File: pick(r, "a.yaml", "b.yaml", ""), Line: r.IntN(4),
					Object:   ObjectRef{Kind: pick(r, "Deployment", "Pod"), Namespace: pick(r, "", "ns"), Name: pick(r, "x", "y")},
					Severity: Severity(r.IntN(5)), RuleID: pick(r, "r1", "r2"), Container: pick(r, "", "c"),
					Message: pick(r, "m", "n"),
					// Remediation tells apart findings that compare
					// equal, so the test sees whether their order moved.
					Remediation: string(rune('A' + i%26)), Field: string(rune('a' + i/26%26)),
				}
			}
			want := slices.Clone(in)
			sortReference(want)
			got := slices.Clone(in)
			Sort(got)
			if !slices.Equal(got, want) {
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("finding %d: got %+v, want %+v", i, got[i], want[i])
					}
				}
			}
		})
	}
}

func TestPermute(t *testing.T) {
	for _, tc := range []struct {
		in    []string
		order []int32
		want  []string
	}{
		{[]string{"a"}, []int32{0}, []string{"a"}},
		{[]string{"a", "b", "c"}, []int32{2, 0, 1}, []string{"c", "a", "b"}},
		{[]string{"a", "b", "c", "d"}, []int32{1, 0, 3, 2}, []string{"b", "a", "d", "c"}},
		{[]string{"a", "b", "c", "d", "e"}, []int32{4, 3, 2, 1, 0}, []string{"e", "d", "c", "b", "a"}},
	} {
		got := slices.Clone(tc.in)
		permute(got, slices.Clone(tc.order))
		if !slices.Equal(got, tc.want) {
			t.Errorf("permute(%v, %v) = %v, want %v", tc.in, tc.order, got, tc.want)
		}
	}
}

func TestSummarizeCountsBySeverity(t *testing.T) {
	s := Summarize([]Finding{{Severity: SeverityHigh}, {Severity: SeverityHigh}, {Severity: SeverityUnknown}, {Severity: 9}, {Severity: SeverityLow, Suppressed: true}})
	want := map[string]int{"CRITICAL": 0, "HIGH": 2, "MEDIUM": 0, "LOW": 0, "UNKNOWN": 2}
	if s.Total != 4 || s.Suppressed != 1 || !maps.Equal(s.BySeverity, want) {
		t.Fatalf("Summarize = %+v, want total 4, suppressed 1, %v", s, want)
	}
}
