package vulnmatch

import (
	"testing"

	"github.com/palisade-sec/palisade/internal/version"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

func intro(v string) vulndb.Event { return vulndb.Event{Introduced: v} }
func fix(v string) vulndb.Event   { return vulndb.Event{Fixed: v} }
func last(v string) vulndb.Event  { return vulndb.Event{LastAffected: v} }
func limit(v string) vulndb.Event { return vulndb.Event{Limit: v} }

// TestEvaluate covers OSV's range semantics with each ecosystem's version
// order: epochs and tildes for Debian, -rN for Alpine, pre-releases for
// PyPI and SemVer, pseudo-versions and toolchain versions for Go.
func TestEvaluate(t *testing.T) {
	tests := []struct {
		name      string
		ecosystem string
		typ       string
		events    []vulndb.Event
		versions  []string
		installed string
		affected  bool
		fixed     string
	}{
		{"debian below fix", "Debian:12", "ECOSYSTEM", []vulndb.Event{intro("0"), fix("3.0.13-1~deb12u1")}, nil, "3.0.11-1~deb12u2", true, "3.0.13-1~deb12u1"},
		{"debian at fix", "Debian:12", "ECOSYSTEM", []vulndb.Event{intro("0"), fix("3.0.13-1~deb12u1")}, nil, "3.0.13-1~deb12u1", false, ""},
		{"debian tilde sorts before", "Debian:12", "ECOSYSTEM", []vulndb.Event{intro("0"), fix("3.0.13-1")}, nil, "3.0.13-1~deb12u1", true, "3.0.13-1"},
		{"debian epoch beats upstream", "Debian", "ECOSYSTEM", []vulndb.Event{intro("0"), fix("1:4.13+dfsg1-1+deb12u1")}, nil, "4.99-1", true, "1:4.13+dfsg1-1+deb12u1"},
		{"debian epoch above fix", "Debian", "ECOSYSTEM", []vulndb.Event{intro("0"), fix("1:4.13+dfsg1-1+deb12u1")}, nil, "1:4.13+dfsg1-2", false, ""},
		{"debian no fix", "Debian", "ECOSYSTEM", []vulndb.Event{intro("0")}, nil, "2.36-9+deb12u9", true, ""},
		{"alpine revision", "Alpine:v3.19", "ECOSYSTEM", []vulndb.Event{intro("0"), fix("3.1.4-r5")}, nil, "3.1.4-r3", true, "3.1.4-r5"},
		{"alpine fixed revision", "Alpine:v3.19", "ECOSYSTEM", []vulndb.Event{intro("0"), fix("3.1.4-r5")}, nil, "3.1.4-r10", false, ""},
		{"pypi below introduced", "PyPI", "ECOSYSTEM", []vulndb.Event{intro("2.3.0"), fix("2.31.0")}, nil, "2.2.1", false, ""},
		{"pypi pre-release of fix", "PyPI", "ECOSYSTEM", []vulndb.Event{intro("2.3.0"), fix("2.31.0")}, nil, "2.31.0rc1", true, "2.31.0"},
		{"pypi normalised equal", "PyPI", "ECOSYSTEM", []vulndb.Event{intro("0"), fix("1.0")}, nil, "1.0.0", false, ""},
		{"go pseudo-version", "Go", "SEMVER", []vulndb.Event{intro("0"), fix("0.0.0-20220906165146-f3363e06e74c")}, nil, "v0.0.0-20220826154423-83b083e8dc8b", true, "0.0.0-20220906165146-f3363e06e74c"},
		{"go v prefix", "Go", "SEMVER", []vulndb.Event{intro("0"), fix("0.3.7")}, nil, "v0.3.5", true, "0.3.7"},
		{"go toolchain second interval", "Go", "SEMVER", []vulndb.Event{intro("0"), fix("1.19.8"), intro("1.20.0-0"), fix("1.20.3")}, nil, "go1.20.1", true, "1.20.3"},
		{"go toolchain first interval", "Go", "SEMVER", []vulndb.Event{intro("0"), fix("1.19.8"), intro("1.20.0-0"), fix("1.20.3")}, nil, "go1.19.7", true, "1.19.8"},
		{"go toolchain between", "Go", "SEMVER", []vulndb.Event{intro("0"), fix("1.19.8"), intro("1.20.0-0"), fix("1.20.3")}, nil, "go1.19.9", false, ""},
		{"go rc in interval", "Go", "SEMVER", []vulndb.Event{intro("0"), fix("1.19.8"), intro("1.20.0-0"), fix("1.20.3")}, nil, "go1.20rc1", true, "1.20.3"},
		{"unsorted events", "npm", "SEMVER", []vulndb.Event{fix("2.0.0"), intro("1.5.0"), fix("1.2.0"), intro("1.0.0")}, nil, "1.6.0", true, "2.0.0"},
		{"unsorted events, gap", "npm", "SEMVER", []vulndb.Event{fix("2.0.0"), intro("1.5.0"), fix("1.2.0"), intro("1.0.0")}, nil, "1.3.0", false, ""},
		{"last_affected inclusive", "npm", "SEMVER", []vulndb.Event{intro("1.0.0"), last("1.4.2")}, nil, "1.4.2", true, ""},
		{"last_affected above", "npm", "SEMVER", []vulndb.Event{intro("1.0.0"), last("1.4.2")}, nil, "1.4.3", false, ""},
		{"limit cuts the range", "npm", "SEMVER", []vulndb.Event{intro("0"), limit("2.0.0")}, nil, "2.1.0", false, ""},
		{"below limit", "npm", "SEMVER", []vulndb.Event{intro("0"), limit("2.0.0")}, nil, "1.9.0", true, ""},
		{"maven qualifiers", "Maven", "ECOSYSTEM", []vulndb.Event{intro("2.0-beta9"), fix("2.15.0")}, nil, "2.14.1", true, "2.15.0"},
		{"maven milestone before release", "Maven", "ECOSYSTEM", []vulndb.Event{intro("0"), fix("2.15.0")}, nil, "2.15.0-rc1", true, "2.15.0"},
		{"versions list only", "PyPI", "GIT", nil, []string{"4.0", "4.1"}, "4.1", true, ""},
		{"versions list miss", "PyPI", "GIT", nil, []string{"4.0", "4.1"}, "4.2", false, ""},
		{"semver range in PyPI record", "PyPI", "SEMVER", []vulndb.Event{intro("0"), fix("1.2.3")}, nil, "1.2.0", true, "1.2.3"},
		{"rpm epoch", "Red Hat", "ECOSYSTEM", []vulndb.Event{intro("0"), fix("1:3.0.7-27.el9")}, nil, "1:3.0.7-25.el9", true, "1:3.0.7-27.el9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmp, err := version.For(tt.ecosystem)
			if err != nil {
				t.Fatal(err)
			}
			a := &vulndb.Affected{Package: vulndb.Package{Ecosystem: tt.ecosystem, Name: "p"}, Versions: tt.versions}
			if tt.events != nil {
				a.Ranges = []vulndb.Range{{Type: tt.typ, Events: tt.events}}
			}
			affected, fixed, err := evaluate(a, tt.ecosystem, tt.installed, cmp)
			if err != nil {
				t.Fatalf("evaluate: %v", err)
			}
			if affected != tt.affected || fixed != tt.fixed {
				t.Errorf("evaluate(%s) = %v, %q; want %v, %q", tt.installed, affected, fixed, tt.affected, tt.fixed)
			}
		})
	}
}

