package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// jsonStream yields the top-level values of a JSON stream with their
// offsets, and the elements of top-level arrays one at a time, so that an
// array of a million elements is never decoded whole.
type jsonStream struct {
	data []byte
	dec  *json.Decoder
}

func jsonDecoder(data []byte) *jsonStream {
	return &jsonStream{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
}

func (s *jsonStream) offset() int64 { return s.dec.InputOffset() }

// nextValue returns the offset where the next value starts and its bytes.
// At the top level (inArray false) an array is entered instead: raw is nil
// and the following calls with inArray true return its elements, then
// io.EOF at its end. At the end of the stream it returns io.EOF.
func (s *jsonStream) nextValue(inArray bool) (int64, []byte, error) {
	if inArray {
		if !s.dec.More() {
			_, err := s.dec.Token() // the closing ']'
			if err == io.EOF {
				err = io.ErrUnexpectedEOF // "[{}" is cut short, not an end
			}
			if err != nil {
				return s.offset(), nil, err
			}
			return s.offset(), nil, io.EOF
		}
		start, raw, err := s.decode()
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // "[{}," is cut short too
		}
		return start, raw, err
	}
	if !s.dec.More() {
		// More is false at the end of input and before a stray ']' or '}'.
		if _, err := s.dec.Token(); err != nil {
			return s.offset(), nil, err
		}
		return s.offset(), nil, errors.New("unexpected closing bracket")
	}
	start := s.skipSpace(s.offset())
	if start < int64(len(s.data)) && s.data[start] == '[' {
		if _, err := s.dec.Token(); err != nil {
			return start, nil, err
		}
		return start, nil, nil
	}
	return s.decode()
}

func (s *jsonStream) decode() (int64, []byte, error) {
	var raw json.RawMessage
	before := s.offset()
	if err := s.dec.Decode(&raw); err != nil {
		return before, nil, err
	}
	return s.skipSpace(before), raw, nil
}

// skipSpace skips blanks and the commas between array elements.
func (s *jsonStream) skipSpace(i int64) int64 {
	for i < int64(len(s.data)) && (isJSONSpace(s.data[i]) || s.data[i] == ',') {
		i++
	}
	return i
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// jsonItem is one item of a JSON list: its offset in the list and bytes.
type jsonItem struct {
	offset int64
	raw    []byte
}

// jsonListItems returns the items of a JSON list (an object with a string
// apiVersion, a kind ending in "List" and an array of items), so that each
// is parsed on its own and a list is bounded by the file, not the document
// size. It returns no items for anything else, empty lists, and lists with
// a repeated key, which are left to be parsed whole (and reported) as one
// document.
func jsonListItems(obj []byte) (list listInfo, items []jsonItem) {
	if !bytes.Contains(obj, []byte(`"items"`)) {
		return list, nil
	}
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return listInfo{}, nil
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		key, isKey := t.(string)
		if err != nil || !isKey || seen[key] {
			return listInfo{}, nil
		}
		seen[key] = true
		switch key {
		case "apiVersion", "kind":
			var v string
			if dec.Decode(&v) != nil {
				return listInfo{}, nil // not a string: the whole object says why
			}
			if key == "kind" {
				list.kind = v
			} else {
				list.apiVersion = v
			}
		case "metadata":
			var md struct {
				Continue           string          `json:"continue"`
				RemainingItemCount json.RawMessage `json:"remainingItemCount"`
			}
			if dec.Decode(&md) != nil {
				return listInfo{}, nil
			}
			remaining := string(md.RemainingItemCount)
			if remaining == "null" {
				remaining = ""
			}
			list.partial = partialList(md.Continue, remaining)
		case "items":
			s := &jsonStream{data: obj, dec: dec}
			start := dec.InputOffset()
			for start < int64(len(obj)) && (isJSONSpace(obj[start]) || obj[start] == ':') {
				start++
			}
			if start >= int64(len(obj)) || obj[start] != '[' {
				return listInfo{}, nil
			}
			if _, err := dec.Token(); err != nil {
				return listInfo{}, nil
			}
			for dec.More() {
				start, raw, err := s.decode()
				if err != nil {
					return listInfo{}, nil
				}
				items = append(items, jsonItem{offset: start, raw: raw})
			}
			if _, err := dec.Token(); err != nil {
				return listInfo{}, nil
			}
		default:
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return listInfo{}, nil
			}
		}
	}
	if list.apiVersion == "" || !strings.HasSuffix(list.kind, "List") {
		return listInfo{}, nil
	}
	return list, items
}
