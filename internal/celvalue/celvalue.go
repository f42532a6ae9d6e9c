// Package celvalue decodes JSON objects into the values CEL expressions
// see, as Kubernetes' own CEL does: maps, lists, strings, bools, int64 for
// whole numbers and float64 otherwise. Custom rules (over objects) and
// custom audit detections (over events) share it, so a number compares the
// same way in both.
package celvalue

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// DecodeObject decodes a JSON object.
func DecodeObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if v == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	return numbers(v).(map[string]any), nil
}

// numbers turns json.Number into int64 when whole, else float64, in place.
func numbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = numbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = numbers(e)
		}
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	}
	return v
}
