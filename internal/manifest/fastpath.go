package manifest

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// The fast path converts the plain YAML that nearly every Kubernetes
// manifest is written in (block mappings and sequences, one-line plain and
// quoted scalars, one-line flow collections, "|" and "|-" literals as
// mapping values, comments) straight to JSON, without building a yaml.Node
// tree. It produces exactly what the yaml.v3 path produces, or declines:
// anything it is not sure about (anchors, aliases, tags, folded and other
// block scalars, multi-line plain and quoted scalars and flow collections,
// tabs, explicit keys, merge keys, duplicate keys, kind: List, documents
// that are not objects, ...) goes to yaml.v3. FuzzFastPathMatchesYAMLv3
// checks the equivalence.

// fastMaxDepth stays under the converter's maxDepth so that every document
// the converter would reject as too deep is declined.
const fastMaxDepth = maxDepth - 10

// fastMaxKeyLen stays under the 1024 characters yaml.v3 allows a simple key.
const fastMaxKeyLen = 1000

// fline is one content line (not blank, not only a comment) of a document.
type fline struct {
	base   int // offset of the line's first byte
	start  int // offset of the first non-blank byte
	end    int // offset of the line break (or of the end of the data)
	indent int // start - base
	num    int // 1-based line number in the document
}

// Roles of a mapping whose scalars parseDocument looks at.
const (
	roleNone = iota
	roleRoot
	roleMetadata
)

// fastParser holds the buffers one worker reuses from document to document.
type fastParser struct {
	data  []byte
	lines []fline
	out   []byte
	idx   []lineEntry
	nodes int
	// tmp holds unescaped quoted scalars; slices of it stay valid when it grows.
	tmp  []byte
	keys [][]byte

	// The value of the node parsed last, when it was a scalar.
	valScalar bool
	valRaw    []byte

	apiVersion, kind, name, generateName, namespace []byte
}

// parse converts a document, or declines with ok == false.
func (p *fastParser) parse(j docJob) (o *Object, ok bool) {
	if !p.reset(j.doc.data) || len(p.lines) == 0 {
		return nil, false
	}
	first := p.lines[0]
	if p.lineIsDash(first) || p.data[first.start] == '[' || p.data[first.start] == '{' {
		return nil, false
	}
	if _, _, isKey, ok := p.keyAt(0, first.start); !ok || !isKey {
		return nil, false
	}
	p.nodes++
	next, ok := p.blockMap(0, first.start, 0, newPathHash(), roleRoot)
	if !ok || next != len(p.lines) || p.nodes > maxExpandedNodes/2 || len(p.out) > maxDocumentBytes*4 {
		return nil, false
	}
	if len(p.apiVersion) == 0 || len(p.kind) == 0 || strings.HasSuffix(string(p.kind), "List") {
		return nil, false // let the yaml.v3 path report or expand it
	}
	abs := func(rel int) int { return j.fileLine(j.doc.startLine + rel - 1) }
	for i := range p.idx {
		p.idx[i].line = int32(abs(int(p.idx[i].line)))
	}
	lines, lineBase := newLineIndex(p.idx)
	o = &Object{
		File:       j.file,
		Line:       abs(first.num),
		HelmSource: j.doc.helmSource,
		APIVersion: string(p.apiVersion),
		Kind:       string(p.kind),
		Name:       string(p.name),
		Namespace:  string(p.namespace),
		JSON:       slices.Clone(p.out),
		lines:      lines,
		lineBase:   lineBase,
	}
	if o.Name == "" {
		o.Name = string(p.generateName)
	}
	return o, true
}

