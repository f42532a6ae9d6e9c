package store

import (
	"math/rand/v2"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// TestPrepareFindingsOneRowPerKey: prepareFindings keeps the first of the
// findings an object was sent with under the same FindingKey — found by
// an identity hash, their keys computed only then — exactly as keying
// every finding does: random reports from a small alphabet, so that
// findings repeat, objects are named twice, and fields differ only by
// where a NUL falls (the same FindingKey input).
func TestPrepareFindingsOneRowPerKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 17))
	words := []string{"", "a", "a\x00", "\x00a", "b"}
	pick := func() string { return words[rng.IntN(len(words))] }
	for round := range 2000 {
		d := &fleetapi.FindingsDelta{Full: round%2 == 0}
		for range 1 + rng.IntN(4) {
			ref := finding.ObjectRef{Kind: "Pod", Name: []string{"p", "q"}[rng.IntN(2)]}
			o := fleetapi.ObjectFindings{Object: ref}
			for range rng.IntN(6) {
				o.Findings = append(o.Findings, finding.Finding{RuleID: pick(), Container: pick(), Field: pick(), Message: pick(), Title: pick(), Object: ref})
			}
			d.Objects = append(d.Objects, o)
		}
		// The reference: every finding keyed, the first of a key kept.
		var want []*finding.Finding
		seen := map[[2]string]bool{}
		for _, o := range d.Objects {
			for i := range o.Findings {
				k := [2]string{ObjectKey(o.Object), FindingKey(&o.Findings[i])}
				if !seen[k] {
					seen[k] = true
					want = append(want, &o.Findings[i])
				}
			}
		}
		p, err := prepareFindings(d)
		if err != nil {
			t.Fatal(err)
		}
		p.keyObjects(nil)
		if len(p.order) != len(want) || len(p.wanted) != len(want) {
			t.Fatalf("round %d: %d findings kept (%d keyed), want %d", round, len(p.order), len(p.wanted), len(want))
		}
		for i, w := range p.order {
			if w.f != want[i] || w.key() != FindingKey(want[i]) || p.wanted[[2]string{w.okey, w.key()}] != w {
				t.Fatalf("round %d: finding %d is %+v, want %+v", round, i, *w.f, *want[i])
			}
		}
	}
}
