package fleetapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/palisade-sec/palisade/internal/finding"
)

// agentFinding is a workload finding as the agent makes them: every
// member the fast path reads, quotes and markup in the message.
func agentFinding(i int) finding.Finding {
	return finding.Finding{
		RuleID: fmt.Sprintf("pss/run-as-non-root-%d", i%3), Severity: finding.Severity(i % 5), Title: "Container may run as root",
		Message: fmt.Sprintf("container %q of pod team/web-%d: <runAsNonRoot> & more \u2028 é ✓", "app", i),
		Object:  finding.ObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: "team", Name: fmt.Sprintf("web-%d", i)},
		File:    "deploy/web.yaml", Line: i * 7, Field: "spec.containers[0].securityContext.runAsNonRoot", Container: "app",
		Suppressed: i%2 == 1, Remediation: "Set runAsNonRoot: true\n\tin the pod's \"securityContext\".",
	}
}

// TestDecodeFindingFast: what the hand-written decoder reads itself (the
// agent's encoding of workload findings) and what it leaves to the
// reflective decoder. Whatever it reads must equal the reflective
// decoder's result.
func TestDecodeFindingFast(t *testing.T) {
	suppressed := agentFinding(1)
	suppressed.Suppression = &finding.Suppression{Kind: "annotation", Reason: "accepted \"risk\""}
	encode := func(f finding.Finding) string {
		b, err := json.Marshal(&f)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name string
		data string
		fast bool
	}{
		{name: "agent's encoding", data: encode(agentFinding(4)), fast: true},
		{name: "agent's encoding, suppressed", data: encode(suppressed), fast: true},
		{name: "empty finding", data: encode(finding.Finding{}), fast: true},
		{name: "negative line", data: `{"ruleID":"R","line":-12}`, fast: true},
		{name: "white space", data: " {\n \"ruleID\" : \"R\" ,\t\"object\" : { \"kind\" : \"Pod\" } }\r\n", fast: true},
		{name: "escapes", data: `{"message":"\"\\\/\b\f\n\r\t\u0041\u00e9\u2028"}`, fast: true},
		{name: "unknown member", data: `{"ruleID":"R","x":1}`},
		{name: "unknown member of the object", data: `{"object":{"kind":"Pod","uid":"u"}}`},
		{name: "repeated member", data: `{"ruleID":"R","ruleID":"S"}`},
		{name: "repeated member of the object", data: `{"object":{"kind":"Pod","kind":"Job"}}`},
		{name: "member name in another case", data: `{"RuleID":"R"}`},
		{name: "escaped member name", data: `{"rule\u0049D":"R"}`},
		{name: "severity in lower case", data: `{"severity":"high"}`},
		{name: "severity unknown", data: `{"severity":"DIRE"}`},
		{name: "null", data: `{"ruleID":null}`},
		{name: "null suppression", data: `{"suppression":null}`},
		{name: "expiry", data: `{"suppression":{"kind":"policy","reason":"r","expires":"2027-01-01T00:00:00Z"}}`},
		{name: "vulnerability", data: encode(sampleFinding())},
		{name: "surrogate pair", data: `{"message":"\ud83d\ude00"}`},
		{name: "lone surrogate", data: `{"message":"\ud800"}`},
		{name: "invalid UTF-8", data: "{\"message\":\"a\xffb\"}"},
		{name: "invalid UTF-8 beside an escape", data: "{\"message\":\"\\n\xff\"}"},
		{name: "control character", data: "{\"message\":\"a\nb\"}"},
		{name: "fractional line", data: `{"line":1.0}`},
		{name: "exponent line", data: `{"line":1e2}`},
		{name: "leading zero", data: `{"line":01}`},
		{name: "line out of range", data: `{"line":99999999999999999999}`},
		{name: "string line", data: `{"line":"1"}`},
		{name: "data after the object", data: `{"ruleID":"R"} {}`},
		{name: "truncated", data: `{"ruleID":"R"`},
		{name: "trailing comma", data: `{"ruleID":"R",}`},
		{name: "not an object", data: `["R"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fd findingDecoder
			var got finding.Finding
			fast := fd.decode([]byte(tt.data), &got)
			if fast != tt.fast {
				t.Fatalf("fast path taken: %v, want %v", fast, tt.fast)
			}
			if fast {
				sameAsReflective(t, []byte(tt.data), got)
			}
			// Through UnmarshalFinding, fast or not, the result and
			// the error are the reflective decoder's.
			var want finding.Finding
			wantErr := jsonv2.Unmarshal([]byte(tt.data), &want)
			err := UnmarshalFinding([]byte(tt.data), &got)
			if (err == nil) != (wantErr == nil) {
				t.Fatalf("UnmarshalFinding: error %v, the reflective decoder's %v", err, wantErr)
			}
			if err == nil && !reflect.DeepEqual(got, want) {
				t.Fatalf("UnmarshalFinding: %+v, the reflective decoder's %+v", got, want)
			}
		})
	}
}

// sameAsReflective fails unless both reflective decoders read data as f.
func sameAsReflective(t *testing.T, data []byte, f finding.Finding) {
	t.Helper()
	var v2, v1 finding.Finding
	if err := jsonv2.Unmarshal(data, &v2); err != nil {
		t.Fatalf("fast path read %q, which github.com/go-json-experiment/json refuses: %v", data, err)
	}
	if !reflect.DeepEqual(f, v2) {
		t.Fatalf("fast path read %q as %+v, github.com/go-json-experiment/json as %+v", data, f, v2)
	}
	if err := json.Unmarshal(data, &v1); err != nil {
		t.Fatalf("fast path read %q, which encoding/json refuses: %v", data, err)
	}
	if !reflect.DeepEqual(f, v1) {
		t.Fatalf("fast path read %q as %+v, encoding/json as %+v", data, f, v1)
	}
}

// TestDecodeReportFindingsSlabs: a report of more findings than a slab
// holds decodes to exactly what the reflective decoder reads, object by
// object, and appending to one object's findings leaves the next
// object's alone (they share a slab).
func TestDecodeReportFindingsSlabs(t *testing.T) {
	var objs []ObjectFindings
	for o := range 300 {
		of := ObjectFindings{Object: finding.ObjectRef{Kind: "Pod", Namespace: "team", Name: fmt.Sprintf("web-%d", o)}}
		for i := range o % 17 {
			of.Findings = append(of.Findings, agentFinding(o*17+i))
		}
		objs = append(objs, of)
	}
	body, err := json.Marshal(&ReportBatch{Envelopes: []Envelope{{Seq: 1, Kind: KindFindings, Findings: &FindingsDelta{Full: true, Objects: objs}}}})
	if err != nil {
		t.Fatal(err)
	}
	var got ReportBatch
	if err := DecodeReport(bytes.NewReader(body), &got); err != nil {
		t.Fatal(err)
	}
	var want ReportBatch
	if err := jsonv2.Unmarshal(body, &want); err != nil {
		t.Fatal(err)
	}
	gotObjs, wantObjs := got.Envelopes[0].Findings.Objects, want.Envelopes[0].Findings.Objects
	if len(gotObjs) != len(wantObjs) {
		t.Fatalf("%d objects, want %d", len(gotObjs), len(wantObjs))
	}
	for i := range gotObjs {
		if !reflect.DeepEqual(gotObjs[i].Findings, wantObjs[i].Findings) {
			t.Fatalf("object %d: findings %+v, want %+v", i, gotObjs[i].Findings, wantObjs[i].Findings)
		}
		for j, r := range gotObjs[i].Raw {
			if want, _ := json.Marshal(&objs[i].Findings[j]); !bytes.Equal(r, want) {
				t.Fatalf("object %d finding %d: raw %s, want %s", i, j, r, want)
			}
		}
	}
	for i := 0; i+1 < len(gotObjs); i++ {
		next := append([]finding.Finding(nil), gotObjs[i+1].Findings...)
		gotObjs[i].Findings = append(gotObjs[i].Findings, finding.Finding{RuleID: "appended"})
		gotObjs[i].Raw = append(gotObjs[i].Raw, []byte("{}"))
		if !reflect.DeepEqual(gotObjs[i+1].Findings, next) {
			t.Fatalf("appending to object %d changed object %d's findings", i, i+1)
		}
	}
}

// FuzzDecodeFindingFast: for every input, the hand-written decoder gives
// up or reads exactly what both reflective decoders read. Seeds in
// testdata/fuzz/FuzzDecodeFindingFast.
func FuzzDecodeFindingFast(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var fd findingDecoder
		var got finding.Finding
		if !fd.decode(data, &got) {
			return
		}
		sameAsReflective(t, data, got)
	})
}

// TestDecodeReportFast: which reports the hand-written decoder reads
// whole (the agent's findings reports, batched or not), which it leaves
// to the reflective one, and that both read the same.
func TestDecodeReportFast(t *testing.T) {
	snapshot := Envelope{Seq: 7, Time: time.Date(2026, 12, 6, 20, 0, 0, 123, time.UTC), Kind: KindFindings, Cluster: "c1", Dropped: 2,
		Findings: &FindingsDelta{Full: true, Objects: []ObjectFindings{
			{Object: agentFinding(1).Object, Findings: []finding.Finding{agentFinding(1), agentFinding(2)}},
			{Object: finding.ObjectRef{Kind: "Pod", Name: "clean"}, Findings: []finding.Finding{}},
		}, Deleted: []finding.ObjectRef{{Kind: "Pod", Namespace: "team", Name: "gone"}}}}
	// The first object as the agent sends a snapshot's: with its
	// digest.
	if err := SetDigest(&snapshot.Findings.Objects[0]); err != nil || !IsObjectDigest(snapshot.Findings.Objects[0].Digest) {
		t.Fatalf("digest %q, %v", snapshot.Findings.Objects[0].Digest, err)
	}
	images := Envelope{Seq: 8, Kind: KindImages, Images: &ImageSet{Images: []ImageUse{{Ref: "r"}}}}
	encode := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name  string
		body  []byte
		batch bool
		fast  bool
	}{
		{name: "snapshot", body: encode(&snapshot), fast: true},
		{name: "batch of findings reports", body: encode(&ReportBatch{Dropped: 3, Envelopes: []Envelope{snapshot, snapshot}}), batch: true, fast: true},
		{name: "empty batch", body: []byte(`{"envelopes":[]}`), batch: true, fast: true},
		// An envelope it does not read goes alone to the reflective
		// decoder; the batch's others are read by hand.
		{name: "batch with an images report", body: encode(&ReportBatch{Envelopes: []Envelope{snapshot, images}}), batch: true, fast: true},
		{name: "batch with an images report between findings reports", body: encode(&ReportBatch{Envelopes: []Envelope{snapshot, images, snapshot}}), batch: true, fast: true},
		{name: "batch with an unknown member in an envelope", body: []byte(`{"envelopes":[{"seq":1,"kind":"findings","findings":{}},{"seq":2,"x-new":{"a":[1,2]},"kind":"findings","findings":{}}]}`), batch: true, fast: true},
		{name: "batch with an envelope the reflective decoder refuses", body: []byte(`{"envelopes":[{"seq":1,"kind":"findings","findings":{}},{"seq":2,"seq":3}]}`), batch: true},
		{name: "batch with an envelope that is not an object", body: []byte(`{"envelopes":[{"seq":1,"kind":"findings","findings":{}},[1]]}`), batch: true},
		{name: "finding with a vulnerability", body: encode(&Envelope{Seq: 1, Kind: KindFindings, Findings: &FindingsDelta{Objects: []ObjectFindings{{Findings: []finding.Finding{sampleFinding()}}}}})},
		{name: "null findings", body: []byte(`{"seq":1,"kind":"findings","findings":{"objects":[{"object":{"kind":"Pod","name":"p"},"findings":null}]}}`)},
		{name: "repeated seq", body: []byte(`{"seq":1,"seq":2,"kind":"findings","findings":{}}`)},
		{name: "seq out of range", body: []byte(`{"seq":18446744073709551616,"kind":"findings","findings":{}}`)},
		{name: "bad time", body: []byte(`{"seq":1,"time":"yesterday","kind":"findings","findings":{}}`)},
		{name: "data after the value", body: []byte(`{"seq":1,"kind":"findings","findings":{}} 1`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fast, got, want := decodeBoth(t, tt.body, tt.batch)
			if fast != tt.fast {
				t.Fatalf("fast path taken: %v, want %v", fast, tt.fast)
			}
			if fast && !reflect.DeepEqual(got, want) {
				t.Fatalf("fast path read %+v, the reflective path %+v", got, want)
			}
			if e, ok := got.(*Envelope); ok && fast && tt.name == "snapshot" && e.Findings.Objects[0].Digest != snapshot.Findings.Objects[0].Digest {
				t.Fatalf("digest read %q, sent %q", e.Findings.Objects[0].Digest, snapshot.Findings.Objects[0].Digest)
			}
			// DecodeReport agrees with the reflective path, fast or not.
			var viaDecode any = &Envelope{}
			if tt.batch {
				viaDecode = &ReportBatch{}
			}
			err := DecodeReport(bytes.NewReader(tt.body), viaDecode)
			if err == nil && !reflect.DeepEqual(viaDecode, want) {
				t.Fatalf("DecodeReport read %+v, the reflective path %+v", viaDecode, want)
			}
		})
	}
}

// decodeBoth decodes body with the hand-written report decoder (fast:
// whether it read it) and with the reflective path (want: nil if that
// refused it).
func decodeBoth(t *testing.T, body []byte, batch bool) (fast bool, got, want any) {
	t.Helper()
	if batch {
		got, want = &ReportBatch{}, &ReportBatch{}
	} else {
		got, want = &Envelope{}, &Envelope{}
	}
	fast = (&findingDecoder{share: true}).decodeReportFast(body, got)
	if err := decodeReportReflective(body, &findingDecoder{share: true}, want); err != nil {
		if fast {
			t.Fatalf("fast path read %q, which the reflective path refuses: %v", body, err)
		}
		want = nil
	}
	return fast, got, want
}

// FuzzDecodeReportFast: for every body, the hand-written report decoder
// gives up or reads exactly what the reflective path reads, each
// finding's kept bytes included. Seeds in
// testdata/fuzz/FuzzDecodeReportFast.
func FuzzDecodeReportFast(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, batch bool) {
		fast, got, want := decodeBoth(t, body, batch)
		if fast && !reflect.DeepEqual(got, want) {
			t.Fatalf("fast path read %q as %+v, the reflective path as %+v", body, got, want)
		}
	})
}

// TestDecodeReportBodyWithin: the items are counted as the report is
// decoded, with ItemLimitReader's count and error, whichever decoder
// reads it: at the bound it is read, one item over it is refused
// (ErrTooLarge); a report of findings packed denser than the agent's
// (minFindingBytes) is read by the reflective path, counted first.
func TestDecodeReportBodyWithin(t *testing.T) {
	snapshot := Envelope{Seq: 7, Kind: KindFindings, Findings: &FindingsDelta{Full: true, Objects: []ObjectFindings{
		{Object: agentFinding(1).Object, Findings: []finding.Finding{agentFinding(1), agentFinding(2)}},
	}}}
	images := Envelope{Seq: 8, Kind: KindImages, Images: &ImageSet{Images: []ImageUse{{Ref: "r"}, {Ref: "s"}}}}
	dense := `{"seq":1,"kind":"findings","findings":{"objects":[{"object":{"kind":"Pod","name":"p"},"findings":[` +
		strings.Repeat(`{"ruleID":"r"},`, denseFindingsFree) + `{"ruleID":"r"}]}]}}`
	if (&findingDecoder{share: true, bounded: true}).decodeReportFast([]byte(dense), &Envelope{}) {
		t.Fatal("the hand-written decoder read findings packed denser than the agent writes them")
	}
	for _, tc := range []struct {
		name  string
		body  []byte
		batch bool
	}{
		{"snapshot", mustJSON(t, &snapshot), false},
		{"batch with an images report", mustJSON(t, &ReportBatch{Envelopes: []Envelope{snapshot, images}}), true},
		{"findings packed denser than the agent writes them", []byte(dense), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := ItemLimitReader{Max: 1 << 30}
			if err := l.Count(tc.body); err != nil {
				t.Fatal(err)
			}
			n := l.items
			for _, max := range []int{n, n - 1, n / 2} {
				var got, want any = &Envelope{}, &Envelope{}
				if tc.batch {
					got, want = &ReportBatch{}, &ReportBatch{}
				}
				err := DecodeReportBodyWithin(tc.body, max, got)
				if max < n {
					if !errors.Is(err, ErrTooLarge) {
						t.Fatalf("%d items within %d: %v, want ErrTooLarge", n, max, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%d items within %d: %v", n, max, err)
				}
				if err := decodeReportReflective(tc.body, &findingDecoder{share: true}, want); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("read %+v, the reflective path %+v", got, want)
				}
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzDecodeReportBodyWithin: for every body and bound, decoding with the
// items counted as it goes gives what counting them first
// (ItemLimitReader.Count) and then the reflective path gives: the same
// report, or both an error (ErrTooLarge both or neither). Seeds in
// testdata/fuzz/FuzzDecodeReportBodyWithin.
func FuzzDecodeReportBodyWithin(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, batch bool, bound uint16) {
		max := int(bound%512) + 1
		var got, want any = &Envelope{}, &Envelope{}
		if batch {
			got, want = &ReportBatch{}, &ReportBatch{}
		}
		err := DecodeReportBodyWithin(body, max, got)
		l := ItemLimitReader{Max: max}
		werr := l.Count(body)
		if werr == nil {
			werr = decodeReportReflective(body, &findingDecoder{share: true}, want)
		}
		if (err == nil) != (werr == nil) || errors.Is(err, ErrTooLarge) != errors.Is(werr, ErrTooLarge) {
			t.Fatalf("%q within %d: %v; counted first: %v", body, max, err, werr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q within %d: read %+v; counted first %+v", body, max, got, want)
		}
	})
}

// TestDecodeReportBodyPartial: a snapshot's objects sent with a digest,
// as the agent writes them, are read partially — only what the counters
// read — and completed to exactly what DecodeReportBodyWithin reads; an
// object without a digest, a delta's objects and a snapshot whose "full"
// comes after its objects are read whole.
func TestDecodeReportBodyPartial(t *testing.T) {
	withSuppression := agentFinding(3)
	withSuppression.Suppression = &finding.Suppression{Kind: "annotation", Reason: "accepted \"risk\" \u00e9"}
	objects := []ObjectFindings{
		{Object: agentFinding(1).Object, Findings: []finding.Finding{agentFinding(1), agentFinding(2), withSuppression}},
		{Object: agentFinding(4).Object, Findings: []finding.Finding{agentFinding(4)}},
		{Object: finding.ObjectRef{Kind: "Pod", Name: "clean"}, Findings: []finding.Finding{}},
	}
	if err := SetDigest(&objects[0]); err != nil {
		t.Fatal(err)
	}
	if err := SetDigest(&objects[2]); err != nil {
		t.Fatal(err)
	}
	snapshot := Envelope{Seq: 7, Kind: KindFindings, Findings: &FindingsDelta{Full: true, Objects: objects}}
	delta := Envelope{Seq: 8, Kind: KindFindings, Findings: &FindingsDelta{Objects: objects}}
	fullLast := `{"seq":9,"kind":"findings","findings":{"objects":` + string(mustJSON(t, objects)) + `,"full":true}}`
	tests := []struct {
		name    string
		body    []byte
		partial []bool // per object of the (first) envelope
	}{
		{"snapshot", mustJSON(t, &snapshot), []bool{true, false, false}},
		{"delta", mustJSON(t, &delta), []bool{false, false, false}},
		{"full after the objects", []byte(fullLast), []bool{false, false, false}},
	}
	// What a partial object's ignored fields must still be checked for:
	// each body is refused (or read by the reflective path) exactly as
	// read whole.
	body := string(mustJSON(t, &snapshot))
	msg := `"message":"container \"app\" of pod team/web-1:`
	if !strings.Contains(body, msg) {
		t.Fatalf("no %s in %s", msg, body)
	}
	for _, bad := range []string{
		strings.Replace(body, msg, msg+`\xff`, 1),   // not a JSON escape
		strings.Replace(body, msg, msg+"\xff", 1),   // invalid UTF-8
		strings.Replace(body, msg, msg+`\ud800`, 1), // a lone surrogate
		strings.Replace(body, msg, msg+"\x01", 1),   // a control character
		// Invalid UTF-8 in an ignored string with escapes: before its
		// first escape, cut by an escape, after a \u escape; and valid
		// non-ASCII beside escapes.
		strings.Replace(body, msg, `"message":"\u00e9`+"\xff"+msg[len(`"message":"`):], 1),
		strings.Replace(body, msg, `"message":"`+"\xff"+msg[len(`"message":"`):], 1),
		strings.Replace(body, msg, msg+"\xc3\\n\xa9", 1),
		strings.Replace(body, msg, msg+"\xc3\\nabc", 1),
		strings.Replace(body, msg, msg+"\\n\xff", 1),
		strings.Replace(body, "risk\\\" \u00e9\"", "risk\\\" \u00e9\xff\"", 1),     // after the last escape
		strings.Replace(body, msg, `"mess\u0061ge":"`+msg[len(`"message":"`):], 1), // an escaped member name
		strings.Replace(body, msg, `"messag`+"\u00e9"+`":"`+msg[len(`"message":"`):], 1),
		strings.Replace(body, msg, msg+`\u00e9`+"\xa9", 1),
		strings.Replace(body, msg, msg+"\u00e9\\n\u00e9\\u00e9", 1),
		strings.Replace(body, msg, `"message":"m",`+msg, 1),
		strings.Replace(body, `"container":"app"`, `"container":"app`+"\u00e9\xc3"+`"`, 1),
		strings.Replace(body, `"kind":"annotation"`, `"kind":"annotation","expires":"2026-01-01T00:00:00Z"`, 1),
		strings.Replace(body, `"namespace":"team","name":"web-1"},"file"`, `"namespace":"team","name":"web-1","x":1},"file"`, 1),
		strings.Replace(body, `"file":"deploy/web.yaml"`, `"file":null`, 1),
	} {
		if bad == body {
			t.Fatalf("mutation did not apply")
		}
		var got, want Envelope
		err, werr := DecodeReportBodyPartial([]byte(bad), MaxReportItems, &got), DecodeReportBodyWithin([]byte(bad), MaxReportItems, &want)
		if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
			t.Fatalf("%s: partially %v, whole %v", bad, err, werr)
		}
		if err == nil {
			completeAll(t, &got)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: completed %+v, whole %+v", bad, got, want)
			}
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got, want Envelope
			if err := DecodeReportBodyPartial(tt.body, MaxReportItems, &got); err != nil {
				t.Fatal(err)
			}
			if err := DecodeReportBodyWithin(tt.body, MaxReportItems, &want); err != nil {
				t.Fatal(err)
			}
			for i, o := range got.Findings.Objects {
				if o.Partial != tt.partial[i] {
					t.Fatalf("object %d partial %v, want %v", i, o.Partial, tt.partial[i])
				}
				if !o.Partial {
					continue
				}
				for j, f := range o.Findings {
					w := want.Findings.Objects[i].Findings[j]
					kept := finding.Finding{RuleID: w.RuleID, Title: w.Title, Severity: w.Severity, Line: w.Line, Suppressed: w.Suppressed}
					if w.Suppression != nil {
						kept.Suppression = &finding.Suppression{}
					}
					if !reflect.DeepEqual(f, kept) {
						t.Fatalf("object %d finding %d read partially as %+v, want %+v", i, j, f, kept)
					}
				}
			}
			completeAll(t, &got)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("completed: %+v, read whole: %+v", got, want)
			}
		})
	}
}

