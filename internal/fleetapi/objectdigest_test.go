package fleetapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
)

// TestSetDigestAsReceived: the digest an agent sets is the one computed
// from its findings' bytes as the hub receives them in a report (each
// finding's JSON kept by DecodeReport): SHA-256 over the sorted hex
// SHA-256 prefixes, recomputed here from the definition; the order of
// the findings does not matter, their content does; an object without
// findings gets none.
func TestSetDigestAsReceived(t *testing.T) {
	o := ObjectFindings{Object: agentFinding(1).Object, Findings: []finding.Finding{agentFinding(1), agentFinding(2), agentFinding(3)}}
	if err := SetDigest(&o); err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(&Envelope{Seq: 1, Kind: KindFindings, Findings: &FindingsDelta{Full: true, Objects: []ObjectFindings{o}}})
	if err != nil {
		t.Fatal(err)
	}
	var env Envelope
	if err := DecodeReport(bytes.NewReader(body), &env); err != nil {
		t.Fatal(err)
	}
	got := env.Findings.Objects[0]
	var hs []string
	for _, raw := range got.Raw {
		sum := sha256.Sum256(raw)
		hs = append(hs, hex.EncodeToString(sum[:16]))
	}
	sort.Strings(hs)
	sum := sha256.Sum256([]byte(strings.Join(hs, "")))
	if want := hex.EncodeToString(sum[:16]); got.Digest != want || o.Digest != want {
		t.Fatalf("digest sent %q, received %q, of the bytes received %q", o.Digest, got.Digest, want)
	}
	r := o
	r.Findings = []finding.Finding{o.Findings[2], o.Findings[0], o.Findings[1]}
	if err := SetDigest(&r); err != nil || r.Digest != o.Digest {
		t.Fatalf("reordered: %q, %v; want %q", r.Digest, err, o.Digest)
	}
	r.Findings = append([]finding.Finding(nil), o.Findings...)
	r.Findings[1].Message += "!"
	if err := SetDigest(&r); err != nil || r.Digest == o.Digest {
		t.Fatalf("changed finding: digest %q, %v", r.Digest, err)
	}
	r.Findings = nil
	if err := SetDigest(&r); err != nil || r.Digest != "" {
		t.Fatalf("no findings: digest %q, %v", r.Digest, err)
	}
	for d, ok := range map[string]bool{o.Digest: true, "": false, strings.ToUpper(o.Digest): false, o.Digest + "0": false, "0123456789abcdef0123456789abcdeg": false} {
		if IsObjectDigest(d) != ok {
			t.Errorf("IsObjectDigest(%q) = %v", d, !ok)
		}
	}
}
