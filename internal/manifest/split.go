package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
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
	// list is set when the document is one item of a JSON list, split up
	// so that a list of any size is read item by item.
	list *listInfo
	// oversized is set (and data dropped) when the chunk exceeded the limit.
	oversized bool
}

var helmSourcePrefix = []byte("# Source: ")

// splitYAML cuts a YAML stream into documents at "---" and "..." lines,
// calling emit for each non-empty one. It reads line by line, so a huge file
// costs at most one document of memory; a longer document is reported as
// oversized and skipped up to the next separator.
func splitYAML(r io.Reader, emit func(document) error) error {
	br := bufioReader(r)
	line := 0
	cur := document{startLine: 1}
	var buf bytes.Buffer
	flush := func(nextStart int) error {
		d := cur
		if !d.oversized {
			if isBlankYAML(buf.Bytes()) {
				d.data = nil
			} else {
				d.data = bytes.Clone(buf.Bytes())
			}
		}
		buf.Reset()
		cur = document{startLine: nextStart}
		if d.oversized || d.data != nil {
			return emit(d)
		}
		return nil
	}
	for {
		text, err := readLine(br, maxDocumentBytes+1)
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
				if buf.Len()+len(text) > maxDocumentBytes {
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
			if apiVersion, kind, items := jsonListItems(raw); len(items) > 0 {
				for i, it := range items {
					d := document{startLine: lines.at(start + it.offset), num: num, list: &listInfo{apiVersion: apiVersion, kind: kind, item: i + 1}}
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
// offset, others (unexpected end) where the decoder stopped.
func (s *jsonStream) syntaxError(lines *lineCounter, err error) error {
	off := s.offset()
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = se.Offset
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
