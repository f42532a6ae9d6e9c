package sbom

import "testing"

func TestPURL(t *testing.T) {
	tests := []struct {
		typ, ns, name, version string
		q                      []Qualifier
		want                   string
	}{
		{"deb", "debian", "libc6", "2.36-9+deb12u7", []Qualifier{{"distro", "debian-12"}, {"arch", "amd64"}},
			"pkg:deb/debian/libc6@2.36-9%2Bdeb12u7?arch=amd64&distro=debian-12"},
		{"npm", "@babel", "core", "7.24.0", nil, "pkg:npm/%40babel/core@7.24.0"},
		{"golang", "github.com/google", "uuid", "v1.6.0", nil, "pkg:golang/github.com/google/uuid@v1.6.0"},
		{"rpm", "redhat", "bash", "5.1.8-6.el9", []Qualifier{{"epoch", "1"}, {"arch", ""}},
			"pkg:rpm/redhat/bash@5.1.8-6.el9?epoch=1"},
		{"pypi", "", "requests", "2.31.0", nil, "pkg:pypi/requests@2.31.0"},
		{"maven", "org.apache.commons", "commons-lang3", "3.14.0", nil, "pkg:maven/org.apache.commons/commons-lang3@3.14.0"},
		{"deb", "debian", "tzdata", "2024a-0+deb12u1", []Qualifier{{"distro", "debian 12"}}, "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?distro=debian%2012"},
		{"generic", "", "no-version", "", nil, "pkg:generic/no-version"},
	}
	for _, tt := range tests {
		if got := PURL(tt.typ, tt.ns, tt.name, tt.version, tt.q...); got != tt.want {
			t.Errorf("PURL(%q,%q,%q,%q) = %q, want %q", tt.typ, tt.ns, tt.name, tt.version, got, tt.want)
		}
	}
}
