package rule

import (
	"strings"
	"testing"
)

// FuzzParseExemptAnnotation: any annotation value parses without panic,
// and every entry it accepts has a reason and only non-empty rule
// selectors, none spanning entries.
func FuzzParseExemptAnnotation(f *testing.F) {
	for _, seed := range []string{
		"hardening/resources: sized by the VPA",
		"pss/*,hardening/latest-tag: legacy; hardening/cpu-limits: no CPU limits\nx: y",
		"no reason", ": no rule", ",,: empty", "a:", "a: b: c", "\n;\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		entries, errs := ParseExemptAnnotation(value)
		for _, e := range entries {
			if strings.TrimSpace(e.reason) == "" || len(e.rules) == 0 {
				t.Fatalf("entry without reason or rules: %+v", e)
			}
			for _, r := range e.rules {
				if r == "" || strings.ContainsAny(r, ";\n,") || r != strings.TrimSpace(r) {
					t.Fatalf("bad rule selector %q in %+v", r, e)
				}
			}
		}
		if len(entries)+len(errs) > strings.Count(value, ";")+strings.Count(value, "\n")+1 {
			t.Fatalf("%d entries and %d errors from %d separators", len(entries), len(errs), strings.Count(value, ";")+strings.Count(value, "\n"))
		}
	})
}
