package vulndb

import "testing"

func TestMetadataHasEcosystem(t *testing.T) {
	m := Metadata{Ecosystems: map[string]int{"Debian": 3, "Rocky Linux": 1, "crates.io": 2, "Wolfi": 0}}
	tests := []struct {
		ecosystem string
		want      bool
	}{
		{"Debian:12", true},
		{"debian", true},
		{"Rocky Linux:9", true},
		{"crates.io", true},
		{"Alpine:v3.20", false},
		{"Wolfi", false}, // counted zero: no records
		{"Go", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := m.HasEcosystem(tt.ecosystem); got != tt.want {
			t.Errorf("HasEcosystem(%q) = %v, want %v", tt.ecosystem, got, tt.want)
		}
	}
}
