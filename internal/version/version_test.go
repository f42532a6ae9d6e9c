package version

import (
	"errors"
	"testing"
)

func TestEcosystem(t *testing.T) {
	for in, want := range map[string]string{"Debian:12": "Debian", "Alpine:v3.18": "Alpine", "PyPI": "PyPI", "Red Hat:enterprise_linux:9::appstream": "Red Hat"} {
		if got := Ecosystem(in); got != want {
			t.Errorf("Ecosystem(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFor(t *testing.T) {
	for _, tc := range []struct {
		eco, a, b string
		want      int
	}{
		{"Debian:12", "1:2.0-1", "2.0-1", 1},
		{"Ubuntu:22.04:LTS", "1.0~rc1-1ubuntu1", "1.0-1", -1},
		{"Alpine:v3.18", "1.2.3-r1", "1.2.3_rc1-r5", 1},
		{"Red Hat", "0:1.0-1.el9", "1.0-2.el9", -1},
		{"AlmaLinux:9", "1.0^git1-1", "1.0-1", 1},
		{"Rocky Linux:8", "2:1-1", "1:9-9", 1},
		{"SUSE:Linux Enterprise Server 15", "1.1-150400.1", "1.1-150300.9", 1},
		{"openSUSE:Leap 15.5", "1.0~beta-1", "1.0-1", -1},
		{"Go", "v1.2.4-0.20210101000000-abcdef123456", "1.2.4", -1},
		{"Go", "go1.21rc1", "1.21.0", -1},
		{"Go", "0", "0.0.1", -1},
		{"npm", "v1.2.3", "1.2.3", 0},
		{"npm", "0", "0.0.0-0", -1},
		{"crates.io", "1.0.0-alpha", "1.0.0", -1},
		{"crates.io", "0", "0", 0},
		{"crates.io", "1.0.0", "0", 1},
		{"PyPI", "1.0.post1", "1.0", 1},
		{"Maven", "1.0-SNAPSHOT", "1.0", -1},
		{"OpenSSL", "1.1.1w", "3.0.13", -1},
		{"CPython", "3.12.0rc1", "3.12.0", -1},
		{"Node.js", "20.9.0", "20.11.1", -1},
		{"OpenJDK", "17.0.9+9", "17.0.10", -1},
		{"ConanCenter", "1.2.13", "1.3.1", -1},
		{"RubyGems", "1.0.a", "1.0", -1},
		{"RubyGems", "0", "0.0.1.a", -1},
		{"NuGet", "1.0", "1.0.0.0", 0},
		{"NuGet", "0", "0.0.0-alpha", -1},
		{"Packagist", "v1.0.0-RC1", "1.0.0", -1},
		{"Packagist", "0", "0.0.0-dev", -1},
		{"Pub", "1.0.0", "1.0.0+1", -1},
		{"Pub", "0", "0.0.0-dev", -1},
		{"SwiftURL", "v1.2.3", "1.2.3", 0},
		{"SwiftURL", "0", "0.0.1", -1},
		{"Hex", "1.0.0-rc.1", "1.0.0", -1},
		{"Hex", "0", "0.1.0", -1},
	} {
		c, err := For(tc.eco)
		if err != nil {
			t.Fatalf("For(%q): %v", tc.eco, err)
		}
		got, err := c.Compare(tc.a, tc.b)
		if err != nil || got != tc.want {
			t.Errorf("%s: Compare(%q, %q) = %d, %v; want %d", tc.eco, tc.a, tc.b, got, err, tc.want)
		}
	}
}

func TestForErrors(t *testing.T) {
	if _, err := For("Hackage"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("For(Hackage) error = %v", err)
	}
	c, _ := For("crates.io")
	if _, err := c.Compare("1.0", "1.0.0"); err == nil {
		t.Error("crates.io accepted 1.0")
	}
	if _, err := c.Compare("1.0.0", "x"); err == nil {
		t.Error("crates.io accepted x")
	}
	d, _ := For("debian")
	if _, err := d.Compare("foo", "1.0"); err == nil {
		t.Error("Debian accepted foo")
	}
}
