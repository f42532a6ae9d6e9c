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
func appendFinding(b *bytes.Buffer, f *finding.Finding) error {
	const in1, in2 = "\n      ", "\n        "
	b.WriteString("{")
	field := func(first bool, indent, key string) {
		if !first {
			b.WriteByte(',')
		}
		b.WriteString(indent)
		b.WriteByte('"')
		b.WriteString(key)
		b.WriteString(`": `)
	}
	field(true, in1, "ruleID")
	appendString(b, f.RuleID)
	field(false, in1, "severity")
	appendString(b, f.Severity.String())
	field(false, in1, "title")
	appendString(b, f.Title)
	field(false, in1, "message")
	appendString(b, f.Message)
	field(false, in1, "object")
	b.WriteString("{")
	first := true
	if f.Object.APIVersion != "" {
		field(true, in2, "apiVersion")
		appendString(b, f.Object.APIVersion)
		first = false
	}
	field(first, in2, "kind")
	appendString(b, f.Object.Kind)
	if f.Object.Namespace != "" {
		field(false, in2, "namespace")
		appendString(b, f.Object.Namespace)
	}
	field(false, in2, "name")
	appendString(b, f.Object.Name)
	b.WriteString(in1 + "}")
	if f.File != "" {
		field(false, in1, "file")
		appendString(b, f.File)
	}
	if f.Line != 0 {
		field(false, in1, "line")
		b.WriteString(strconv.Itoa(f.Line))
	}
	if f.Field != "" {
		field(false, in1, "field")
		appendString(b, f.Field)
	}
	if f.Container != "" {
		field(false, in1, "container")
		appendString(b, f.Container)
	}
	field(false, in1, "suppressed")
	b.WriteString(strconv.FormatBool(f.Suppressed))
	if f.Suppression != nil {
		field(false, in1, "suppression")
		if err := appendNested(b, f.Suppression); err != nil {
			return err
		}
	}
	if f.Remediation != "" {
		field(false, in1, "remediation")
		appendString(b, f.Remediation)
	}
	if f.Vulnerability != nil {
		field(false, in1, "vulnerability")
		if err := appendNested(b, f.Vulnerability); err != nil {
			return err
		}
	}
	b.WriteString("\n    }")
	return nil
}

// appendNested encodes a nested value at the depth of a finding's field.
func appendNested(b *bytes.Buffer, v any) error {
	var nested bytes.Buffer
	enc := json.NewEncoder(&nested)
	enc.SetEscapeHTML(false)
	enc.SetIndent("      ", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	b.Write(bytes.TrimRight(nested.Bytes(), "\n"))
	return nil
}

// appendString writes s as encoding/json does with HTML escaping off.
func appendString(b *bytes.Buffer, s string) {
	b.Write(jsonenc.AppendString(b.AvailableBuffer(), s))
}
