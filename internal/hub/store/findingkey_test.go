package store_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestFindingKeyStable: the key of a finding is stored (findings.fkey)
// and compared with the keys of later reports, so it must stay what it
// was defined as — the first 16 bytes of the SHA-256 of rule, container,
// field and message, each followed by a NUL, in hex — whatever the
// implementation (an implementation that changed it would make every
// stored finding look new once, and lose its first-seen time).
func TestFindingKeyStable(t *testing.T) {
	for _, f := range []finding.Finding{
		{},
		{RuleID: "pss/privileged", Message: "container app is privileged"},
		{RuleID: "r", Container: "c", Field: "spec.containers[0].securityContext", Message: "m"},
		{RuleID: "a\x00b", Message: "ü ✓ \u2028"},                    // a NUL inside a field
		{RuleID: "r", Message: strings.Repeat("long message ", 100)}, // past the stack buffer
	} {
		h := sha256.New()
		for _, p := range []string{f.RuleID, f.Container, f.Field, f.Message} {
			h.Write([]byte(p))
			h.Write([]byte{0})
		}
		want := hex.EncodeToString(h.Sum(nil)[:16])
		if got := store.FindingKey(&f); got != want {
			t.Errorf("FindingKey(%q, %q, %q, %.20q) = %s, want %s", f.RuleID, f.Container, f.Field, f.Message, got, want)
		}
	}
}
