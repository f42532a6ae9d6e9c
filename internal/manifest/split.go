package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// maxDocumentBytes bounds one YAML document; the API server itself refuses
// requests over 3 MiB, so a larger object cannot be a real manifest.
const maxDocumentBytes = 4 << 20

// document is one chunk of a YAML stream, before parsing.
type document struct {
	// startLine is the line in the file of the chunk's first line.
	startLine int
	data      []byte
	// helmSource is the template named by a "# Source:" comment before the
	// document's content, and helmLine the line of that comment.
	helmSource string
	helmLine   int
	// elem is the 1-based position of the document in a top-level JSON
	// array, 0 when it is not an array element.
	elem int
	// num is the 1-based position of the document in its file, for
	// messages; 0 lets the reader number documents as they come.
	num int
	// list is set when the document is one item of a list split up so
	// that a list of any size is read item by item (JSON lists, and YAML
	// lists larger than maxDocumentBytes).
	list *listInfo
	// oversized is set (and data dropped) when the chunk exceeded the limit.
	oversized bool
}

var helmSourcePrefix = []byte("# Source: ")

// maxListBytes bounds a YAML list document: a list over maxDocumentBytes
// (kubectl get pods -A -o yaml on a cluster of a few hundred pods) is read
// item by item, and the whole of it is kept in memory until its end, where
// kubectl writes its kind.
const maxListBytes = 64 << 20

// splitYAML cuts a YAML stream into documents at "---" and "..." lines,
// calling emit for each non-empty one. It reads line by line, so a huge file
// costs at most one document of memory; a longer document is reported as
// oversized and skipped up to the next separator, unless it is a list with
// a block sequence of items, which is then split into its items.
func splitYAML(r io.Reader, emit func(document) error) error {
	return yamlSplitter{limit: maxDocumentBytes, listLimit: maxListBytes}.split(r, emit)
}

// yamlSplitter holds the limits of splitYAML; tests lower them.
type yamlSplitter struct{ limit, listLimit int }

func (sp yamlSplitter) split(r io.Reader, emit func(document) error) error {
	br := bufioReader(r)
	line := 0
	num := 0
	cur := document{startLine: 1}
	var buf bytes.Buffer
	// hasItems is set once the current document has an "items:" line at
	// column 0: only such a document may grow past the limit.
	hasItems := false
	flush := func(nextStart int) error {
		d := cur
		if !d.oversized {
			if isBlankYAML(buf.Bytes()) {
				d.data = nil
			} else {
				d.data = bytes.Clone(buf.Bytes())
			}
		}
		big := buf.Len() > sp.limit
		buf.Reset()
		cur, hasItems = document{startLine: nextStart}, false
		if !d.oversized && d.data == nil {
			return nil
		}
		num++
		d.num = num
		if big {
			items, ok := splitYAMLList(d)
			if !ok {
				return emit(document{startLine: d.startLine, num: num, oversized: true})
			}
			for _, it := range items {
				if err := emit(it); err != nil {
					return err
				}
			}
			return nil
		}
		return emit(d)
	}
	for {
		maxLine := sp.limit + 1
		if hasItems {
			maxLine = sp.listLimit + 1
		}
		text, err := readLine(br, maxLine)
		if len(text) > 0 || err == nil {
			line++
			switch {
			case isSeparator(text, "---"):
				if err := flush(line); err != nil {
					return err
				}
				// "--- value" keeps its content: blank the marker so
				// columns and lines stay right.
				rest := bytes.TrimLeft(text[3:], " \t")
				if len(rest) > 0 && rest[0] != '#' && rest[0] != '\n' && rest[0] != '\r' {
					buf.WriteString("   ")
					buf.Write(text[3:])
				} else {
					buf.WriteByte('\n')
				}
			case isSeparator(text, "..."):
				if err := flush(line + 1); err != nil {
					return err
				}
			case cur.oversized:
				// skip to the next separator
			default:
				// Only a comment before the content names the template
				// of the whole document, as Helm prints it.
				if cur.helmSource == "" && bytes.HasPrefix(text, helmSourcePrefix) && isBlankYAML(buf.Bytes()) {
					cur.helmSource = string(bytes.TrimSpace(text[len(helmSourcePrefix):]))
					cur.helmLine = line
				}
				if !hasItems && isItemsKey(text) {
					hasItems = true
				}
				if size := buf.Len() + len(text); size > sp.limit && (!hasItems || size > sp.listLimit) {
					cur.oversized = true
					buf.Reset()
					continue
				}
				buf.Write(text)
			}
		}
		if err == io.EOF {
			return flush(line + 1)
		}
		if err != nil {
			return err
		}
	}
}

