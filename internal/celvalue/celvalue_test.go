package celvalue

import (
	"reflect"
	"testing"
)

func TestDecodeObject(t *testing.T) {
	got, err := DecodeObject([]byte(`{"a":1,"b":1.5,"c":[2,{"d":-3}],"e":"x","f":true,"g":null,"h":1e3,"i":12345678901234567890}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": int64(1), "b": 1.5, "c": []any{int64(2), map[string]any{"d": int64(-3)}}, "e": "x", "f": true, "g": nil,
		"h": float64(1000), "i": 12345678901234567890.0}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v\nwant %#v", got, want)
	}
	for _, bad := range []string{`[1]`, `null`, `{`, `"s"`} {
		if _, err := DecodeObject([]byte(bad)); err == nil {
			t.Errorf("DecodeObject(%s) succeeded", bad)
		}
	}
}
