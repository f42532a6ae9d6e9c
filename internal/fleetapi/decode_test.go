package fleetapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/palisade-sec/palisade/internal/finding"
)

// sampleFinding has every field set, in the shapes the agent sends.
func sampleFinding() finding.Finding {
	exp := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	return finding.Finding{
		RuleID: "PAL-W001", Severity: finding.SeverityHigh, Title: "Privileged <container>",
		Message: "container \"app\" runs privileged & more \u2028",
		Object:  finding.ObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: "ns", Name: "p"},
		Field:   "spec.containers[0].securityContext.privileged", Container: "app",
		Suppressed: true, Suppression: &finding.Suppression{Kind: "policy", Reason: "r", Expires: &exp},
		Remediation: "drop it",
		Vulnerability: &finding.Vulnerability{ID: "CVE-1", Aliases: []string{"GHSA-1"}, Installed: "1.0", Fixed: "1.1",
			CVSS: []finding.CVSS{{Source: "NVD", Score: 9.8}}},
	}
}

// TestFindingEncodingStable: the hub keeps and hashes a finding's bytes as
// the agent sent them, which needs the agent's encoding (encoding/json) to
// write the same finding as the same bytes every time, and DecodeReport to
// keep exactly those bytes. So for what the agent encodes, the stored data
// is what encoding the decoded finding again would give.
func TestFindingEncodingStable(t *testing.T) {
	f := sampleFinding()
	env := Envelope{Seq: 1, Time: time.Unix(1, 0).UTC(), Kind: KindFindings, Findings: &FindingsDelta{Objects: []ObjectFindings{
		{Object: f.Object, Findings: []finding.Finding{f, {RuleID: "PAL-W002", Severity: finding.SeverityLow, Object: f.Object}}},
	}}}
	first, err := json.Marshal(&env)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		again, _ := json.Marshal(&env)
		if !bytes.Equal(first, again) {
			t.Fatalf("encoding/json wrote the same envelope differently:\n%s\n%s", first, again)
		}
	}
	var got Envelope
	if err := DecodeReport(bytes.NewReader(first), &got); err != nil {
		t.Fatal(err)
	}
	o := got.Findings.Objects[0]
	if len(o.Raw) != 2 || len(o.Findings) != 2 {
		t.Fatalf("raw %d, findings %d: want 2 and 2", len(o.Raw), len(o.Findings))
	}
	for i := range o.Findings {
		want, _ := json.Marshal(&env.Findings.Objects[0].Findings[i])
		if !bytes.Equal(o.Raw[i], want) {
			t.Errorf("finding %d: raw %s, want the agent's bytes %s", i, o.Raw[i], want)
		}
		if !reflect.DeepEqual(o.Findings[i], env.Findings.Objects[0].Findings[i]) {
			t.Errorf("finding %d decoded as %+v, want %+v", i, o.Findings[i], env.Findings.Objects[0].Findings[i])
		}
	}
}

