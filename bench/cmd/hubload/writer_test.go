package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	names := []string{"a_total", "b_seconds_sum"}
	for _, tc := range []struct {
		name, text string
		want       map[string]float64
		err        bool
	}{
		{"samples", "# HELP a_total x\n# TYPE a_total counter\na_total 12\nb_seconds_sum 0.25\nb_seconds_count 3\n", map[string]float64{"a_total": 12, "b_seconds_sum": 0.25}, false},
		{"labelled and other names ignored", "a_total{x=\"1\"} 5\nc_total 9\n", map[string]float64{}, false},
		{"exponent", "a_total 1.5e+06\n", map[string]float64{"a_total": 1.5e6}, false},
		{"garbage value", "a_total twelve\n", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMetrics(strings.NewReader(tc.text), names)
			if (err != nil) != tc.err {
				t.Fatalf("error %v, want error %v", err, tc.err)
			}
			if !tc.err && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// FuzzParseMetrics: any text gives either an error or samples of the
// names asked for only, each a number the text holds after its name.
func FuzzParseMetrics(f *testing.F) {
	f.Add("a_total 12\nb_seconds_sum 0.25\n")
	f.Add("# HELP a_total x\na_total{x=\"1\"} 5\na_total NaN\n")
	f.Add("a_total 1e400\nb_seconds_sum -0\n\n\n")
	names := []string{"a_total", "b_seconds_sum"}
	f.Fuzz(func(t *testing.T, text string) {
		got, err := parseMetrics(strings.NewReader(text), names)
		if err != nil {
			return
		}
		for name := range got {
			if name != names[0] && name != names[1] {
				t.Fatalf("sample %q not asked for", name)
			}
			if !strings.Contains(text, name+" ") {
				t.Fatalf("sample %q not in the text", name)
			}
		}
	})
}
