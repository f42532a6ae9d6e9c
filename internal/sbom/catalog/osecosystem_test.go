package catalog

import (
	"testing"

	"github.com/palisade-sec/palisade/internal/sbom"
)

// TestOSEcosystems: each distribution's packages carry the ecosystem its
// advisories are published under, with the release that qualifies them.
func TestOSEcosystems(t *testing.T) {
	tests := []struct {
		os   sbom.OS
		apk  bool
		want string
	}{
		{sbom.OS{ID: "wolfi", VersionID: "20230201"}, true, "Wolfi"},
		{sbom.OS{ID: "chainguard", VersionID: "20230214"}, true, "Chainguard"},
		{sbom.OS{ID: "alpine", VersionID: "3.20.3"}, true, "Alpine:v3.20"},
		{sbom.OS{ID: "ol", VersionID: "9.4"}, false, "Oracle Linux:9"},
		{sbom.OS{ID: "photon", VersionID: "5.0"}, false, "Photon OS:5.0"},
		{sbom.OS{ID: "amzn", VersionID: "2023"}, false, "Amazon Linux:2023"},
		{sbom.OS{ID: "amzn", VersionID: "2"}, false, "Amazon Linux:2"},
		{sbom.OS{ID: "rocky", VersionID: "9.3"}, false, "Rocky Linux:9"},
		{sbom.OS{ID: "almalinux", VersionID: "8.10"}, false, "AlmaLinux:8"},
		{sbom.OS{ID: "fedora", VersionID: "40"}, false, "Fedora:40"},
		{sbom.OS{ID: "azurelinux", VersionID: "3.0"}, false, "Mariner:3.0"},
		{sbom.OS{ID: "rhel", VersionID: "9.4"}, false, "Red Hat"},
	}
	for _, tt := range tests {
		var got string
		if tt.apk {
			got, _, _ = apkEcosystem(&tt.os)
		} else {
			got, _, _ = rpmEcosystem(&tt.os)
		}
		if got != tt.want {
			t.Errorf("%s %s: ecosystem %q, want %q", tt.os.ID, tt.os.VersionID, got, tt.want)
		}
	}
}
