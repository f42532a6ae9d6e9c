package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/palisade-sec/palisade/internal/jsonenc"
)

// Limits that bound the work and memory one document may cost.
const (
	maxDepth = 100
	// maxExpandedNodes caps nodes emitted after alias expansion, which is
	// what defeats "billion laughs" documents.
	maxExpandedNodes = 1_000_000
)

// budget is the work a document may still cost.
type budget struct{ nodes, bytes int }

func newBudget() *budget { return &budget{nodes: maxExpandedNodes, bytes: 4 * maxDocumentBytes} }

// spend takes what a conversion cost from the budget.
func (b *budget) spend(c *converter) {
	b.nodes -= c.nodes
	b.bytes -= c.buf.Len()
}

var errTooMuchAliasing = errors.New("document expands to too many nodes (alias bomb?)")

// converter turns a YAML node tree into canonical JSON and records the line
// of every field. Aliases are expanded with a budget.
type converter struct {
	buf   bytes.Buffer
	lines []lineEntry
	nodes int
	// budget, when set, is what the document has left of maxExpandedNodes
	// and of 4*maxDocumentBytes of JSON: the items of one list share
	// them, so that a list of aliases to one big anchor cannot multiply
	// the cost by its length.
	budget *budget
	// record is false inside alias expansions: their lines belong to the anchor.
	record bool
}

// mark records the line of a field: the line of its key, or of its item.
func (c *converter) mark(h pathHash, line int) {
	if c.record {
		c.lines = append(c.lines, lineEntry{hash: uint64(h), line: int32(line)})
	}
}

// fieldError is a conversion error with the line it concerns.
type fieldError struct {
	line int
	msg  string
}

func (e *fieldError) Error() string { return e.msg }

func (c *converter) convert(n *yaml.Node, h pathHash, depth int, top bool) error {
	c.nodes++
	maxNodes, maxBytes := maxExpandedNodes, 4*maxDocumentBytes
	if c.budget != nil {
		maxNodes, maxBytes = c.budget.nodes, c.budget.bytes
	}
	if c.nodes > maxNodes || c.buf.Len() > maxBytes {
		return &fieldError{line: n.Line, msg: errTooMuchAliasing.Error()}
	}
	if depth > maxDepth {
		return &fieldError{line: n.Line, msg: fmt.Sprintf("nesting deeper than %d levels", maxDepth)}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			c.buf.WriteString("null")
			return nil
		}
		return c.convert(n.Content[0], h, depth+1, true)
	case yaml.AliasNode:
		saved := c.record
		c.record = false
		err := c.convert(n.Alias, h, depth+1, true)
		c.record = saved
		return err
	case yaml.MappingNode:
		return c.mapping(n, h, depth, top)
	case yaml.SequenceNode:
		c.buf.WriteByte('[')
		for i, item := range n.Content {
			if i > 0 {
				c.buf.WriteByte(',')
			}
			c.mark(h.index(i), item.Line)
			if err := c.convert(item, h.index(i), depth+1, false); err != nil {
				return err
			}
		}
		c.buf.WriteByte(']')
		return nil
	case yaml.ScalarNode:
		return c.scalar(n)
	}
	return &fieldError{line: n.Line, msg: fmt.Sprintf("unsupported YAML node kind %d", n.Kind)}
}

// mapping writes a JSON object. Keys must be unique; "<<" merge keys are
// honoured with explicit keys taking precedence, as YAML 1.1 defines.
func (c *converter) mapping(n *yaml.Node, h pathHash, depth int, top bool) error {
	pairs, err := mergedPairs(n, 0)
	if err != nil {
		return err
	}
	c.buf.WriteByte('{')
	seen := make(map[string]struct{}, len(pairs))
	for i, p := range pairs {
		key, err := scalarKey(p.key)
		if err != nil {
			return err
		}
		if _, dup := seen[key]; dup {
			return &fieldError{line: p.key.Line, msg: fmt.Sprintf("duplicate key %q", key)}
		}
		seen[key] = struct{}{}
		if i > 0 {
			c.buf.WriteByte(',')
		}
		c.buf.Write(appendJSONString(c.buf.AvailableBuffer(), key))
		c.buf.WriteByte(':')
		var child pathHash
		if top {
			child = h.firstKey(key)
		} else {
			child = h.key(key)
		}
		c.mark(child, p.key.Line)
		saved := c.record
		if p.merged {
			c.record = false
		}
		err = c.convert(p.value, child, depth+1, false)
		c.record = saved
		if err != nil {
			return err
		}
	}
	c.buf.WriteByte('}')
	return nil
}

type pair struct {
	key, value *yaml.Node
	merged     bool
}