// reset checks the characters of a document and indexes its content lines.
func (p *fastParser) reset(data []byte) bool {
	p.data = data
	p.lines = p.lines[:0]
	p.out = p.out[:0]
	p.idx = p.idx[:0]
	p.tmp = p.tmp[:0]
	p.keys = p.keys[:0]
	p.nodes = 0
	p.apiVersion, p.kind, p.name, p.generateName, p.namespace = nil, nil, nil, nil, nil
	num := 0
	for base := 0; base < len(data); {
		num++
		i := base
		for i < len(data) && data[i] == ' ' {
			i++
		}
		start := i
		for i < len(data) && data[i] != '\n' {
			c := data[i]
			if c >= 0x20 && c < 0x7f {
				i++
				continue
			}
			if c < 0x80 {
				return false // tab, CR, other controls, DEL
			}
			r, size := utf8.DecodeRune(data[i:])
			if !fastPrintable(r, size) {
				return false
			}
			i += size
		}
		if start == base && i-base >= 3 && (string(data[base:base+3]) == "---" || string(data[base:base+3]) == "...") &&
			(i-base == 3 || data[base+3] == ' ') {
			return false // a document marker: the splitter never leaves one
		}
		if start < i && data[start] != '#' {
			p.lines = append(p.lines, fline{base: base, start: start, end: i, indent: start - base, num: num})
		}
		base = i + 1
	}
	return true
}

// fastPrintable accepts the non-ASCII characters that yaml.v3 reads as
// ordinary printable text: no byte order marks, no NEL, LS or PS breaks.
func fastPrintable(r rune, size int) bool {
	if r == utf8.RuneError && size == 1 {
		return false
	}
	switch {
	case r < 0xA0, r == 0x2028, r == 0x2029, r == 0xFEFF, r >= 0xD800 && r <= 0xDFFF:
		return false
	case r == 0xFFFE, r == 0xFFFF, r > 0x10FFFF:
		return false
	}
	return true
}

func (p *fastParser) lineIsDash(l fline) bool {
	return p.data[l.start] == '-' && (l.start+1 == l.end || p.data[l.start+1] == ' ')
}

func (p *fastParser) mark(h pathHash, line int) {
	p.idx = append(p.idx, lineEntry{hash: uint64(h), line: int32(line)})
}

// skipSpaces returns the first non-space offset at or after i on line l.
func (p *fastParser) skipSpaces(i int, l fline) int {
	for i < l.end && p.data[i] == ' ' {
		i++
	}
	return i
}

// restIsEmpty reports whether nothing but blanks and a comment follow
// offset i on line l. A comment needs a blank before it.
func (p *fastParser) restIsEmpty(i int, l fline) bool {
	j := p.skipSpaces(i, l)
	return j == l.end || (j > i && p.data[j] == '#')
}

// blockNode parses the node at offset pos of content line li, where a block
// collection may start (the start of a line, or after "- ").
func (p *fastParser) blockNode(li, pos, depth int, h pathHash, role int) (int, bool) {
	p.nodes++
	if depth > fastMaxDepth {
		return 0, false
	}
	l := p.lines[li]
	switch c := p.data[pos]; {
	case c == '-' && (pos+1 == l.end || p.data[pos+1] == ' '):
		return p.blockSeq(li, pos, depth, h)
	case c == '[' || c == '{':
		end, ok := p.flowNode(li, pos, depth, h, role)
		if !ok || !p.restIsEmpty(end, l) {
			return 0, false
		}
		return li + 1, true
	}
	_, _, isKey, ok := p.keyAt(li, pos)
	if !ok {
		return 0, false
	}
	if isKey {
		return p.blockMap(li, pos, depth, h, role)
	}
	end, ok := p.scalar(li, pos, false)
	if !ok || !p.restIsEmpty(end, l) {
		return 0, false
	}
	return li + 1, true
}

// keyAt looks at offset pos of line li for "key:" followed by a blank or
// the end of the line. It returns the key's value and the offset after the
// colon; ok is false when the text is something the fast path declines.
func (p *fastParser) keyAt(li, pos int) (key []byte, after int, isKey, ok bool) {
	l := p.lines[li]
	d := p.data
	switch d[pos] {
	case '"', '\'':
		raw, end, ok := p.quoted(li, pos)
		if !ok {
			return nil, 0, false, false
		}
		if end < l.end && d[end] == ':' && (end+1 == l.end || d[end+1] == ' ') {
			if end-pos > fastMaxKeyLen {
				return nil, 0, false, false
			}
			return raw, end + 1, true, true
		}
		return nil, 0, false, true
	}
	if !p.plainStart(pos, l.end, false) {
		return nil, 0, false, false
	}
	for i := pos; i < l.end; i++ {
		switch d[i] {
		case ':':
			if i+1 == l.end || d[i+1] == ' ' {
				if d[i-1] == ' ' || i-pos > fastMaxKeyLen {
					return nil, 0, false, false
				}
				return d[pos:i], i + 1, true, true
			}
		case '#':
			if d[i-1] == ' ' {
				return nil, 0, false, true
			}
		}
	}
	return nil, 0, false, true
}