// completeAll completes every partial object of v (an *Envelope or a
// *ReportBatch).
func completeAll(t *testing.T, v any) {
	t.Helper()
	var envs []*Envelope
	switch v := v.(type) {
	case *Envelope:
		envs = []*Envelope{v}
	case *ReportBatch:
		for i := range v.Envelopes {
			envs = append(envs, &v.Envelopes[i])
		}
	}
	for _, e := range envs {
		if e.Findings == nil {
			continue
		}
		for i := range e.Findings.Objects {
			if err := e.Findings.Objects[i].Complete(); err != nil {
				t.Fatalf("complete: %v", err)
			}
		}
	}
}

// FuzzDecodeReportBodyPartial: for every body and bound, the partial
// decoder refuses what DecodeReportBodyWithin refuses, with the same
// error, and what it reads, completed, is what that reads. Seeds in
// testdata/fuzz/FuzzDecodeReportBodyPartial.
func FuzzDecodeReportBodyPartial(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, batch bool, bound uint16) {
		max := int(bound%512) + 1
		var got, want any = &Envelope{}, &Envelope{}
		if batch {
			got, want = &ReportBatch{}, &ReportBatch{}
		}
		err := DecodeReportBodyPartial(body, max, got)
		werr := DecodeReportBodyWithin(body, max, want)
		if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
			t.Fatalf("%q within %d: partially %v; whole %v", body, max, err, werr)
		}
		if err != nil {
			return
		}
		completeAll(t, got)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q within %d: read partially and completed %+v; whole %+v", body, max, got, want)
		}
	})
}

// TestPlainRun: the run of plain bytes read eight at a time is the run
// read byte by byte, for every byte value at every place of a word and
// runs of every length around the word size.
func TestPlainRun(t *testing.T) {
	slow := func(b []byte, i int) int {
		j := i
		for j < len(b) && plainByte[b[j]] {
			j++
		}
		return j - i
	}
	base := []byte("plain text of a finding's message, long enough for words")
	for c := range 256 {
		for at := range 24 {
			for _, start := range []int{0, 1, 5} {
				b := append([]byte(nil), base...)
				b[start+at] = byte(c)
				if got, want := plainRun(b, start), slow(b, start); got != want {
					t.Fatalf("byte %#x at %d from %d: run %d, want %d", c, at, start, got, want)
				}
			}
		}
	}
	for n := range 20 {
		b := []byte(strings.Repeat("a", n))
		if got := plainRun(b, 0); got != n {
			t.Fatalf("%d plain bytes: run %d", n, got)
		}
	}
}