func mergedPairs(n *yaml.Node, depth int) ([]pair, error) {
	if depth > maxDepth {
		return nil, &fieldError{line: n.Line, msg: "merge keys nested too deeply"}
	}
	if len(n.Content)%2 != 0 {
		return nil, &fieldError{line: n.Line, msg: "malformed mapping"}
	}
	var own, merged []pair
	for i := 0; i < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge" {
			sources := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				sources = v.Content
			}
			for _, src := range sources {
				for src.Kind == yaml.AliasNode {
					src = src.Alias
				}
				if src.Kind != yaml.MappingNode {
					return nil, &fieldError{line: k.Line, msg: "merge key must refer to a mapping"}
				}
				ps, err := mergedPairs(src, depth+1)
				if err != nil {
					return nil, err
				}
				for _, p := range ps {
					p.merged = true
					merged = append(merged, p)
				}
			}
			continue
		}
		own = append(own, pair{key: k, value: v})
	}
	if len(merged) == 0 {
		return own, nil
	}
	// Explicit keys win over merged ones; earlier merge sources win over later.
	have := map[string]bool{}
	for _, p := range own {
		if p.key.Kind == yaml.ScalarNode {
			have[p.key.Value] = true
		}
	}
	out := own
	for _, p := range merged {
		if p.key.Kind == yaml.ScalarNode && have[p.key.Value] {
			continue
		}
		have[p.key.Value] = true
		out = append(out, p)
	}
	return out, nil
}

func scalarKey(k *yaml.Node) (string, error) {
	for k.Kind == yaml.AliasNode {
		k = k.Alias
	}
	if k.Kind != yaml.ScalarNode {
		return "", &fieldError{line: k.Line, msg: "mapping key is not a scalar"}
	}
	if k.ShortTag() == "!!null" {
		return "null", nil
	}
	return k.Value, nil
}

// scalar writes a scalar with the type YAML resolved for it, as
// sigs.k8s.io/yaml would when converting to JSON.
//
// A plain (unquoted, untagged) scalar that YAML 1.1 reads as a boolean
// (yes, no, on, off, y, n in their three casings) is a boolean, as
// sigs.k8s.io/yaml (go-yaml v2) reads it: kubectl, Helm and the API server
// all do, so "allowPrivilegeEscalation: yes" is true on the cluster.
// yaml.v3 reads those words as strings, which made the field not
// understood instead of the finding it is.
func (c *converter) scalar(n *yaml.Node) error {
	if n.Style == 0 && n.ShortTag() == "!!str" {
		if b, ok := yaml11Bool(n.Value); ok {
			c.buf.Write(strconv.AppendBool(c.buf.AvailableBuffer(), b))
			return nil
		}
	}
	c.buf.Write(appendScalarJSON(c.buf.AvailableBuffer(), n.ShortTag(), n.Value))
	return nil
}

// yaml11Bool reports the boolean that go-yaml v2, which sigs.k8s.io/yaml
// and so kubectl and the API server use, resolves a plain scalar to when
// yaml.v3 leaves it a string. "true" and "false" in their casings are
// booleans in both and not listed.
//
// go-yaml v2 also reads y, Y, n and N as booleans; they stay strings
// here. As booleans they would only turn names such as "namespace: n",
// which kubectl refuses, into errors, and a bool field set to y is
// already an error here ("cannot use string as bool"), never a value.
func yaml11Bool(v string) (value, ok bool) {
	switch v {
	case "yes", "Yes", "YES", "on", "On", "ON":
		return true, true
	case "no", "No", "NO", "off", "Off", "OFF":
		return false, true
	}
	return false, false
}

// appendScalarJSON appends the JSON for a scalar whose resolved YAML tag is
// tag. The fast path uses it too, so both paths type scalars identically.
func appendScalarJSON(dst []byte, tag, value string) []byte {
	switch tag {
	case "!!null":
		return append(dst, "null"...)
	case "!!bool":
		switch strings.ToLower(value) {
		case "true":
			return append(dst, "true"...)
		case "false":
			return append(dst, "false"...)
		}
		if b, ok := yaml11Bool(value); ok { // "!!bool yes", as go-yaml v2 reads it
			return strconv.AppendBool(dst, b)
		}
	case "!!int":
		v := strings.ReplaceAll(value, "_", "")
		if i, err := strconv.ParseInt(v, 0, 64); err == nil {
			return strconv.AppendInt(dst, i, 10)
		} else if u, err := strconv.ParseUint(v, 0, 64); err == nil {
			return strconv.AppendUint(dst, u, 10)
		} else if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(f, 0) {
			return strconv.AppendFloat(dst, f, 'g', -1, 64)
		}
	case "!!float":
		f, err := strconv.ParseFloat(strings.ReplaceAll(value, "_", ""), 64)
		if err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return strconv.AppendFloat(dst, f, 'g', -1, 64)
		}
		// JSON has no infinity or NaN: keep the text.
	}
	// !!str, !!timestamp, !!binary, custom tags and anything unparsable
	// stay strings.
	return appendJSONString(dst, value)
}

// appendJSONString appends s as a JSON string, as encoding/json would.
func appendJSONString(dst []byte, s string) []byte { return jsonenc.AppendString(dst, s) }

// appendJSONBytes is appendJSONString for a byte slice.
func appendJSONBytes(dst []byte, s []byte) []byte { return jsonenc.AppendString(dst, s) }