// plainStart reports whether a plain scalar may start at offset pos (the
// fast path's conservative reading of YAML's rules).
func (p *fastParser) plainStart(pos, end int, flow bool) bool {
	d := p.data
	switch d[pos] {
	case '-':
		if pos+1 == end {
			return false
		}
		switch d[pos+1] {
		case ' ', ',', '[', ']', '{', '}':
			return false
		}
		return true
	case '?', ':':
		if flow || pos+1 == end || d[pos+1] == ' ' {
			return false
		}
		return true
	case ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', ' ':
		return false
	}
	return true
}

// blockMap parses a block mapping whose first key is at offset pos of line li.
func (p *fastParser) blockMap(li, pos, depth int, h pathHash, role int) (int, bool) {
	if depth > fastMaxDepth {
		return 0, false
	}
	col := pos - p.lines[li].base
	p.out = append(p.out, '{')
	keys := len(p.keys)
	var seen map[string]struct{}
	next := 0
	for n := 0; ; n++ {
		l := p.lines[li]
		key, after, isKey, ok := p.keyAt(li, pos)
		if !ok || !isKey {
			return 0, false
		}
		plainKey := p.data[pos] != '"' && p.data[pos] != '\''
		if plainKey && string(key) == "<<" {
			return 0, false // merge key
		}
		jsonKey := key
		if plainKey {
			switch string(key) {
			case "~", "null", "Null", "NULL":
				jsonKey = nullKey
			}
		}
		// Duplicate keys are errors the yaml.v3 path reports.
		if seen != nil {
			if _, dup := seen[string(jsonKey)]; dup {
				return 0, false
			}
			seen[string(jsonKey)] = struct{}{}
		} else {
			for _, k := range p.keys[keys:] {
				if string(k) == string(jsonKey) {
					return 0, false
				}
			}
			p.keys = append(p.keys, jsonKey)
			if len(p.keys)-keys > 16 {
				seen = make(map[string]struct{}, 64)
				for _, k := range p.keys[keys:] {
					seen[string(k)] = struct{}{}
				}
			}
		}
		if n > 0 {
			p.out = append(p.out, ',')
		}
		p.out = appendJSONBytes(p.out, jsonKey)
		p.out = append(p.out, ':')
		var child pathHash
		if role == roleRoot {
			child = h.addBytes(jsonKey)
		} else {
			child = h.add(".").addBytes(jsonKey)
		}
		p.mark(child, l.num)
		childRole := roleNone
		if role == roleRoot && string(key) == "metadata" {
			childRole = roleMetadata
		}
		v := p.skipSpaces(after, l)
		if v == l.end || (p.data[v] == '#' && v > after) {
			// The value is on the following lines, or null.
			nl := li + 1
			switch {
			case nl < len(p.lines) && p.lines[nl].indent > col:
				next, ok = p.blockNode(nl, p.lines[nl].start, depth+1, child, childRole)
			case nl < len(p.lines) && p.lines[nl].indent == col && p.lineIsDash(p.lines[nl]):
				next, ok = p.blockNode(nl, p.lines[nl].start, depth+1, child, childRole)
			default:
				p.nodes++
				p.out = append(p.out, "null"...)
				p.valScalar, p.valRaw = true, nil
				next, ok = nl, true
			}
		} else {
			next, ok = p.inlineValue(li, v, col, depth+1, child, childRole)
		}
		if !ok {
			return 0, false
		}
		p.capture(role, key)
		if next >= len(p.lines) || p.lines[next].indent < col {
			break
		}
		if p.lines[next].indent > col {
			return 0, false
		}
		li, pos = next, p.lines[next].start
	}
	p.keys = p.keys[:keys]
	p.out = append(p.out, '}')
	p.valScalar = false
	return next, true
}

