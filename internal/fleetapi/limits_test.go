package fleetapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
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
