package finding

import (
	"cmp"
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

// sortIndexes splits the sort into runs sorted concurrently and merged;
// every split must give the order of one sort.
func TestSortIndexesInRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 0))
	for _, n := range []int{2, 3, 10, 1000, 4097} {
		keys := make([]int, n)
		for i := range keys {
			keys[i] = r.IntN(n/3 + 1) // many ties, broken by index
		}
		compare := func(i, j int32) int {
			if c := cmp.Compare(keys[i], keys[j]); c != 0 {
				return c
			}
			return cmp.Compare(i, j)
		}
		want := make([]int32, n)
		for i := range want {
			want[i] = int32(i)
		}
		slices.SortFunc(want, compare)
		for _, parts := range []int{1, 2, 3, 4, 5, 7, 8} {
			idx := make([]int32, n)
			for i := range idx {
				idx[i] = int32(i)
			}
			if got := sortIndexes(idx, min(parts, n), compare); !slices.Equal(got, want) {
				t.Errorf("%d indexes in %d runs: got %v, want %v", n, parts, got[:min(n, 20)], want[:min(n, 20)])
			}
		}
	}
}