var nullKey = []byte("null")

// capture keeps the scalars parseDocument reads from the object.
func (p *fastParser) capture(role int, key []byte) {
	if role == roleNone || !p.valScalar {
		return
	}
	raw := p.valRaw
	if raw == nil || bytes.HasSuffix(p.out, []byte("null")) {
		// Present but empty, or null ("~", "null"): as topScalar has
		// it, no value. The value was just written, and only a null
		// ends in "null" (a string would end in a quote).
		raw = []byte{}
	}
	switch role {
	case roleRoot:
		switch string(key) {
		case "apiVersion":
			p.apiVersion = raw
		case "kind":
			p.kind = raw
		}
	case roleMetadata:
		switch string(key) {
		case "name":
			p.name = raw
		case "generateName":
			p.generateName = raw
		case "namespace":
			p.namespace = raw
		}
	}
}

// blockSeq parses a block sequence whose first "-" is at offset pos of line li.
func (p *fastParser) blockSeq(li, pos, depth int, h pathHash) (int, bool) {
	col := pos - p.lines[li].base
	p.out = append(p.out, '[')
	next := 0
	for i := 0; ; i++ {
		l := p.lines[li]
		if i > 0 {
			p.out = append(p.out, ',')
		}
		child := h.index(i)
		q := p.skipSpaces(pos+1, l)
		var ok bool
		if q == l.end || (p.data[q] == '#' && q > pos+1) {
			nl := li + 1
			if nl >= len(p.lines) || p.lines[nl].indent <= col {
				return 0, false // an empty item
			}
			p.mark(child, p.lines[nl].num)
			next, ok = p.blockNode(nl, p.lines[nl].start, depth+1, child, roleNone)
		} else {
			p.mark(child, l.num)
			next, ok = p.blockNode(li, q, depth+1, child, roleNone)
		}
		if !ok {
			return 0, false
		}
		if next >= len(p.lines) || p.lines[next].indent < col {
			break
		}
		if p.lines[next].indent > col {
			return 0, false
		}
		if !p.lineIsDash(p.lines[next]) {
			break
		}
		li, pos = next, p.lines[next].start
	}
	p.out = append(p.out, ']')
	p.valScalar = false
	return next, true
}

// inlineValue parses the value after "key: " on the key's line, in a
// mapping at column col.
func (p *fastParser) inlineValue(li, pos, col, depth int, h pathHash, role int) (int, bool) {
	l := p.lines[li]
	var end int
	var ok bool
	switch p.data[pos] {
	case '|':
		p.nodes++
		return p.literal(li, pos, col)
	case '[', '{':
		end, ok = p.flowNode(li, pos, depth, h, role)
	default:
		p.nodes++
		end, ok = p.scalar(li, pos, true)
	}
	if !ok || !p.restIsEmpty(end, l) {
		return 0, false
	}
	return li + 1, true
}

// scalar parses a one-line plain or quoted scalar in block context and
// writes its JSON. inline is set after "key: ", where the text must not
// look like another key.
func (p *fastParser) scalar(li, pos int, inline bool) (int, bool) {
	l := p.lines[li]
	d := p.data
	if d[pos] == '"' || d[pos] == '\'' {
		raw, end, ok := p.quoted(li, pos)
		if !ok {
			return 0, false
		}
		p.out = appendJSONBytes(p.out, raw)
		p.valScalar, p.valRaw = true, raw
		return end, true
	}
	if !p.plainStart(pos, l.end, false) {
		return 0, false
	}
	end := l.end
	for i := pos; i < l.end; i++ {
		if d[i] == '#' && d[i-1] == ' ' {
			end = i
			break
		}
		if d[i] == ':' && (i+1 == l.end || d[i+1] == ' ') {
			return 0, false // "a: b: c" and the like
		}
	}
	if inline && end == l.end && l.end > pos && d[l.end-1] == ':' {
		return 0, false
	}
	for end > pos && d[end-1] == ' ' {
		end--
	}
	p.plainJSON(d[pos:end])
	return end, true
}

