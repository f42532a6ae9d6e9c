package jsonenc

import (
	"bytes"
	"encoding/json"
	"testing"
)

func reference(t *testing.T, s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// FuzzAppendString checks both forms against encoding/json on any input,
// valid UTF-8 or not.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "\n\r\t\b\f\x00\x1f\x7f", "<>&", "\u2028\u2029", "\xff\xfe bad", "é ✓ 😀", "\xe2\x80", "trailing \xf0\x9f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := reference(t, s, false)
		if got := string(AppendString(nil, s)); got != want {
			t.Errorf("AppendString(%q) = %s, encoding/json gives %s", s, got, want)
		}
		if got := string(AppendString([]byte("x"), []byte(s))); got != "x"+want {
			t.Errorf("AppendString([]byte %q) = %s, want x%s", s, got, want)
		}
		wantHTML := reference(t, s, true)
		if got := string(AppendStringHTML(nil, s)); got != wantHTML {
			t.Errorf("AppendStringHTML(%q) = %s, encoding/json gives %s", s, got, wantHTML)
		}
	})
}

func TestStrings(t *testing.T) {
	for _, tc := range []struct{ in, outside string }{
		{`{"a": [1, "b"]}`, `{: [1, ]}`},
		{`["q\"{", "\\", "x"]`, `[, , ]`},
		{`"\\\""`, ``},
		{`[]`, `[]`},
	} {
		var s Strings
		var got []byte
		for i := range len(tc.in) {
			if !s.Inside(tc.in[i]) {
				got = append(got, tc.in[i])
			}
		}
		if string(got) != tc.outside {
			t.Errorf("outside strings of %s = %q, want %q", tc.in, got, tc.outside)
		}
	}
}

func TestSkipSpace(t *testing.T) {
	for _, tc := range []struct {
		in   string
		i    int
		want int
	}{
		{" \t\r\n{", 0, 4},
		{"{ }", 1, 2},
		{"   ", 1, 3},
		{"x", 0, 0},
		{"", 0, 0},
		{"\v x", 0, 0}, // vertical tab is not JSON white space
	} {
		if got := SkipSpace([]byte(tc.in), tc.i); got != tc.want {
			t.Errorf("SkipSpace(%q, %d) = %d, want %d", tc.in, tc.i, got, tc.want)
		}
	}
}