// isItemsKey reports whether a line is "items:" at column 0 with nothing
// after it but blanks or a comment: the start of a list's block sequence.
func isItemsKey(text []byte) bool {
	rest, ok := bytes.CutPrefix(text, []byte("items:"))
	if !ok {
		return false
	}
	rest = bytes.TrimLeft(rest, " \t")
	return len(rest) == 0 || rest[0] == '#' || rest[0] == '\n' || rest[0] == '\r'
}

// splitYAMLList cuts a list document into one document per item, each
// with the list as context, the way kubectl and the API server write
// lists: "items:" at column 0 followed by a block sequence (at column 0 or
// indented), the other fields (apiVersion, kind, metadata) before or after
// it. Each item's "-" is blanked so that its text is a mapping with the
// same lines and columns. It returns false when the document is not such a
// list; anchors shared between items are not supported (an item using one
// is then an error of its own).
func splitYAMLList(d document) ([]document, bool) {
	var header bytes.Buffer
	type chunk struct {
		start, line int
	}
	var items []chunk
	const (
		before = iota
		inItems
		after
	)
	state, indent := before, -1
	data := d.data
	itemsEnd := len(data)
	for off, n := 0, 0; off < len(data); n++ {
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += off + 1
		}
		text := data[off:end]
		lineOff := off
		off = end
		trimmed := bytes.TrimLeft(text, " ")
		spaces := len(text) - len(trimmed)
		blank := len(bytes.TrimSpace(trimmed)) == 0 || trimmed[0] == '#'
		if state == inItems && !blank {
			dash := trimmed[0] == '-' && (len(trimmed) == 1 || trimmed[1] == ' ' || trimmed[1] == '\n' || trimmed[1] == '\r')
			switch {
			case indent < 0 && !dash:
				return nil, false // "items:" followed by something else
			case indent < 0 || (spaces == indent && dash):
				indent = spaces
				items = append(items, chunk{start: lineOff, line: d.startLine + n})
				continue
			case spaces > indent:
				continue // inside the current item
			case spaces < indent || indent == 0:
				state, itemsEnd = after, lineOff // a field of the list after its items
			default:
				return nil, false // not a block sequence at the items' column
			}
		}
		if state == inItems {
			continue // a blank or comment line between items
		}
		if isItemsKey(text) {
			if state != before {
				return nil, false // "items" twice
			}
			state = inItems
			header.WriteByte('\n')
			continue
		}
		header.Write(text)
	}
	var root yaml.Node
	if len(items) == 0 || yaml.Unmarshal(header.Bytes(), &root) != nil || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, false
	}
	apiVersion, kind := topScalar(root.Content[0], "apiVersion"), topScalar(root.Content[0], "kind")
	if apiVersion == "" || !strings.HasSuffix(kind, "List") || duplicateKey(root.Content[0]) != "" {
		return nil, false
	}
	var partial string
	if md := topValue(root.Content[0], "metadata"); md != nil && md.Kind == yaml.MappingNode {
		partial = partialList(topScalar(md, "continue"), topScalar(md, "remainingItemCount"))
	}
	docs := make([]document, len(items))
	for i, it := range items {
		end := itemsEnd
		if i+1 < len(items) {
			end = items[i+1].start
		}
		text := bytes.Clone(data[it.start:end])
		text[indent] = ' ' // the item's "-"
		docs[i] = document{startLine: it.line, data: text, num: d.num, helmSource: d.helmSource, helmLine: d.helmLine,
			list: &listInfo{apiVersion: apiVersion, kind: kind, item: i + 1, partial: partial}}
	}
	return docs, true
}