// TestDecodeReport: what the decoder accepts, keeps and refuses.
func TestDecodeReport(t *testing.T) {
	const head = `{"seq":1,"time":"2026-01-01T00:00:00Z","kind":"findings","findings":{"objects":[{"object":{"kind":"Pod","name":"p"},"findings":[`
	const tail = `]}]}}`
	tests := []struct {
		name    string
		body    string
		wantErr string
		wantRaw []string
	}{
		{name: "kept as sent, unknown members included", body: head + `{"ruleID":"R","severity":"high","title":"T","message":"m","object":{"kind":"Pod","name":"p"},"suppressed":false,"x-new": [1, {"a":2}]}` + tail,
			wantRaw: []string{`{"ruleID":"R","severity":"high","title":"T","message":"m","object":{"kind":"Pod","name":"p"},"suppressed":false,"x-new": [1, {"a":2}]}`}},
		{name: "findings before object", body: `{"seq":1,"kind":"findings","findings":{"objects":[{"findings":[{"ruleID":"R","severity":"low"}],"object":{"kind":"Pod","name":"p"}}]}}`,
			wantRaw: []string{`{"ruleID":"R","severity":"low"}`}},
		{name: "null findings", body: `{"seq":1,"kind":"findings","findings":{"objects":[{"object":{"kind":"Pod","name":"p"},"findings":null}]}}`},
		{name: "repeated name in a finding", body: head + `{"ruleID":"R","ruleID":"S","severity":"low"}` + tail, wantErr: "duplicate"},
		{name: "repeated name in an object", body: `{"seq":1,"kind":"findings","findings":{"objects":[{"object":{"kind":"Pod","name":"p"},"findings":[],"findings":[]}]}}`, wantErr: "duplicate"},
		{name: "unknown severity", body: head + `{"ruleID":"R","severity":"dire"}` + tail, wantErr: "severity"},
		{name: "findings not an array", body: `{"seq":1,"kind":"findings","findings":{"objects":[{"object":{"kind":"Pod","name":"p"},"findings":{}}]}}`, wantErr: "want an array"},
		{name: "object not an object", body: `{"seq":1,"kind":"findings","findings":{"objects":[[]]}}`, wantErr: "want an object"},
		{name: "invalid UTF-8", body: head + "{\"ruleID\":\"R\xff\",\"severity\":\"low\"}" + tail, wantErr: "UTF-8"},
		{name: "data after the value", body: head + tail + ` {}`, wantErr: "after"},
		{name: "truncated", body: head + `{"ruleID":"R"`, wantErr: "EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var env Envelope
			err := DecodeReport(strings.NewReader(tt.body), &env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var raw []string
			for _, o := range env.Findings.Objects {
				if len(o.Raw) != len(o.Findings) {
					t.Fatalf("%d raw findings for %d decoded", len(o.Raw), len(o.Findings))
				}
				for _, r := range o.Raw {
					raw = append(raw, string(r))
				}
			}
			if !reflect.DeepEqual(raw, tt.wantRaw) {
				t.Errorf("raw %q, want %q", raw, tt.wantRaw)
			}
		})
	}
}

// TestDecodeReportLimit: the item limit of the reader below the decoder
// reaches the caller as ErrTooLarge (the hub answers 413).
func TestDecodeReportLimit(t *testing.T) {
	body := `{"envelopes":[` + strings.Repeat(`{"seq":1},`, 50) + `{"seq":2}]}`
	var b ReportBatch
	err := DecodeReport(&ItemLimitReader{R: strings.NewReader(body), Max: 20}, &b)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v, want ErrTooLarge", err)
	}
}

// FuzzDecodeReport: nothing panics, and whatever is accepted keeps, for
// every finding, bytes that the reflective decoder reads as that finding
// (what the hub stores is what it read, whichever decoder read it).
// Seeds in testdata/fuzz/FuzzDecodeReport.
func FuzzDecodeReport(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, batch bool) {
		var envs []Envelope
		if batch {
			var b ReportBatch
			if DecodeReport(bytes.NewReader(body), &b) != nil {
				return
			}
			envs = b.Envelopes
		} else {
			var env Envelope
			if DecodeReport(bytes.NewReader(body), &env) != nil {
				return
			}
			envs = []Envelope{env}
		}
		for _, env := range envs {
			if env.Findings == nil {
				continue
			}
			for _, o := range env.Findings.Objects {
				if len(o.Raw) != len(o.Findings) {
					t.Fatalf("%d raw findings for %d decoded", len(o.Raw), len(o.Findings))
				}
				for i, r := range o.Raw {
					var again finding.Finding
					if err := jsonv2.Unmarshal(r, &again); err != nil {
						t.Fatalf("kept bytes %q do not decode: %v", r, err)
					}
					if !reflect.DeepEqual(again, o.Findings[i]) {
						t.Fatalf("kept bytes %q decode to %+v, not %+v", r, again, o.Findings[i])
					}
				}
			}
		}
	})
}
