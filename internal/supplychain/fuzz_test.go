package supplychain

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParseBundle: any input is a bundle or an error, within the limits,
// never a panic; a parsed bundle classifies without panicking either.
func FuzzParseBundle(f *testing.F) {
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{}},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AA=="}]}}`))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{}},"messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":"AA=="},"signature":"AA=="}}`))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.1"}`))
	f.Add([]byte(strings.Repeat("[", 100)))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBundle(data)
		if err != nil {
			return
		}
		_, _, _ = classify(b)
	})
}

// FuzzParseEnvelope: any input is a DSSE envelope or an error.
func FuzzParseEnvelope(f *testing.F) {
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"","sig":"AA=="}]}`))
	f.Add([]byte(`{"payloadType":"x","payload":"!!","signatures":[]}`))
	f.Add([]byte(`{"signatures":[` + strings.Repeat(`{"sig":"AA=="},`, 20) + `{"sig":"AA=="}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := ParseEnvelope(data)
		if err != nil {
			return
		}
		if len(env.Signatures) == 0 || len(env.Signatures) > MaxDSSESignatures {
			t.Fatalf("%d signatures accepted", len(env.Signatures))
		}
	})
}

// FuzzStatementConditions: conditions over any statement evaluate or fail
// with an error, bounded by the CEL cost limit.
func FuzzStatementConditions(f *testing.F) {
	f.Add([]byte(`{"predicateType":"https://slsa.dev/provenance/v1","subject":[],"predicate":{"buildDefinition":{"externalParameters":{"workflow":{"repository":"r"}}}}}`))
	f.Add([]byte(`{"predicate":[1,2,3]}`))
	f.Add([]byte(`[]`))
	conds, err := CompileConditions([]string{
		`predicate.buildDefinition.externalParameters.workflow.repository == "r"`,
		`has(predicate.components) && predicate.components.all(c, c.name != "")`,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if checkDepth(data, MaxJSONDepth) != nil {
			return
		}
		_ = Evaluate(conds, data)
	})
}

// TestHostileInput: huge and deeply nested payloads are refused with a
// clear error before any decoder walks them.
func TestHostileInput(t *testing.T) {
	deep := []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"AA=="}],"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`)
	huge := append([]byte(`{"payload":"`), bytes.Repeat([]byte("A"), MaxBundle)...)
	for _, tt := range []struct {
		name    string
		parse   func([]byte) error
		data    []byte
		wantErr string
	}{
		{"deep envelope", func(b []byte) error { _, err := ParseEnvelope(b); return err }, deep, "nested more than 64 levels"},
		{"deep bundle", func(b []byte) error { _, err := ParseBundle(b); return err }, deep, "nested more than 64 levels"},
		{"huge envelope", func(b []byte) error { _, err := ParseEnvelope(b); return err }, huge, "over the 16777216-byte limit"},
		{"huge bundle", func(b []byte) error { _, err := ParseBundle(b); return err }, huge, "over the 16777216-byte limit"},
		{"too many DSSE signatures", func(b []byte) error { _, err := ParseEnvelope(b); return err },
			[]byte(`{"payloadType":"t","payload":"e30=","signatures":[` + strings.Repeat(`{"sig":"AA=="},`, 99) + `{"sig":"AA=="}]}`), "100 signatures, want 1 to 8"},
		{"deep statement", func(b []byte) error { return Evaluate(mustConditions(t, "true"), b) },
			[]byte(strings.Repeat(`{"a":`, 200) + `1` + strings.Repeat(`}`, 200)), "nested more than 64 levels"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.parse(tt.data)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}
