package report

import (
	"bytes"
	"encoding/json"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/jsonenc"
)

// TestRoundTrip reads the JSON and YAML back and expects the report that
// went in, with its rules sorted by ID.
func TestRoundTrip(t *testing.T) {
	unmarshal := map[Format]func([]byte, any) error{
		FormatJSON: json.Unmarshal,
		FormatYAML: func(b []byte, v any) error { return yaml.UnmarshalStrict(b, v) },
	}
	for _, f := range []Format{FormatJSON, FormatYAML} {
		for name, in := range map[string]*finding.Report{"full": testReport(), "empty": emptyReport()} {
			t.Run(string(f)+"/"+name, func(t *testing.T) {
				var got finding.Report
				if err := unmarshal[f](render(t, f, in, Options{}), &got); err != nil {
					t.Fatalf("unmarshal: %v", err)
				}
				want := *in
				want.Rules = normalized(in).Rules
				if !reflect.DeepEqual(got, want) {
					t.Errorf("round trip changed the report:\n got: %+v\nwant: %+v", got, want)
				}
			})
		}
	}
}

// TestFindingsNeverNull covers a report built without NewReport.
func TestFindingsNeverNull(t *testing.T) {
	out := string(render(t, FormatJSON, &finding.Report{}, Options{}))
	if !strings.Contains(out, `"findings": []`) || !strings.Contains(out, `"bySeverity": {}`) {
		t.Errorf("nil findings or counts rendered as null:\n%s", out)
	}
	if strings.Contains(out, "problems") {
		t.Errorf("empty problems should be omitted:\n%s", out)
	}
	y := string(render(t, FormatYAML, &finding.Report{}, Options{}))
	if !strings.Contains(y, "findings: []") {
		t.Errorf("YAML findings not an empty list:\n%s", y)
	}
}

// TestJSONFieldNames pins the public schema's names on one finding.
func TestJSONFieldNames(t *testing.T) {
	var doc struct {
		Findings []map[string]any `json:"findings"`
		Summary  map[string]any   `json:"summary"`
		Problems []map[string]any `json:"problems"`
		Rules    []map[string]any `json:"rules"`
	}
	if err := json.Unmarshal(render(t, FormatJSON, testReport(), Options{}), &doc); err != nil {
		t.Fatal(err)
	}
	var priv map[string]any // the finding with every field set
	for _, f := range doc.Findings {
		if f["ruleID"] == "PS-K8S-001" {
			priv = f
		}
	}
	for _, key := range []string{"ruleID", "severity", "title", "message", "object", "file", "line", "field", "container", "suppressed", "remediation"} {
		if _, ok := priv[key]; !ok {
			t.Errorf("finding lacks %q: %v", key, priv)
		}
	}
	if len(doc.Rules) == 0 {
		t.Fatal("report has no rules section")
	}
	for _, key := range []string{"id", "title", "severity", "description"} {
		if _, ok := doc.Rules[0][key]; !ok {
			t.Errorf("rule lacks %q: %v", key, doc.Rules[0])
		}
	}
	for _, key := range []string{"total", "suppressed", "bySeverity", "objects", "errors"} {
		if _, ok := doc.Summary[key]; !ok {
			t.Errorf("summary lacks %q", key)
		}
	}
	if len(doc.Problems) != 2 {
		t.Errorf("got %d problems, want 2", len(doc.Problems))
	}
}

// TestStreamedJSONMatchesWholeEncoding pins the streamed JSON writer to the
// plain encoding of the whole report, byte for byte.
func TestStreamedJSONMatchesWholeEncoding(t *testing.T) {
	for _, r := range []*finding.Report{testReport(), emptyReport(), manyFindingsReport(3*findingChunk + 7), manyFindingsReport(findingChunk)} {
		var streamed bytes.Buffer
		if err := writeJSON(&streamed, r); err != nil {
			t.Fatal(err)
		}
		whole, err := marshalJSON(normalized(r))
		if err != nil {
			t.Fatal(err)
		}
		if streamed.String() != string(whole) {
			t.Errorf("streamed JSON differs:\n%s\nwant:\n%s", streamed.String(), whole)
		}
	}
}

// TestStreamedJSONManyChunks writes reports of many chunks on more
// workers than the machine has cores, so that chunks complete out of
// order: the output must be whole and in order every time.
func TestStreamedJSONManyChunks(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(8))
	r := manyFindingsReport(60*findingChunk + 1)
	want, err := marshalJSON(normalized(r))
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		var got bytes.Buffer
		if err := writeJSON(&got, r); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("streamed JSON of %d findings differs from the whole encoding", len(r.Findings))
		}
	}
}

// manyFindingsReport repeats testReport's findings, each with its own
// line, to n findings: several chunks for writeFindingsJSON.
func manyFindingsReport(n int) *finding.Report {
	r := testReport()
	base := r.Findings
	r.Findings = make([]finding.Finding, n)
	for i := range r.Findings {
		r.Findings[i] = base[i%len(base)]
		r.Findings[i].Line = i + 1
	}
	return r
}

// FuzzAppendString checks the hand-written string encoder against
// encoding/json (HTML escaping off) on any input, valid UTF-8 or not.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "\n\r\t\b\f\x00\x1f\x7f", "<>&", "\u2028\u2029", "\xff\xfe bad", "é ✓ 😀", hostileMessage} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := bytes.NewBuffer(jsonenc.AppendString(nil, s))
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got.String() != strings.TrimSuffix(want.String(), "\n") {
			t.Errorf("appendString(%q) = %s, encoding/json gives %s", s, got.String(), want.String())
		}
	})
}