func TestEvaluateBadVersions(t *testing.T) {
	cmp, _ := version.For("Go")
	a := &vulndb.Affected{Ranges: []vulndb.Range{{Type: "SEMVER", Events: []vulndb.Event{intro("0"), fix("not a version"), fix("1.0.0")}}}}
	affected, fixed, err := evaluate(a, "Go", "0.9.0", cmp)
	if !affected || fixed != "1.0.0" || err == nil {
		t.Errorf("bad event: %v %q %v; want affected, fixed 1.0.0 and an error naming the event", affected, fixed, err)
	}
	if affected, _, err := evaluate(a, "Go", "garbage", cmp); affected || err == nil {
		t.Errorf("bad installed version: affected %v, err %v", affected, err)
	}
}

func TestSameRelease(t *testing.T) {
	for _, tt := range []struct {
		record, pkg string
		want        bool
	}{
		{"12", "12", true},
		{"11", "12", false},
		{"", "12", true},
		{"12", "", true},
		{"12", "12.5", true},
		{"v3.20", "v3.20", true},
		{"v3.20", "3.20", true},
		{"v3.19", "v3.20", false},
		{"22.04:LTS", "22.04", true},
		{"Pro:18.04:LTS", "18.04", false},
		{"Pro:18.04:LTS", "Pro:18.04", true},
		{"20.04:LTS", "22.04", false},
		{"enterprise_linux:9::appstream", "9", true},
		{"enterprise_linux:8::appstream", "9", false},
	} {
		if got := sameRelease(tt.record, tt.pkg); got != tt.want {
			t.Errorf("sameRelease(%q, %q) = %v, want %v", tt.record, tt.pkg, got, tt.want)
		}
	}
}
