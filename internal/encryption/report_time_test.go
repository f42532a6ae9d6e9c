package encryption

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/report"
)

// TestReportTimeAndConsistency: a report made with ReviewOptions.Now says
// when in a note, and reads back with that time; a report whose notes say
// every Secret is encrypted while a finding names a plaintext Secret is
// refused (an edited report), while a plaintext ConfigMap does not count.
func TestReportTimeAndConsistency(t *testing.T) {
	at := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	a := Assessment{Inventory: &Inventory{Revision: 7, Resources: []ResourceInventory{{Resource: "secrets", Counts: map[string]int{"aescbc:k": 1},
		Objects: []Object{{Key: "/registry/secrets/ns/x", Namespace: "ns", Name: "x", Storage: Storage{Encrypted: true, Provider: ProviderAESCBC, Version: "v1", Key: "k"}}}}}}}
	var buf bytes.Buffer
	if err := report.Write(&buf, report.FormatJSON, a.Report(ReviewOptions{Now: at}), report.Options{}); err != nil {
		t.Fatal(err)
	}
	got, err := ReadReport(&buf)
	if err != nil || got.Status != StatusVerified || !got.CheckedAt.Equal(at) {
		t.Fatalf("ReadReport = %+v, %v; want verified, checked at %s", got, err, at)
	}

	rep := a.Report(ReviewOptions{Now: at})
	for _, tc := range []struct {
		kind string
		ok   bool
	}{{"ConfigMap", true}, {"Secret", false}} {
		edited := *rep
		edited.Findings = append(append([]finding.Finding(nil), rep.Findings...), finding.Finding{RuleID: RulePlaintext, Message: "stored as plaintext",
			Object: finding.ObjectRef{Kind: tc.kind, Namespace: "ns", Name: "y"}})
		_, err := FromReport(&edited)
		if (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), "contradict")) {
			t.Errorf("verified notes with a plaintext %s finding: %v", tc.kind, err)
		}
	}
}
