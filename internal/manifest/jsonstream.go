package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
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
			if _, err := s.dec.Token(); err != nil { // the closing ']'
				return s.offset(), nil, err
			}
			return s.offset(), nil, io.EOF
		}
		return s.decode()
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
