package vulnmatch

import "testing"

// TestInRedHatStreams: a record's stream applies to an image whose
// content sets map to a stream it names, compared as CPE names: empty
// fields of the record match anything, a major version its minor
// releases; another product (EUS against standard), version or channel
// does not apply.
func TestInRedHatStreams(t *testing.T) {
	std8 := []string{"enterprise_linux:8::appstream", "enterprise_linux:8::baseos"}
	eus86 := []string{"rhel_eus:8.6::appstream", "rhel_eus:8.6::baseos"}
	rhel10 := []string{"enterprise_linux:10.0"}
	for _, tc := range []struct {
		record  string
		streams []string
		want    bool
	}{
		{"enterprise_linux:8::appstream", std8, true},
		{"enterprise_linux:8::baseos", std8, true},
		{"enterprise_linux:8", std8, true}, // VEX names RHEL 8 as a whole
		{"", std8, true},
		{"enterprise_linux:8::crb", std8, false},
		{"enterprise_linux:9::appstream", std8, false},
		{"rhel_eus:8.6::baseos", std8, false},
		{"rhel_eus:8.6::baseos", eus86, true},
		{"rhel_eus:8.8::baseos", eus86, false},
		{"enterprise_linux:8::baseos", eus86, false},
		{"enterprise_linux:10", rhel10, true},
		{"enterprise_linux:10.0", rhel10, true},
		{"enterprise_linux:10.1", rhel10, false},
		{"Enterprise_Linux:8::BaseOS", std8, true},
	} {
		if got := inRedHatStreams(tc.record, tc.streams); got != tc.want {
			t.Errorf("%q in %q: %v, want %v", tc.record, tc.streams, got, tc.want)
		}
	}
}
