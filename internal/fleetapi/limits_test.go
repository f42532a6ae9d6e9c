package fleetapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestItemLimitReader(t *testing.T) {
	for _, tc := range []struct {
		json  string
		items int // counted
	}{
		{`{}`, 1},
		{`[]`, 0},
		{`[1,2,3]`, 3},
		{`{"a":[{},{}],"b":"[{,,,}]"}`, 5},
		{`{"s":"\"[{,"}`, 1},
		{`[ [ ] , [ 1 ] ]`, 3},
		{`{"findings":[{},{},{}]}`, 7},
	} {
		for _, max := range []int{tc.items, tc.items - 1} {
			_, err := io.ReadAll(&ItemLimitReader{R: strings.NewReader(tc.json), Max: max})
			if tooLarge := errors.Is(err, ErrTooLarge); tooLarge != (max < tc.items) {
				t.Errorf("%s with max %d: error %v, want too large: %v", tc.json, max, err, max < tc.items)
			}
		}
	}
}

// FuzzItemLimitReader: whatever the bytes, the reader passes them through
// unchanged under a high limit, and never lets a valid JSON value with
// more items than the limit through a decoder.
func FuzzItemLimitReader(f *testing.F) {
	for _, s := range []string{`{}`, `[{},{}]`, `{"a":"\\\"[{"}`, `[[[[]]]]`, `{"findings":[{},{},{}]}`, `"unterminated`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := io.ReadAll(&ItemLimitReader{R: bytes.NewReader(data), Max: len(data) + 1})
		if err != nil && !strings.Contains(err.Error(), "nested") {
			t.Fatalf("error under a limit above the byte count: %v", err)
		}
		if err == nil && !bytes.Equal(out, data) {
			t.Fatal("bytes changed")
		}
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		n := items(v)
		err = json.NewDecoder(&ItemLimitReader{R: bytes.NewReader(data), Max: n - 1}).Decode(&v)
		if n > 0 && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%d items passed a limit of %d: %v", n, n-1, err)
		}
	})
}

// items counts objects and array elements as ItemLimitReader does.
func items(v any) int {
	switch v := v.(type) {
	case map[string]any:
		n := 1
		for _, e := range v {
			n += items(e)
		}
		return n
	case []any:
		n := len(v)
		for _, e := range v {
			n += items(e)
		}
		return n
	}
	return 0
}

// refItems is the byte-at-a-time count ItemLimitReader made before it
// skipped string contents with IndexByte: the two must agree on every
// input, however the input is split across reads.
func refItems(data []byte) (items, depth int) {
	var inString, escaped, awaiting bool
	var stack []bool
	for _, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			continue
		}
		if awaiting && c != ']' {
			items++
		}
		awaiting = false
		switch c {
		case '"':
			inString = true
		case '{', '[':
			if c == '{' {
				items++
			}
			stack = append(stack, c == '[')
			awaiting = c == '['
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ',':
			awaiting = len(stack) > 0 && stack[len(stack)-1]
		}
	}
	return items, len(stack)
}

// FuzzItemLimitReaderSplits: the count is the byte-at-a-time one whether
// the JSON arrives in one read, byte by byte, or in halves.
func FuzzItemLimitReaderSplits(f *testing.F) {
	for _, s := range []string{`{"a":"x\\"y","b":["\\\\",{}]}`, `["\"", "\\", "a\"b\\\\c"]`, `{"s":"` + strings.Repeat("x", 5000) + `\"[{"}`, `"\`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.Count(data, []byte("[")) > maxDepth/2 {
			return
		}
		want, depth := refItems(data)
		for name, r := range map[string]func() io.Reader{
			"whole":    func() io.Reader { return bytes.NewReader(data) },
			"one byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) },
			"halves":   func() io.Reader { return iotest.HalfReader(bytes.NewReader(data)) },
		} {
			l := &ItemLimitReader{R: r(), Max: len(data) + 1}
			if _, err := io.ReadAll(l); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if l.items != want || len(l.stack) != depth {
				t.Fatalf("%s: %d items at depth %d, want %d at %d", name, l.items, len(l.stack), want, depth)
			}
		}
	})
}

func TestItemLimitReaderStrings(t *testing.T) {
	for _, tc := range []struct {
		json  string
		items int
	}{
		{`["a\"]{[", {}]`, 3},
		{`["\\", {}]`, 3},
		{`["\\\"[{", {}]`, 3},
		{`{"m":"` + strings.Repeat(`x\"`, 3000) + `","o":{}}`, 2},
	} {
		for name, r := range map[string]io.Reader{"whole": strings.NewReader(tc.json), "one byte": iotest.OneByteReader(strings.NewReader(tc.json))} {
			l := &ItemLimitReader{R: r, Max: 1000}
			if _, err := io.ReadAll(l); err != nil || l.items != tc.items {
				t.Errorf("%s (%s): %d items, %v; want %d", tc.json[:min(20, len(tc.json))], name, l.items, err, tc.items)
			}
		}
	}
}