// plainJSON writes a plain scalar with the type yaml.v3 resolves for it,
// except the YAML 1.1 booleans go-yaml v2 reads (yaml11Bool).
func (p *fastParser) plainJSON(v []byte) {
	p.valScalar, p.valRaw = true, v
	switch v[0] {
	case '+', '-', '.', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
	case 'y', 'Y', 'n', 'N', 't', 'T', 'f', 'F', 'o', 'O', '~', '<':
		if len(v) > 5 {
			p.out = appendJSONBytes(p.out, v) // longer than any special word
			return
		}
	default:
		p.out = appendJSONBytes(p.out, v) // always a string
		return
	}
	digits, numeric := true, true
	for _, c := range v {
		switch {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'f', c >= 'A' && c <= 'F', c == 'x', c == 'X', c == 'o', c == 'O', c == '_', c == '.', c == '+', c == '-':
			digits = false
		default:
			digits, numeric = false, false
		}
	}
	if digits && len(v) <= 18 && (v[0] != '0' || len(v) == 1) {
		p.out = append(p.out, v...) // a decimal int64 prints as written
		return
	}
	if !numeric && v[0] != '~' && v[0] != '<' && (len(v) > 5 || v[0] == '+' || v[0] == '-' || v[0] == '.' || (v[0] >= '0' && v[0] <= '9')) {
		// No number, special word or prefix of one can hold these
		// characters (timestamps, which can, are strings too).
		p.out = appendJSONBytes(p.out, v)
		return
	}
	switch string(v) {
	case "true":
		p.out = append(p.out, "true"...)
		return
	case "false":
		p.out = append(p.out, "false"...)
		return
	}
	if b, ok := yaml11Bool(string(v)); ok {
		p.out = strconv.AppendBool(p.out, b) // as go-yaml v2 reads it (converter.scalar)
		return
	}
	// Ask yaml.v3 itself how it resolves the rest.
	s := string(v)
	n := yaml.Node{Kind: yaml.ScalarNode, Value: s}
	p.out = appendScalarJSON(p.out, n.ShortTag(), s)
}

// quoted reads a one-line single- or double-quoted scalar starting at pos
// and returns its value and the offset after the closing quote.
func (p *fastParser) quoted(li, pos int) ([]byte, int, bool) {
	l := p.lines[li]
	d := p.data
	q := d[pos]
	i := pos + 1
	// Common case: no escapes, the value is a slice of the input.
	for i < l.end && d[i] != q && d[i] != '\\' {
		i++
	}
	if i == l.end {
		return nil, 0, false
	}
	if d[i] == q && (q == '"' || i+1 == l.end || d[i+1] != '\'') {
		return d[pos+1 : i], i + 1, true
	}
	if q == '\'' && d[i] == '\\' {
		// A backslash is ordinary in single quotes: take the slow loop.
		i = pos + 1
	}
	start := len(p.tmp)
	p.tmp = append(p.tmp, d[pos+1:i]...)
	for i < l.end {
		c := d[i]
		switch {
		case q == '\'' && c == '\'':
			if i+1 < l.end && d[i+1] == '\'' {
				p.tmp = append(p.tmp, '\'')
				i += 2
				continue
			}
			return p.tmp[start:], i + 1, true
		case q == '"' && c == '"':
			return p.tmp[start:], i + 1, true
		case q == '"' && c == '\\':
			if i+1 >= l.end {
				return nil, 0, false // an escaped line break
			}
			n, ok := p.escape(d[i+1 : l.end])
			if !ok {
				return nil, 0, false
			}
			i += 1 + n
		default:
			p.tmp = append(p.tmp, c)
			i++
		}
	}
	return nil, 0, false
}

