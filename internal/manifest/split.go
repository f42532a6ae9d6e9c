package manifest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// maxDocumentBytes bounds one YAML document; the API server itself refuses
// requests over 3 MiB, so a larger object cannot be a real manifest.
const maxDocumentBytes = 4 << 20

// document is one chunk of a YAML stream, before parsing.
type document struct {
	// startLine is the line in the file of the chunk's first line.
	startLine  int
	data       []byte
	helmSource string
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
				if cur.helmSource == "" && bytes.HasPrefix(text, helmSourcePrefix) {
					cur.helmSource = string(bytes.TrimSpace(text[len(helmSourcePrefix):]))
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
// accepts) into documents, recording the line each starts on.
func splitJSON(data []byte, emit func(document) error) error {
	dec := jsonDecoder(data)
	line := 1
	prev := int64(0)
	for {
		start, raw, err := dec.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", line+bytes.Count(data[prev:min(int64(len(data)), dec.offset())], []byte("\n")), err)
		}
		line += bytes.Count(data[prev:start], []byte("\n"))
		prev = start
		if len(raw) > maxDocumentBytes {
			if err := emit(document{startLine: line, oversized: true}); err != nil {
				return err
			}
			continue
		}
		// Pad with the newlines before the value on its own line, so the
		// YAML parser's columns match; lines are offset by startLine.
		if err := emit(document{startLine: line, data: raw}); err != nil {
			return err
		}
	}
}
