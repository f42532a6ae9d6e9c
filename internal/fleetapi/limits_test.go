package fleetapi

import (
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
