package report

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/jsonenc"
)

// appendFinding writes one finding as indented JSON (prefix "    ",
// indent "  "), byte for byte what encoding/json with SetEscapeHTML(false)
// and SetIndent writes, without reflection: a scan of 10,000 objects
// writes tens of thousands of findings, and the generic encoder was a
// fifth of the run. The rarely set nested objects (suppression,
// vulnerability) go through encoding/json. TestStreamedJSONMatchesWholeEncoding
// pins the equivalence.
//
// It appends to a plain byte slice, the field names and their
// separators as constants: through a bytes.Buffer each small write
// checked and grew the buffer, a fifth of the encoding's time.
func appendFinding(b []byte, f *finding.Finding) ([]byte, error) {
	const in1, in2 = "\n      ", "\n        "
	b = append(b, "{"+in1+`"ruleID": `...)
	b = jsonenc.AppendString(b, f.RuleID)
	b = append(b, ","+in1+`"severity": `...)
	b = jsonenc.AppendString(b, f.Severity.String())
	b = append(b, ","+in1+`"title": `...)
	b = jsonenc.AppendString(b, f.Title)
	b = append(b, ","+in1+`"message": `...)
	b = jsonenc.AppendString(b, f.Message)
	b = append(b, ","+in1+`"object": {`...)
	if f.Object.APIVersion != "" {
		b = append(b, in2+`"apiVersion": `...)
		b = jsonenc.AppendString(b, f.Object.APIVersion)
		b = append(b, ',')
	}
	b = append(b, in2+`"kind": `...)
	b = jsonenc.AppendString(b, f.Object.Kind)
	if f.Object.Namespace != "" {
		b = append(b, ","+in2+`"namespace": `...)
		b = jsonenc.AppendString(b, f.Object.Namespace)
	}
	b = append(b, ","+in2+`"name": `...)
	b = jsonenc.AppendString(b, f.Object.Name)
	b = append(b, in1+"}"...)
	if f.File != "" {
		b = append(b, ","+in1+`"file": `...)
		b = jsonenc.AppendString(b, f.File)
	}
	if f.Line != 0 {
		b = append(b, ","+in1+`"line": `...)
		b = strconv.AppendInt(b, int64(f.Line), 10)
	}
	if f.Field != "" {
		b = append(b, ","+in1+`"field": `...)
		b = jsonenc.AppendString(b, f.Field)
	}
	if f.Container != "" {
		b = append(b, ","+in1+`"container": `...)
		b = jsonenc.AppendString(b, f.Container)
	}
	b = append(b, ","+in1+`"suppressed": `...)
	b = strconv.AppendBool(b, f.Suppressed)
	if f.Suppression != nil {
		b = append(b, ","+in1+`"suppression": `...)
		var err error
		if b, err = appendNested(b, f.Suppression); err != nil {
			return b, err
		}
	}
	if f.Remediation != "" {
		b = append(b, ","+in1+`"remediation": `...)
		b = jsonenc.AppendString(b, f.Remediation)
	}
	if f.Vulnerability != nil {
		b = append(b, ","+in1+`"vulnerability": `...)
		var err error
		if b, err = appendNested(b, f.Vulnerability); err != nil {
			return b, err
		}
	}
	return append(b, "\n    }"...), nil
}

// appendNested encodes a nested value at the depth of a finding's field.
func appendNested(b []byte, v any) ([]byte, error) {
	var nested bytes.Buffer
	enc := json.NewEncoder(&nested)
	enc.SetEscapeHTML(false)
	enc.SetIndent("      ", "  ")
	if err := enc.Encode(v); err != nil {
		return b, err
	}
	return append(b, bytes.TrimRight(nested.Bytes(), "\n")...), nil
}