// escape appends the character of the escape sequence at the start of s
// (after the backslash) and returns its length.
func (p *fastParser) escape(s []byte) (int, bool) {
	var b byte
	switch s[0] {
	case '0':
		b = 0
	case 'a':
		b = '\a'
	case 'b':
		b = '\b'
	case 't':
		b = '\t'
	case 'n':
		b = '\n'
	case 'v':
		b = '\v'
	case 'f':
		b = '\f'
	case 'r':
		b = '\r'
	case 'e':
		b = 0x1b
	case ' ', '"', '\'', '\\':
		b = s[0]
	case 'N':
		p.tmp = utf8.AppendRune(p.tmp, 0x85)
		return 1, true
	case '_':
		p.tmp = utf8.AppendRune(p.tmp, 0xA0)
		return 1, true
	case 'L':
		p.tmp = utf8.AppendRune(p.tmp, 0x2028)
		return 1, true
	case 'P':
		p.tmp = utf8.AppendRune(p.tmp, 0x2029)
		return 1, true
	case 'x', 'u', 'U':
		n := 2
		switch s[0] {
		case 'u':
			n = 4
		case 'U':
			n = 8
		}
		if len(s) < 1+n {
			return 0, false
		}
		var r rune
		for _, c := range s[1 : 1+n] {
			var v byte
			switch {
			case c >= '0' && c <= '9':
				v = c - '0'
			case c >= 'a' && c <= 'f':
				v = c - 'a' + 10
			case c >= 'A' && c <= 'F':
				v = c - 'A' + 10
			default:
				return 0, false
			}
			r = r<<4 | rune(v)
		}
		if r >= 0xD800 && r <= 0xDFFF || r > 0x10FFFF {
			return 0, false
		}
		p.tmp = utf8.AppendRune(p.tmp, r)
		return 1 + n, true
	default:
		return 0, false
	}
	p.tmp = append(p.tmp, b)
	return 1, true
}

// flowNode parses a node inside (or starting) a one-line flow collection
// and returns the offset after it.
func (p *fastParser) flowNode(li, pos, depth int, h pathHash, role int) (int, bool) {
	if depth > fastMaxDepth {
		return 0, false
	}
	l := p.lines[li]
	d := p.data
	switch d[pos] {
	case '[':
		p.nodes++
		p.out = append(p.out, '[')
		i := p.skipSpaces(pos+1, l)
		for n := 0; ; n++ {
			if i == l.end {
				return 0, false
			}
			if d[i] == ']' {
				if n > 0 {
					return 0, false // a trailing comma
				}
				break
			}
			if n > 0 {
				p.out = append(p.out, ',')
			}
			child := h.index(n)
			p.mark(child, l.num)
			end, ok := p.flowNode(li, i, depth+1, child, roleNone)
			if !ok {
				return 0, false
			}
			i = p.skipSpaces(end, l)
			if i < l.end && d[i] == ',' {
				i = p.skipSpaces(i+1, l)
				continue
			}
			if i < l.end && d[i] == ']' {
				break
			}
			return 0, false
		}
		p.out = append(p.out, ']')
		p.valScalar = false
		return i + 1, true
	case '{':
		p.nodes++
		p.out = append(p.out, '{')
		keys := len(p.keys)
		i := p.skipSpaces(pos+1, l)
		for n := 0; ; n++ {
			if i == l.end {
				return 0, false
			}
			if d[i] == '}' {
				if n > 0 {
					return 0, false
				}
				break
			}
			// The key, then ": ".
			var key []byte
			var after int
			plainKey := false
			switch d[i] {
			case '"', '\'':
				raw, end, ok := p.quoted(li, i)
				if !ok || end-i > fastMaxKeyLen {
					return 0, false
				}
				key, after = raw, end
			default:
				end, ok := p.flowPlainEnd(i, l)
				if !ok || end-i > fastMaxKeyLen {
					return 0, false
				}
				key, after = d[i:end], end
				plainKey = true
			}
			if after+1 >= l.end || d[after] != ':' || d[after+1] != ' ' {
				return 0, false
			}
			jsonKey := key
			if plainKey {
				switch string(key) {
				case "<<":
					return 0, false
				case "~", "null", "Null", "NULL":
					jsonKey = nullKey
				}
			}
			for _, k := range p.keys[keys:] {
				if string(k) == string(jsonKey) {
					return 0, false
				}
			}
			if len(p.keys)-keys > 64 {
				return 0, false // keep the duplicate check cheap
			}
			p.keys = append(p.keys, jsonKey)
			if n > 0 {
				p.out = append(p.out, ',')
			}
			p.out = appendJSONBytes(p.out, jsonKey)
			p.out = append(p.out, ':')
			var child pathHash
			if role == roleRoot {
				child = h.addBytes(jsonKey)
			} else {
				child = h.add(".").addBytes(jsonKey)
			}
			p.mark(child, l.num)
			i = p.skipSpaces(after+1, l)
			if i == l.end || d[i] == ',' || d[i] == '}' {
				return 0, false // an empty value
			}
			end, ok := p.flowNode(li, i, depth+1, child, roleNone)
			if !ok {
				return 0, false
			}
			if role == roleMetadata {
				p.capture(role, key)
			}
			i = p.skipSpaces(end, l)
			if i < l.end && d[i] == ',' {
				i = p.skipSpaces(i+1, l)
				continue
			}
			if i < l.end && d[i] == '}' {
				break
			}
			return 0, false
		}
		p.keys = p.keys[:keys]
		p.out = append(p.out, '}')
		p.valScalar = false
		return i + 1, true
	case '"', '\'':
		p.nodes++
		raw, end, ok := p.quoted(li, pos)
		if !ok {
			return 0, false
		}
		p.out = appendJSONBytes(p.out, raw)
		p.valScalar, p.valRaw = true, raw
		return end, true
	}
	p.nodes++
	end, ok := p.flowPlainEnd(pos, l)
	if !ok {
		return 0, false
	}
	p.plainJSON(d[pos:end])
	return end, true
}