// readLine returns the next line including its newline. A line longer than
// max is returned truncated to max bytes (the caller then treats the
// document as oversized) and the rest of it is discarded. The line is only
// valid until the next read.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	chunk, err := br.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		if len(chunk) > max {
			chunk = chunk[:max]
		}
		return chunk, err
	}
	out := append([]byte(nil), chunk[:min(len(chunk), max)]...)
	for {
		chunk, err := br.ReadSlice('\n')
		if len(out)+len(chunk) <= max {
			out = append(out, chunk...)
		} else if len(out) < max {
			out = append(out, chunk[:max-len(out)]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return out, err
	}
}

// isSeparator reports whether line is the marker followed by nothing but
// blanks, a comment or content separated by a blank.
func isSeparator(line []byte, marker string) bool {
	if !bytes.HasPrefix(line, []byte(marker)) {
		return false
	}
	rest := line[len(marker):]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\n' || rest[0] == '\r'
}

// isBlankYAML reports whether a chunk holds only blanks and comments.
func isBlankYAML(b []byte) bool {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		var l []byte
		if i < 0 {
			l, b = b, nil
		} else {
			l, b = b[:i], b[i+1:]
		}
		l = bytes.TrimSpace(l)
		if len(l) > 0 && l[0] != '#' && !bytes.HasPrefix(l, []byte("%")) {
			return false
		}
	}
	return true
}

// splitJSON cuts a stream of JSON values (one or more objects, as kubectl
// accepts, or arrays of objects, as scripts dump them) into documents,
// recording the line each starts on. Each object element of a top-level
// array is a document of its own; elements that are not objects are
// reported once per array with note, as the array is then not a list of
// manifests. A leading byte order mark is skipped.
func splitJSON(data []byte, emit func(document) error, note func(line int, format string, args ...any)) error {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	s := jsonDecoder(data)
	lines := lineCounter{data: data, line: 1}
	num := 0 // top-level values that are not arrays
	for {
		start, raw, err := s.nextValue(false)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return s.syntaxError(&lines, err)
		}
		if raw != nil {
			num++
			if list, items := jsonListItems(raw); len(items) > 0 {
				for i, it := range items {
					item := list
					item.item = i + 1
					d := document{startLine: lines.at(start + it.offset), num: num, list: &item}
					if len(it.raw) > maxDocumentBytes {
						d.oversized = true
					} else {
						d.data = it.raw
					}
					if err := emit(d); err != nil {
						return err
					}
				}
				continue
			}
			if err := emitJSON(emit, lines.at(start), raw, 0); err != nil {
				return err
			}
			continue
		}
		// An array: its elements, one by one.
		arrayLine := lines.at(start)
		others, othersLine := 0, 0
		for elem := 1; ; elem++ {
			start, raw, err := s.nextValue(true)
			if err == io.EOF {
				break
			}
			if err != nil {
				return s.syntaxError(&lines, err)
			}
			if raw[0] != '{' {
				if others == 0 {
					othersLine = lines.at(start)
				}
				others++
				continue
			}
			if err := emitJSON(emit, lines.at(start), raw, elem); err != nil {
				return err
			}
		}
		if others > 0 {
			note(othersLine, "JSON array at line %d: %d elements are not objects, so not Kubernetes manifests; skipped", arrayLine, others)
		}
	}
}

// jsonError is a syntax error in a JSON stream and the line it was met on.
type jsonError struct {
	line int
	err  error
}

// syntaxError locates an error of the decoder: a syntax error at its
// offset, an unexpected end at the end.
func (s *jsonStream) syntaxError(lines *lineCounter, err error) error {
	off := s.offset()
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.Is(err, io.ErrUnexpectedEOF):
		off = int64(len(bytes.TrimRight(s.data, " \t\r\n"))) // the last line with content
	}
	return &jsonError{line: lines.at(off), err: err}
}

func (e *jsonError) Error() string { return e.err.Error() }
func (e *jsonError) Unwrap() error { return e.err }

// looksLikeJSON reports whether data, which starts with '{' or '[', is
// JSON rather than YAML flow style: JSON's first key or element is quoted,
// or the collection is empty. "{apiVersion: v1, ...}" is YAML.
func looksLikeJSON(data []byte) bool {
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case ' ', '\t', '\r', '\n', '{', '[':
			continue
		case '"', '}', ']':
			return true
		}
		return false
	}
	return true
}

func emitJSON(emit func(document) error, line int, raw []byte, elem int) error {
	if len(raw) > maxDocumentBytes {
		return emit(document{startLine: line, oversized: true, elem: elem})
	}
	return emit(document{startLine: line, data: raw, elem: elem})
}

// lineCounter turns increasing offsets into line numbers in one pass.
type lineCounter struct {
	data []byte
	prev int64
	line int
}

func (c *lineCounter) at(off int64) int {
	off = min(max(off, c.prev), int64(len(c.data)))
	c.line += bytes.Count(c.data[c.prev:off], []byte("\n"))
	c.prev = off
	return c.line
}
