package manifest

import (
	"bytes"
	"encoding/json"
)

// jsonStream yields the top-level values of a JSON stream with their offsets.
type jsonStream struct {
	data []byte
	dec  *json.Decoder
}

func jsonDecoder(data []byte) *jsonStream {
	return &jsonStream{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
}

func (s *jsonStream) offset() int64 { return s.dec.InputOffset() }

// next returns the offset where the next value starts and its bytes.
func (s *jsonStream) next() (int64, []byte, error) {
	var raw json.RawMessage
	before := s.dec.InputOffset()
	if err := s.dec.Decode(&raw); err != nil {
		return before, nil, err
	}
	end := s.dec.InputOffset()
	start := before
	for start < end && isJSONSpace(s.data[start]) {
		start++
	}
	return start, raw, nil
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