// flowPlainEnd returns the end of a plain scalar inside a flow collection,
// without trailing blanks.
func (p *fastParser) flowPlainEnd(pos int, l fline) (int, bool) {
	d := p.data
	if !p.plainStart(pos, l.end, true) {
		return 0, false
	}
	i := pos
loop:
	for ; i < l.end; i++ {
		switch d[i] {
		case ',', '[', ']', '{', '}':
			break loop
		case '#', '?':
			return 0, false
		case ':':
			if i+1 == l.end {
				return 0, false
			}
			switch d[i+1] {
			case ' ':
				break loop
			case ',', '[', ']', '{', '}', '?', '#':
				return 0, false
			}
		}
	}
	if i == l.end {
		return 0, false // the collection goes on past this line
	}
	end := i
	for end > pos && d[end-1] == ' ' {
		end--
	}
	if end == pos {
		return 0, false
	}
	return end, true
}

// literal parses a literal block scalar ("|" or "|-", no indentation
// indicator) that is the value of a key in a mapping at column col, and
// returns the content line after it. It declines leading blank lines,
// blank lines holding more spaces than the indentation, "|+", and a last
// line without a line break.
func (p *fastParser) literal(li, pos, col int) (int, bool) {
	l := p.lines[li]
	d := p.data
	i := pos + 1
	strip := false
	if i < l.end && d[i] == '-' {
		strip = true
		i++
	}
	if !p.restIsEmpty(i, l) {
		return 0, false
	}
	start := len(p.tmp)
	indent := -1
	blanks := 0
	off := l.end + 1
	for off < len(d) {
		e := off
		for e < len(d) && d[e] != '\n' {
			e++
		}
		sp := off
		for sp < e && d[sp] == ' ' {
			sp++
		}
		ind := sp - off
		if sp == e {
			if indent < 0 || ind > indent {
				return 0, false
			}
			blanks++
			off = e + 1
			continue
		}
		if indent < 0 {
			if ind <= col {
				return 0, false // an empty block scalar
			}
			indent = ind
		} else if ind < indent {
			break
		} else {
			p.tmp = append(p.tmp, '\n')
			for ; blanks > 0; blanks-- {
				p.tmp = append(p.tmp, '\n')
			}
		}
		if e == len(d) {
			return 0, false // no line break after the last line
		}
		blanks = 0
		p.tmp = append(p.tmp, d[off+indent:e]...)
		off = e + 1
	}
	if indent < 0 {
		return 0, false
	}
	if !strip {
		p.tmp = append(p.tmp, '\n')
	}
	v := p.tmp[start:]
	p.out = appendJSONBytes(p.out, v)
	p.valScalar, p.valRaw = true, v
	next := li + 1
	for next < len(p.lines) && p.lines[next].base < off {
		next++
	}
	return next, true
}
