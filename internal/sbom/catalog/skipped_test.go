package catalog

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"
)

// TestSkippedEntriesAreSaid: an entry of an OS package database that the
// parser leaves out (no version, a version dpkg cannot parse, no name) is
// returned as a warning naming the file, the line and the package, never
// dropped in silence, and the database's other packages stand. Entries of
// packages whose files are gone (not-installed, config-files) hide
// nothing and are not reported.
func TestSkippedEntriesAreSaid(t *testing.T) {
	const debOS = "ID=debian\nVERSION_ID=12\n"
	const alpineOS = "ID=alpine\nVERSION_ID=3.20.3\n"
	installed := func(name, version string) string {
		s := "Package: " + name + "\nStatus: install ok installed\nArchitecture: amd64\n"
		if version != "" {
			s += "Version: " + version + "\n"
		}
		return s
	}
	for _, tc := range []struct {
		name      string
		files     map[string]string
		wantPkgs  []string
		wantWarns []string // substrings, one warning each
	}{
		{
			name: "apk entry without version",
			files: map[string]string{"etc/os-release": alpineOS,
				"lib/apk/db/installed": "P:musl\nV:1.2.5-r0\nA:x86_64\n\nP:openssl\nA:x86_64\no:openssl\n\nP:zlib\nV:1.3.1-r1\n"},
			wantPkgs:  []string{"musl", "zlib"},
			wantWarns: []string{`lib/apk/db/installed: stanza at line 5: package "openssl" without name or version: not catalogued`},
		},
		{
			name: "apk entry without name",
			files: map[string]string{"etc/os-release": alpineOS,
				"lib/apk/db/installed": "V:3.0.15-r0\nA:x86_64\n\nP:zlib\nV:1.3.1-r1\n"},
			wantPkgs:  []string{"zlib"},
			wantWarns: []string{`lib/apk/db/installed: stanza at line 1: package "" without name or version`},
		},
		{
			name: "dpkg stanza without version",
			files: map[string]string{"etc/os-release": debOS,
				"var/lib/dpkg/status": installed("zlib1g", "1:1.2.13.dfsg-1") + "\n" + installed("libc6", "")},
			wantPkgs:  []string{"zlib1g"},
			wantWarns: []string{"var/lib/dpkg/status: stanza at line 6: package libc6: no Version: not catalogued"},
		},
		{
			name: "dpkg version that does not parse",
			files: map[string]string{"etc/os-release": debOS,
				"var/lib/dpkg/status": installed("libc6", "a:2.36-9") + "\n" + installed("zlib1g", "1:1.2.13.dfsg-1")},
			wantPkgs:  []string{"zlib1g"},
			wantWarns: []string{"var/lib/dpkg/status: stanza at line 1: package libc6: ", "not catalogued"},
		},
		{
			name: "distroless status.d entry without version",
			files: map[string]string{"etc/os-release": debOS,
				"var/lib/dpkg/status.d/libssl3": "Package: libssl3\nArchitecture: amd64\n",
				"var/lib/dpkg/status.d/base":    "Package: base-files\nVersion: 12.4+deb12u5\n"},
			wantPkgs:  []string{"base-files"},
			wantWarns: []string{"var/lib/dpkg/status.d/libssl3: stanza at line 1: package libssl3: no Version"},
		},
		{
			name: "removed and purged packages hide nothing",
			files: map[string]string{"etc/os-release": debOS,
				"var/lib/dpkg/status": "Package: old\nStatus: purge ok not-installed\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: x:y\n\n" + installed("zlib1g", "1:1.2.13.dfsg-1")},
			wantPkgs: []string{"zlib1g"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for p, body := range tc.files {
				fsys[p] = &fstest.MapFile{Data: []byte(body), Mode: 0o644}
			}
			res, err := Default().Run(context.Background(), fsys)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range res.Packages {
				names = append(names, p.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.wantPkgs, ",") {
				t.Errorf("packages %v, want %v", names, tc.wantPkgs)
			}
			var warns []string
			for _, w := range res.Warnings {
				warns = append(warns, w.Error())
			}
			if len(warns) != min(len(tc.wantWarns), 1) {
				t.Fatalf("warnings %q, want one with %q", warns, tc.wantWarns)
			}
			for _, want := range tc.wantWarns {
				if !strings.Contains(warns[0], want) {
					t.Errorf("warning %q, want %q in it", warns[0], want)
				}
			}
		})
	}
}
